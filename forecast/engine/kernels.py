"""Compiled (numba) exact passes for the PyMC model and for draw-by-draw summaries.

The same contraction plan as :mod:`forecast.engine.forward`, lowered to index arrays. Each
contraction of a month's update takes every entry ``r`` of the joint tensor before it, finds
its row of the node's table (``row[r]``, from the parent and old states it holds) and where its
mass lands (``base[r] + new * stride``), and spreads it over the node's new states::

    out[base[r] + k * stride] += joint[r] * table[row[r], k]

Entries of the joint that cannot hold mass (ruled out by evidence or absorbing states) are
never stored: the entries that can are numbered as *slots*, one flat vector per pass, and the
work is a list of (input slot, table cell, output slot) pairs
(:class:`~forecast.engine.slots.EntryPairs`, built in numpy). Dropping
the other entries is exact for the forward pass and for its reverse (the gradient): an entry
is zero only when every non-zero entry feeding it meets a zero table cell, and cells that come
from a rule are positive for interior parameters, so the adjoint that would flow through a
zero entry reaches only fixed cells, whose gradient is discarded. Tables are built from the
rules' N-month outcome vectors inside the kernel too, so one call maps parameters to the
log-likelihood and its gradient. Everything is compiled once per machine (``cache=True``).

The smoothing passes (:mod:`forecast.engine.smoothing`) can replace tables in some months
(interventions): each draw's table is copied into a few variants, ``table * keep + put``, and
each month's transition uses the variant ``month_variant[t]`` (0, the plain table, by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from forecast.engine.compile_cache import cached
from forecast.engine.plan import StepPlan
from forecast.engine.tables import NodeTable

if TYPE_CHECKING:
    from forecast.engine.slots import EntryPairs


@dataclass(frozen=True)
class LoweredPlan:
    """A scenario's month update and tables as flat arrays for the kernels.

    Attributes
    ----------
    row, base : ndarray of int64
        Per contraction and input entry (concatenated, see ``entry_start``): the table row the
        entry uses and the output index of its first new state.
    entry_start : ndarray of int64
        Offsets of each contraction's entries (length contractions + 1).
    stride, k_new, op_node : ndarray of int64
        Per contraction: output stride of the new state, number of new states, node.
    out_size : ndarray of int64
        Per contraction: size of its output.
    table_start : ndarray of int64
        Offset of each node's table in the flat table vector (length nodes + 1).
    fixed : ndarray
        The flat table vector's entries that need no parameter.
    rule_* : ndarray
        Rule layout: parameter offsets, months, node, the cells each rule fills (flat row
        start and old state) and its destination states.
    n_joint : int
        Number of joint states (of the nodes that are not folded, see
        :func:`forecast.engine.plan.make_plan`).
    state_of : ndarray of int64
        ``state_of[n, s]`` is node n's state in joint state s, for the nodes not folded.
    state_start : ndarray of int64
        Offsets of each node's states in a per-node weight row (length nodes + 1).
    """

    row: np.ndarray
    base: np.ndarray
    entry_start: np.ndarray
    stride: np.ndarray
    k_new: np.ndarray
    op_node: np.ndarray
    out_size: np.ndarray
    table_start: np.ndarray
    fixed: np.ndarray
    rule_param_start: np.ndarray
    rule_months: np.ndarray
    rule_cell_start: np.ndarray
    cell_row_start: np.ndarray
    cell_old: np.ndarray
    rule_dest_start: np.ndarray
    dest_state: np.ndarray
    n_joint: int
    state_of: np.ndarray
    state_start: np.ndarray


def _flat(letters: str, coords: dict[str, np.ndarray], sizes: dict[str, int]) -> np.ndarray:
    index = np.zeros_like(next(iter(coords.values())))
    for letter in letters:
        index = index * sizes[letter] + coords[letter]
    return index


def lower_plan(plan: StepPlan, layout: list[NodeTable], n_states: list[int]) -> LoweredPlan:
    """Lower a step plan and table layout to flat arrays."""
    kept = len(plan.axes)
    sizes = {plan.axes[i]: k for i, k in enumerate(n_states[:kept])}
    for op in plan.operations:
        sizes[op.table[-1]] = n_states[op.node]
        if op.folded:
            sizes[op.table[-2]] = n_states[op.node]
    rows, bases, starts, strides, k_new, out_sizes = [], [], [0], [], [], []
    for op in plan.operations:
        grids = np.indices([sizes[c] for c in op.inputs]).reshape(len(op.inputs), -1)
        coords = {c: grids[i] for i, c in enumerate(op.inputs)}
        new = op.table[-1]
        coords[new] = np.zeros(grids.shape[1], dtype=int)
        if op.folded:  # its table ignores the old state: read the first old-state row
            coords[op.table[-2]] = np.zeros(grids.shape[1], dtype=int)
        rows.append(_flat(op.table[:-1], coords, sizes))
        bases.append(_flat(op.output, coords, sizes))
        starts.append(starts[-1] + grids.shape[1])
        if op.folded:  # every new state adds to the same output entry: summed out at once
            strides.append(0)
        else:
            after = op.output[op.output.index(new) + 1 :]
            strides.append(int(np.prod([sizes[c] for c in after])) if after else 1)
        k_new.append(sizes[new])
        out_sizes.append(int(np.prod([sizes[c] for c in op.output])))
    table_sizes = [int(np.prod(t.shape)) for t in layout]
    table_start = np.concatenate([[0], np.cumsum(table_sizes)]).astype(np.int64)
    fixed = np.concatenate([t.fixed.ravel() for t in layout])
    n_rules = max((r for t in layout for r in t.rules), default=-1) + 1
    months = np.zeros(n_rules, dtype=np.int64)
    param_len = np.zeros(n_rules, dtype=np.int64)
    cells: list[list[tuple[int, int]]] = [[] for _ in range(n_rules)]
    dests: list[list[int]] = [[] for _ in range(n_rules)]
    for ni, table in enumerate(layout):
        k = table.fixed.shape[1]
        for j, (r, dest, m) in enumerate(
            zip(table.rules, table.destinations, table.months, strict=True)
        ):
            months[r] = m
            dests[r] = [int(np.argmax(d)) for d in dest]
            param_len[r] = len(dests[r]) + 1
            for cell in np.flatnonzero(table.membership[:, j]):
                # the state the outcome's first entry goes to: the old state (staying), or a
                # memoryless rule's pivot
                first = int(np.argmax(table.stay[cell]))
                cells[r].append((int(table_start[ni] + cell * k), first))
    n_joint = int(np.prod(n_states[:kept]))
    return LoweredPlan(
        row=np.concatenate(rows).astype(np.int64),
        base=np.concatenate(bases).astype(np.int64),
        entry_start=np.array(starts, dtype=np.int64),
        stride=np.array(strides, dtype=np.int64),
        k_new=np.array(k_new, dtype=np.int64),
        op_node=np.array([op.node for op in plan.operations], dtype=np.int64),
        out_size=np.array(out_sizes, dtype=np.int64),
        table_start=table_start,
        fixed=fixed,
        rule_param_start=np.concatenate([[0], np.cumsum(param_len)]).astype(np.int64),
        rule_months=months,
        rule_cell_start=np.concatenate([[0], np.cumsum([len(c) for c in cells])]).astype(np.int64),
        cell_row_start=np.array([c[0] for cs in cells for c in cs], dtype=np.int64),
        cell_old=np.array([c[1] for cs in cells for c in cs], dtype=np.int64),
        rule_dest_start=np.concatenate([[0], np.cumsum([len(d) for d in dests])]).astype(np.int64),
        dest_state=np.array([d for ds in dests for d in ds], dtype=np.int64),
        n_joint=n_joint,
        state_of=np.array(
            np.unravel_index(np.arange(n_joint), n_states[:kept]), dtype=np.int64
        ).reshape(kept, n_joint),
        state_start=np.concatenate([[0], np.cumsum(n_states)]).astype(np.int64),
    )


@dataclass(frozen=True)
class LoweredOverrides:
    """Table overrides as flat arrays for :func:`smooth` and :func:`smooth_draws`.

    Variant ``v`` of a table is ``table * keep[v - 1] + put[v - 1]``; month ``t`` uses variant
    ``month_variant[t]`` (0 is the plain table).
    """

    keep: np.ndarray
    put: np.ndarray
    month_variant: np.ndarray

    def variants(self, table: np.ndarray) -> np.ndarray:
        """The plain table (row 0) and each variant ``table * keep + put`` after it.

        ``table`` is ``(entries, ...)``: one flat table, or one per draw as columns.
        """
        tail = (Ellipsis, *(None,) * (table.ndim - 1))
        out = np.empty((self.keep.shape[0] + 1, *table.shape))
        out[0] = table
        out[1:] = table[None] * self.keep[tail] + self.put[tail]
        return out


def no_overrides(lowered: LoweredPlan, n_months: int) -> LoweredOverrides:
    """Every month uses the plain table."""
    size = lowered.fixed.shape[0]
    return LoweredOverrides(
        np.ones((0, size)), np.zeros((0, size)), np.zeros(n_months, dtype=np.int64)
    )


def lower_overrides(lowered: LoweredPlan, overrides, n_months: int) -> LoweredOverrides:
    """Lower :class:`forecast.engine.exact.TableOverride` objects to table variants.

    Months with the same set of active overrides share a variant.
    """
    size = lowered.fixed.shape[0]
    active: list[tuple[int, ...]] = [() for _ in range(n_months)]
    for k, override in enumerate(overrides):
        for t in override.months:
            active[t] = (*active[t], k)
    variants = sorted({a for a in active if a})
    keep = np.ones((len(variants), size))
    put = np.zeros((len(variants), size))
    for v, members in enumerate(variants):
        for k in members:
            override = overrides[k]
            a, b = lowered.table_start[override.node], lowered.table_start[override.node + 1]
            keep[v, a:b] = 0.0
            put[v, a:b] = np.asarray(override.table, dtype=float).ravel()
    index = {a: v + 1 for v, a in enumerate(variants)}
    month_variant = np.array([index.get(a, 0) for a in active], dtype=np.int64)
    return LoweredOverrides(keep, put, month_variant)


# ----------------------------------------------------------------------------- numba kernels
# The kernels use scalar loops only, no array expressions (slice assignment between arrays,
# reductions such as ``.max()``, ``np.concatenate``): those make numba compile several times
# longer, and compiling is what a first fit on a new machine waits for.


@cached(numba.njit(cache=True, nogil=True))
def max_entry(values):  # pragma: no cover
    """The largest entry of a non-negative integer array (0 when it is empty)."""
    top = 0
    for i in range(values.shape[0]):
        top = max(top, values[i])
    return top


@cached(numba.njit(cache=True, nogil=True, error_model="numpy"))
def _monthly(q0, months):  # pragma: no cover
    """Monthly stay probability, move factor and their derivatives in the N-month stay ``q0``.

    ``p_stay = q0 ** (1 / N)`` and each destination moves with ``q_dest * factor`` where
    ``factor = (1 - p_stay) / (1 - q0)``; at the edges ``q0 -> 0`` and ``q0 -> 1`` (which the
    sampler's transforms can reach in floating point) the limits are used.
    """
    q0 = min(max(q0, 1e-300), 1.0)
    p_stay = q0 ** (1.0 / months)
    dp = p_stay / (months * q0)
    gap = 1.0 - q0
    if gap < 1e-12:
        # limits as q0 -> 1: factor -> 1/N, d factor / d q0 -> (N - 1) / (2 N^2)
        return p_stay, 1.0 / months, dp, (months - 1.0) / (2.0 * months * months)
    factor = (1.0 - p_stay) / gap
    dfactor = (-dp * gap + (1.0 - p_stay)) / (gap * gap)
    return p_stay, factor, dp, dfactor


@cached(numba.njit(cache=True, nogil=True))
def flat_tables(
    params,
    fixed,
    rule_param_start,
    rule_months,
    rule_cell_start,
    cell_row_start,
    cell_old,
    rule_dest_start,
    dest_state,
):  # pragma: no cover
    """The flat table vector of one parameter vector (the rule layout from :func:`rule_args`)."""
    table = np.empty(fixed.shape[0])
    for i in range(fixed.shape[0]):
        table[i] = fixed[i]
    for r in range(rule_months.shape[0]):
        p0 = rule_param_start[r]
        p_stay, factor, _, _ = _monthly(params[p0], rule_months[r])
        for j in range(rule_cell_start[r], rule_cell_start[r + 1]):
            start = cell_row_start[j]
            table[start + cell_old[j]] += p_stay
            for d in range(rule_dest_start[r], rule_dest_start[r + 1]):
                table[start + dest_state[d]] += params[p0 + 1 + d - rule_dest_start[r]] * factor
    return table


@cached(numba.njit(cache=True, nogil=True))
def params_grad(
    params,
    table_grad,
    rule_param_start,
    rule_months,
    rule_cell_start,
    cell_row_start,
    cell_old,
    rule_dest_start,
    dest_state,
):  # pragma: no cover
    """The gradient in the parameter vector, from the gradient in the flat table vector."""
    grad = np.zeros_like(params)
    for r in range(rule_months.shape[0]):
        p0 = rule_param_start[r]
        _, factor, dp, dfactor = _monthly(params[p0], rule_months[r])
        g_stay = 0.0
        n_dest = rule_dest_start[r + 1] - rule_dest_start[r]
        g_dest = np.zeros(n_dest)
        for j in range(rule_cell_start[r], rule_cell_start[r + 1]):
            start = cell_row_start[j]
            g_stay += table_grad[start + cell_old[j]]
            for d in range(n_dest):
                g_dest[d] += table_grad[start + dest_state[rule_dest_start[r] + d]]
        acc = g_stay * dp
        for d in range(n_dest):
            acc += g_dest[d] * params[p0 + 1 + d] * dfactor
            grad[p0 + 1 + d] = g_dest[d] * factor
        grad[p0] = acc
    return grad


@cached(numba.njit(cache=True, nogil=True))
def loglik_and_table_grad(
    table,
    initial,
    pair_start,
    pair_src,
    pair_cell,
    pair_out,
    pair_weight,
    slot_start,
    slot_entry,
    n_ops,
    want_grad,
):  # pragma: no cover
    """Log-likelihood and its gradient in the flat table.

    Runs over the :class:`EntryPairs` of every month's contractions, keeping every slot's
    value for the reverse pass (the gradient), which runs over the same lists backwards.
    """
    n_months = (pair_start.shape[0] - 1) // n_ops
    values = np.zeros(slot_start[-1])
    norms = np.empty(n_months)
    grad = np.zeros_like(table)
    for i in range(slot_start[0], slot_start[1]):
        values[i] = initial[slot_entry[i]]
    for t in range(n_months):
        for j in range(pair_start[t * n_ops], pair_start[(t + 1) * n_ops]):
            values[pair_out[j]] += values[pair_src[j]] * table[pair_cell[j]] * pair_weight[j]
        lo, hi = slot_start[(t + 1) * n_ops], slot_start[(t + 1) * n_ops + 1]
        total = 0.0
        for i in range(lo, hi):
            total += values[i]
        norms[t] = total
        if total <= 0.0:
            return -np.inf, grad
        inverse = 1.0 / total
        for i in range(lo, hi):
            values[i] *= inverse
    loglik = 0.0
    for t in range(n_months):
        loglik += np.log(norms[t])
    if not want_grad:
        return loglik, grad
    # bar: adjoint of every slot; on the joint after month t it first holds the adjoint of
    # the normalised joint (from the months after), turned into that of the unnormalised one.
    # Entries that cannot hold mass pass gradient only to table cells that are zero wherever
    # the joint has mass (fixed cells, which carry no parameter) or that a zero weight
    # multiplies, so only the slots and pairs are visited; see the module docstring.
    bar = np.zeros(slot_start[-1])
    for t in range(n_months - 1, -1, -1):
        lo, hi = slot_start[(t + 1) * n_ops], slot_start[(t + 1) * n_ops + 1]
        inner = 0.0
        for i in range(lo, hi):
            inner += bar[i] * values[i]
        inverse = 1.0 / norms[t]
        for i in range(lo, hi):
            bar[i] = (1.0 + bar[i] - inner) * inverse
        for j in range(pair_start[(t + 1) * n_ops] - 1, pair_start[t * n_ops] - 1, -1):
            b = bar[pair_out[j]] * pair_weight[j]
            cell = pair_cell[j]
            src = pair_src[j]
            bar[src] += b * table[cell]
            grad[cell] += b * values[src]
    return loglik, grad


# ----------------------------------------------------------------------------- Python API


def rule_args(lowered: LoweredPlan) -> tuple:
    """The rule layout arguments of :func:`flat_tables` and :func:`params_grad`, in order."""
    return (
        lowered.rule_param_start,
        lowered.rule_months,
        lowered.rule_cell_start,
        lowered.cell_row_start,
        lowered.cell_old,
        lowered.rule_dest_start,
        lowered.dest_state,
    )


def flat_params(params: list[np.ndarray]) -> np.ndarray:
    """Concatenate the rules' outcome vectors into the kernels' parameter vector."""
    if not params:
        return np.zeros(0)
    return np.concatenate([np.asarray(p, dtype=float).ravel() for p in params])


def loglik_and_grad(
    lowered: LoweredPlan,
    params: list[np.ndarray],
    pairs: EntryPairs,
    initial: np.ndarray,
    want_grad: bool = True,
) -> tuple[float, list[np.ndarray]]:
    """Evidence log-likelihood and its gradient with respect to every rule's outcome vector.

    Parameters
    ----------
    lowered : LoweredPlan
        From :func:`lower_plan`.
    params : list of ndarray
        One N-month outcome vector ``[stay, *destinations]`` per rule.
    pairs : EntryPairs
        The evidence, from :func:`likelihood_pairs`.
    initial : ndarray
        Flat joint distribution just before month 0.
    want_grad : bool
        Skip the reverse pass when False (the gradients are then zeros).
    """
    flat = flat_params(params)
    table = flat_tables(flat, lowered.fixed, *rule_args(lowered))
    loglik, table_grad = loglik_and_table_grad(
        table,
        np.ascontiguousarray(initial, dtype=float),
        pairs.start,
        pairs.src,
        pairs.cell,
        pairs.out,
        pairs.weight,
        pairs.slot_start,
        pairs.slot_entry,
        lowered.out_size.shape[0],
        want_grad,
    )
    if want_grad and np.isfinite(loglik):
        grad = params_grad(flat, table_grad, *rule_args(lowered))
    else:
        grad = np.zeros_like(flat)
    starts = lowered.rule_param_start
    return float(loglik), [grad[starts[r] : starts[r + 1]] for r in range(len(starts) - 1)]


@dataclass(frozen=True)
class QuestionArrays:
    """Questions as arrays for :func:`forecast.engine.smoothing.smooth_draws`."""

    node: np.ndarray
    target: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    reached: np.ndarray
