"""Compiled (numba) forward pass and its exact gradient, for the PyMC model's log-likelihood.

The same contraction plan as :mod:`forecast.engine.forward`, lowered to index arrays: every
contraction ``out = einsum(joint, table)`` becomes, over the union of its axes,
``out[o[u]] += joint[i[u]] * table[k[u]]``. The gradient with respect to every table entry is
the reverse-mode pass of the same loops, so one call returns the log-likelihood and its
gradient. Compiled once per machine (``cache=True``); no per-scenario compilation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from forecast.engine.plan import StepPlan
from forecast.engine.tables import NodeTable


@dataclass(frozen=True)
class LoweredPlan:
    """Index arrays of every contraction of a monthly step, concatenated.

    Attributes
    ----------
    idx_in, idx_table, idx_out : ndarray of int32
        Flat indices into the joint before the contraction, the node's table and the result.
    op_start : ndarray of int64
        Where each contraction's entries start in the index arrays (length ops + 1).
    op_node : ndarray of int64
        The node whose table each contraction uses.
    in_size, out_size : ndarray of int64
        Sizes of each contraction's input and output tensors.
    table_start : ndarray of int64
        Offsets of each node's table in the concatenated table vector (length nodes + 1).
    n_joint : int
        Number of joint states.
    state_of : ndarray of int64
        ``state_of[n, s]`` is node n's state in joint state s.
    """

    idx_in: np.ndarray
    idx_table: np.ndarray
    idx_out: np.ndarray
    op_start: np.ndarray
    op_node: np.ndarray
    in_size: np.ndarray
    out_size: np.ndarray
    table_start: np.ndarray
    n_joint: int
    state_of: np.ndarray


def _flat_index(letters: str, union: str, grids: list[np.ndarray], sizes: dict[str, int]
                ) -> np.ndarray:
    index = np.zeros_like(grids[0])
    for letter in letters:
        index = index * sizes[letter] + grids[union.index(letter)]
    return index.ravel()


def structural_support(table: NodeTable) -> np.ndarray:
    """Entries of a node's flat table that can be non-zero for some parameter value."""
    support = (table.fixed != 0) | (table.stay != 0)
    for r, dest in enumerate(table.destinations):
        support |= (table.membership[:, r:r + 1] != 0) & (dest.sum(axis=0)[None, :] != 0)
    return support.ravel()


def lower_plan(plan: StepPlan, layout: list[NodeTable], n_states: list[int]) -> LoweredPlan:
    """Lower a step plan to flat index arrays.

    Entries whose table value is zero for every parameter (transitions no rule allows) are
    left out, and the rest are sorted by output index so each output is summed in one run.
    """
    sizes = {}
    for i, k in enumerate(n_states):
        sizes[plan.axes[i]] = k
    for op in plan.contractions:
        sizes[op.table[-1]] = n_states[op.node]
    idx_in, idx_table, idx_out, starts = [], [], [], [0]
    in_size, out_size = [], []
    for op in plan.contractions:
        union = "".join(dict.fromkeys(op.inputs + op.table))
        grids = list(np.indices([sizes[c] for c in union]))
        i_in = _flat_index(op.inputs, union, grids, sizes)
        i_tab = _flat_index(op.table, union, grids, sizes)
        i_out = _flat_index(op.output, union, grids, sizes)
        keep = structural_support(layout[op.node])[i_tab]
        order = np.argsort(i_out[keep], kind="stable")
        idx_in.append(i_in[keep][order])
        idx_table.append(i_tab[keep][order])
        idx_out.append(i_out[keep][order])
        starts.append(starts[-1] + idx_in[-1].size)
        in_size.append(int(np.prod([sizes[c] for c in op.inputs])))
        out_size.append(int(np.prod([sizes[c] for c in op.output])))
    table_sizes = [int(np.prod(t.shape)) for t in layout]
    n_joint = int(np.prod(n_states))
    state_of = np.array(np.unravel_index(np.arange(n_joint), n_states), dtype=np.int64)
    return LoweredPlan(
        np.concatenate(idx_in).astype(np.int32), np.concatenate(idx_table).astype(np.int32),
        np.concatenate(idx_out).astype(np.int32), np.array(starts, dtype=np.int64),
        np.array([op.node for op in plan.contractions], dtype=np.int64),
        np.array(in_size, dtype=np.int64), np.array(out_size, dtype=np.int64),
        np.concatenate([[0], np.cumsum(table_sizes)]).astype(np.int64), n_joint, state_of)


def joint_weights(evidence: list[np.ndarray], state_of: np.ndarray) -> np.ndarray:
    """Evidence likelihood of every joint state in every month, ``(months, joint states)``."""
    weights = np.ones((evidence[0].shape[0], state_of.shape[1]))
    for n, matrix in enumerate(evidence):
        weights *= matrix[:, state_of[n]]
    return weights


@numba.njit(cache=True, nogil=True, fastmath=False)
def _loglik_and_grad(table_vec, weights, initial, idx_in, idx_table, idx_out, op_start,
                     op_node, in_size, out_size, table_start, want_grad):  # pragma: no cover
    n_months, n_joint = weights.shape
    n_ops = op_node.shape[0]
    in_offset = np.zeros(n_ops + 1, dtype=np.int64)
    for c in range(n_ops):
        in_offset[c + 1] = in_offset[c] + in_size[c]
    per_month = in_offset[n_ops]
    # inputs of every contraction of every month, kept for the reverse pass
    saved = np.empty(n_months * per_month)
    alphas = np.empty((n_months, n_joint))
    norms = np.empty(n_months)
    max_size = max(in_size.max(), out_size.max())
    buffer = np.empty(max_size)
    # month 0 is one transition away from the initial joint
    for t in range(n_months):
        base_saved = t * per_month
        for s in range(n_joint):
            saved[base_saved + s] = alphas[t - 1, s] if t > 0 else initial[s]
        for c in range(n_ops):
            src = base_saved + in_offset[c]
            base = table_start[op_node[c]]
            last = n_ops - 1 == c
            for o in range(out_size[c]):
                buffer[o] = 0.0
            # entries are sorted by output index: sum each output's run in a register
            u = op_start[c]
            end = op_start[c + 1]
            while u < end:
                o = idx_out[u]
                acc = 0.0
                while u < end and idx_out[u] == o:
                    acc += saved[src + idx_in[u]] * table_vec[base + idx_table[u]]
                    u += 1
                buffer[o] = acc
            if last:
                total = 0.0
                for s in range(n_joint):
                    value = buffer[s] * weights[t, s]
                    alphas[t, s] = value
                    total += value
            else:
                dst = base_saved + in_offset[c + 1]
                for o in range(out_size[c]):
                    saved[dst + o] = buffer[o]
        norms[t] = total
        if total <= 0.0:
            return -np.inf, np.zeros_like(table_vec)
        for s in range(n_joint):
            alphas[t, s] /= total
    loglik = 0.0
    for t in range(n_months):
        loglik += np.log(norms[t])
    grad = np.zeros_like(table_vec)
    if not want_grad:
        return loglik, grad
    alpha_bar = np.zeros(n_joint)
    out_bar = np.empty(max_size)
    in_bar = np.empty(max_size)
    for t in range(n_months - 1, -1, -1):
        inner = 0.0
        for s in range(n_joint):
            inner += alpha_bar[s] * alphas[t, s]
        for s in range(n_joint):
            out_bar[s] = (1.0 + alpha_bar[s] - inner) / norms[t] * weights[t, s]
        base_saved = t * per_month
        for c in range(n_ops - 1, -1, -1):
            src = base_saved + in_offset[c]
            base = table_start[op_node[c]]
            for i in range(in_size[c]):
                in_bar[i] = 0.0
            for u in range(op_start[c], op_start[c + 1]):
                g = out_bar[idx_out[u]]
                k = base + idx_table[u]
                in_bar[idx_in[u]] += g * table_vec[k]
                grad[k] += g * saved[src + idx_in[u]]
            for i in range(in_size[c]):
                out_bar[i] = in_bar[i]
        for s in range(n_joint):
            alpha_bar[s] = out_bar[s]
    return loglik, grad


def loglik_and_grad(lowered: LoweredPlan, tables: list[np.ndarray], weights: np.ndarray,
                    initial: np.ndarray, want_grad: bool = True
                    ) -> tuple[float, list[np.ndarray]]:
    """Evidence log-likelihood and its gradient with respect to every node's table.

    Parameters
    ----------
    lowered : LoweredPlan
        From :func:`lower_plan`.
    tables : list of ndarray
        Each node's table, shaped ``(*parent_sizes, k_old, k_new)``.
    weights : ndarray
        From :func:`joint_weights`.
    initial : ndarray
        Flat joint distribution of month 0 (before evidence).
    want_grad : bool
        Skip the reverse pass when False.
    """
    table_vec = np.concatenate([np.ascontiguousarray(t, dtype=float).ravel() for t in tables])
    loglik, grad = _loglik_and_grad(
        table_vec, np.ascontiguousarray(weights, dtype=float), initial, lowered.idx_in,
        lowered.idx_table, lowered.idx_out, lowered.op_start, lowered.op_node, lowered.in_size,
        lowered.out_size, lowered.table_start, want_grad)
    grads = [grad[lowered.table_start[k]:lowered.table_start[k + 1]].reshape(t.shape)
             for k, t in enumerate(tables)]
    return float(loglik), grads
