"""Forward-backward passes over many parameter draws at once (numba), for a fit's summaries.

A fit needs, for each of its thousands of draws, the question probabilities and the smoothed
monthly marginals: a forward pass, a backward pass and one masked pass per group of "reached"
questions. The draws share the contraction plan, the evidence and which joint entries can hold
mass (the slots of :class:`~forecast.engine.slots.EntryPairs`); only the tables differ. So
the passes run on blocks of draws with the draw as the innermost (contiguous) axis: each pair's
update ``slots[out] += slots[src] * table[cell] * w`` becomes a loop over the block that the
compiler vectorises, instead of one scattered update per draw. Ranges of blocks run in parallel
threads (the compiled code releases the GIL; a ``prange`` would cost many seconds more to
compile). The algorithm is that of :func:`forecast.engine.forward` and is tested equal to it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from forecast.engine import compile_ahead
from forecast.engine.compile_cache import cached
from forecast.engine.kernels import (
    LoweredOverrides,
    LoweredPlan,
    QuestionArrays,
    flat_tables,
    no_overrides,
    rule_args,
)
from forecast.engine.plan import draws_per_block
from forecast.engine.slots import EntryPairs, entry_pairs

BLOCK = 64
"""Draws per block, at most: the draw is the vectorised axis."""


# Scalar loops only, no array expressions: they make numba compile several times longer
# (see :mod:`forecast.engine.kernels`). Offsets of 0 are passed as ``np.int64(0)``: numba
# compiles a separate copy of a function for each literal constant among its arguments.


@cached(numba.njit(cache=True, nogil=True))
def _fill(rows, first, stop, value):  # pragma: no cover
    """Set rows ``first:stop`` of a 2-D array to ``value``."""
    for i in range(first, stop):
        for d in range(rows.shape[1]):
            rows[i, d] = value


@cached(numba.njit(cache=True, nogil=True))
def _copy_rows(source, first, target, to, n):  # pragma: no cover
    """``target[to:to + n] = source[first:first + n]`` (2-D, same width)."""
    for i in range(n):
        for d in range(source.shape[1]):
            target[to + i, d] = source[first + i, d]


@cached(numba.njit(cache=True, nogil=True))
def _step(
    work,
    t,
    weights_t,
    tables,
    pair_start,
    pair_src,
    pair_cell,
    pair_out,
    pair_col,
    slot_start,
    n_ops,
):  # pragma: no cover
    """Month ``t`` forward for a block: ``work`` is ``(slots, block)``, from month ``t``'s first.

    Reads the joint before month ``t`` from the first rows of ``work`` and overwrites the rows
    of its contractions' results, up to the joint after it (the slots of group
    ``(t + 1) * n_ops``, see :class:`~forecast.engine.slots.EntryPairs`); each node's
    evidence weights ``weights_t`` multiply in as its new state forms.
    """
    n_block = work.shape[1]
    base = slot_start[t * n_ops]
    _fill(work, slot_start[t * n_ops + 1] - base, slot_start[(t + 1) * n_ops + 1] - base, 0.0)
    for j in range(pair_start[t * n_ops], pair_start[(t + 1) * n_ops]):
        w = weights_t[pair_col[j]]
        if w == 0.0:
            continue
        out = work[pair_out[j] - base]
        cell = tables[pair_cell[j]]
        value = work[pair_src[j] - base]
        for d in range(n_block):
            out[d] += value[d] * cell[d] * w


@cached(numba.njit(cache=True, nogil=True))
def _step_adjoint(
    work,
    t,
    weights_t,
    tables,
    pair_start,
    pair_src,
    pair_cell,
    pair_out,
    pair_col,
    slot_start,
    n_ops,
):  # pragma: no cover
    """Transpose of :func:`_step`: from the rows of the joint after month ``t`` to the first."""
    n_block = work.shape[1]
    base = slot_start[t * n_ops]
    _fill(work, np.int64(0), slot_start[(t + 1) * n_ops] - base, 0.0)
    for j in range(pair_start[(t + 1) * n_ops] - 1, pair_start[t * n_ops] - 1, -1):
        w = weights_t[pair_col[j]]
        if w == 0.0:
            continue
        acc = work[pair_src[j] - base]
        bar = work[pair_out[j] - base]
        cell = tables[pair_cell[j]]
        for d in range(n_block):
            acc[d] += bar[d] * cell[d] * w


@cached(numba.njit(cache=True, nogil=True))
def smooth_block(
    tables,
    month_variant,
    weights,
    initial,
    pair_start,
    pair_src,
    pair_cell,
    pair_out,
    pair_col,
    slot_start,
    slot_entry,
    n_ops,
    q_node,
    q_target,
    q_start,
    q_stop,
    q_reached,
    state_of,
    marginal_start,
    n_states,
):  # pragma: no cover
    """Forward-backward, marginals and questions for one block of draws.

    ``tables`` is ``(variants, table entries, block)``; month ``t`` uses variant
    ``month_variant[t]``. ``alphas`` (filtered) and ``betas`` (backward messages) hold the
    joint before each month and after the last, in slots (see
    :class:`~forecast.engine.slots.EntryPairs`): rows ``at[t]:at[t + 1]`` are the slots
    of group ``t * n_ops``. A "reached" question continues the masked pass of the question
    before it when both have the same node, target and window start and it stops no earlier.

    Returns
    -------
    norms : ``(months, block)``; answers : ``(questions, block)``, NaN for a draw whose
    evidence is impossible; marginals : ``(marginal entries, block)``.
    """
    n_months = weights.shape[0]
    n_block = tables.shape[2]
    first_slot = np.empty(n_months + 1, dtype=np.int64)
    at = np.zeros(n_months + 2, dtype=np.int64)
    span = 0
    for t in range(n_months + 1):
        first_slot[t] = slot_start[t * n_ops]
        at[t + 1] = at[t] + slot_start[t * n_ops + 1] - slot_start[t * n_ops]
        if t < n_months:
            span = max(span, slot_start[(t + 1) * n_ops + 1] - slot_start[t * n_ops])
    work = np.empty((span, n_block))
    alphas = np.empty((at[-1], n_block))
    norms = np.empty((n_months, n_block))
    possible = np.ones(n_block, dtype=np.bool_)
    inverse = np.empty(n_block)
    for i in range(at[1]):
        for d in range(n_block):
            alphas[i, d] = initial[slot_entry[first_slot[0] + i]]
    for t in range(n_months):
        _copy_rows(alphas, at[t], work, np.int64(0), at[t + 1] - at[t])
        _step(
            work,
            t,
            weights[t],
            tables[month_variant[t]],
            pair_start,
            pair_src,
            pair_cell,
            pair_out,
            pair_col,
            slot_start,
            n_ops,
        )
        after = first_slot[t + 1] - first_slot[t]
        for d in range(n_block):
            inverse[d] = 0.0
        for i in range(at[t + 2] - at[t + 1]):
            for d in range(n_block):
                inverse[d] += work[after + i, d]
        for d in range(n_block):
            norms[t, d] = inverse[d]
            if inverse[d] > 0.0:
                inverse[d] = 1.0 / inverse[d]
            else:
                possible[d] = False
                inverse[d] = 0.0
        for i in range(at[t + 2] - at[t + 1]):
            for d in range(n_block):
                alphas[at[t + 1] + i, d] = work[after + i, d] * inverse[d]
    betas = np.empty((at[-1], n_block))
    # after the last month with evidence every beta is one: the tables are stochastic
    last = 0
    for t in range(n_months):
        for i in range(weights.shape[1]):
            if weights[t, i] != 1.0:
                last = t
                break
    _fill(betas, at[last + 1], at[-1], 1.0)
    for t in range(last, 0, -1):
        for d in range(n_block):
            inverse[d] = 1.0 / norms[t, d] if possible[d] else 0.0
        _copy_rows(betas, at[t + 1], work, first_slot[t + 1] - first_slot[t], at[t + 2] - at[t + 1])
        _step_adjoint(
            work,
            t,
            weights[t],
            tables[month_variant[t]],
            pair_start,
            pair_src,
            pair_cell,
            pair_out,
            pair_col,
            slot_start,
            n_ops,
        )
        for i in range(at[t + 1] - at[t]):
            for d in range(n_block):
                betas[at[t] + i, d] = work[i, d] * inverse[d]
    n_nodes = state_of.shape[0]
    marginals = np.zeros((marginal_start[-1] * n_months, n_block))
    for t in range(n_months):
        for i in range(at[t + 1], at[t + 2]):
            s = slot_entry[first_slot[t + 1] + i - at[t + 1]]
            for n in range(n_nodes):
                m = marginal_start[n] * n_months + t * n_states[n] + state_of[n, s]
                for d in range(n_block):
                    marginals[m, d] += alphas[i, d] * betas[i, d]
    answers = np.empty((q_start.shape[0], n_block))
    held = np.empty((span, n_block))  # the masked pass's joint, as the first rows of ``work``
    masked = np.empty(weights.shape[1])
    previous_q = -1  # the reached question whose masked pass ``held`` holds
    for q in range(q_start.shape[0]):
        node = q_node[q]
        target = q_target[q]
        stop = q_stop[q]
        lo, hi = at[stop + 1], at[stop + 2]
        if not q_reached[q]:
            p = np.zeros(n_block)
            for i in range(lo, hi):
                if target[state_of[node, slot_entry[first_slot[stop + 1] + i - lo]]] > 0.0:
                    for d in range(n_block):
                        p[d] += alphas[i, d] * betas[i, d]
            for d in range(n_block):
                answers[q, d] = min(max(p[d], 0.0), 1.0)
            continue
        start = q_start[q]
        first = start
        same_target = previous_q >= 0
        for k in range(target.shape[0]):
            same_target = same_target and q_target[previous_q, k] == target[k]
        if (
            same_target
            and q_node[previous_q] == node
            and q_start[previous_q] == start
            and q_stop[previous_q] <= stop
        ):
            first = q_stop[previous_q] + 1
        else:
            _copy_rows(alphas, at[start], held, np.int64(0), at[start + 1] - at[start])
        for t in range(first, stop + 1):
            for k in range(weights.shape[1]):
                masked[k] = weights[t, k]
            for k in range(n_states[node]):
                if target[k] > 0.0:
                    masked[marginal_start[node] + k] = 0.0
            for d in range(n_block):
                inverse[d] = 1.0 / norms[t, d] if possible[d] else 0.0
            _copy_rows(held, np.int64(0), work, np.int64(0), at[t + 1] - at[t])
            _step(
                work,
                t,
                masked,
                tables[month_variant[t]],
                pair_start,
                pair_src,
                pair_cell,
                pair_out,
                pair_col,
                slot_start,
                n_ops,
            )
            after = first_slot[t + 1] - first_slot[t]
            for i in range(at[t + 2] - at[t + 1]):
                for d in range(n_block):
                    held[i, d] = work[after + i, d] * inverse[d]
        previous_q = q
        stay_out = np.zeros(n_block)
        for i in range(hi - lo):
            for d in range(n_block):
                stay_out[d] += held[i, d] * betas[lo + i, d]
        for d in range(n_block):
            answers[q, d] = min(max(1.0 - stay_out[d], 0.0), 1.0)
    for d in range(n_block):
        if not possible[d]:
            for q in range(answers.shape[0]):
                answers[q, d] = np.nan
            for m in range(marginals.shape[0]):
                marginals[m, d] = np.nan
    return norms, answers, marginals


@cached(numba.njit(cache=True, nogil=True))
def draw_tables(
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
    """Every draw's flat table vector as a column, ``(table entries, draws)``.

    ``params`` holds one draw per row; each column is :func:`flat_tables` of that row.
    """
    tables = np.empty((fixed.shape[0], params.shape[0]))
    for d in range(params.shape[0]):
        table = flat_tables(
            params[d],
            fixed,
            rule_param_start,
            rule_months,
            rule_cell_start,
            cell_row_start,
            cell_old,
            rule_dest_start,
            dest_state,
        )
        for i in range(fixed.shape[0]):
            tables[i, d] = table[i]
    return tables


def _smooth_range(
    tables, overrides, block_args, block, first, last, norms, answers, marginals
) -> None:
    """:func:`smooth_block` over draws ``first:last``, block by block.

    ``tables`` holds every draw's table as a column (:func:`draw_tables`); each block gets
    its override variants (:meth:`LoweredOverrides.variants`). Writes rows ``first:last`` of
    ``norms``, ``answers`` and ``marginals`` (draw first). The compiled passes release the
    GIL, so threads can run ranges side by side; the Python here is a few calls per block.
    """
    for lo in range(first, last, block):
        plain = tables[:, lo : min(lo + block, last)]
        block_norms, block_answers, block_marginals = smooth_block(
            overrides.variants(plain), *block_args
        )
        hi = lo + plain.shape[1]
        norms[lo:hi] = block_norms.T
        answers[lo:hi] = block_answers.T
        marginals[lo:hi] = block_marginals.T


def block_bytes(pairs: EntryPairs, n_ops: int, months: int, marginal_entries: int) -> int:
    """Bytes one draw of a block takes in :func:`smooth_block`.

    The filtered and backward joints of every month (in slots), a month's work, the monthly
    marginals and the masked pass of a question, 8 bytes a number.
    """
    starts = pairs.slot_start
    joint = starts[np.arange(months + 1) * n_ops + 1] - starts[np.arange(months + 1) * n_ops]
    span = int(
        np.max(starts[np.arange(1, months + 1) * n_ops + 1] - starts[np.arange(months) * n_ops])
    )
    return 8 * (3 * int(joint.sum()) + span + marginal_entries * months)


def _threads() -> int:
    """Worker threads for the smoothing passes (numba's thread count, at most the CPUs)."""
    return max(1, min(numba.get_num_threads(), os.cpu_count() or 1))


_PAIRS: dict[int, tuple[weakref.ref, bytes, EntryPairs]] = {}


def _pairs_without_overrides(
    lowered: LoweredPlan, weights: np.ndarray, initial: np.ndarray, overrides: LoweredOverrides
) -> EntryPairs:
    """:func:`entry_pairs` of a plan's latest evidence, kept per plan.

    A pool's batches, its extensions and a fit's summaries pass the same evidence again.
    """
    key = hashlib.sha1(weights.tobytes() + initial.tobytes()).digest()
    hit = _PAIRS.get(id(lowered))
    if hit is not None and hit[0]() is lowered and hit[1] == key:
        return hit[2]
    pairs = entry_pairs(lowered, weights, initial, overrides)
    _PAIRS[id(lowered)] = (weakref.ref(lowered), key, pairs)
    return pairs


def smooth_draws(
    lowered: LoweredPlan,
    params: list[np.ndarray],
    weights: np.ndarray,
    initial: np.ndarray,
    questions: QuestionArrays,
    n_states: list[int],
    overrides: LoweredOverrides | None = None,
    block: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Normalisers, question probabilities and smoothed marginals for a batch of draws.

    Parameters
    ----------
    lowered : LoweredPlan
        From :func:`forecast.engine.kernels.lower_plan`.
    params : list of ndarray
        One ``(draws, outcomes)`` array per rule; for a scenario without free rules (every
        rule fixed) an empty list, and the result has one row.
    weights : ndarray
        Per-node evidence weights (:func:`forecast.engine.slots.node_weights`).
    initial : ndarray
        Flat joint distribution just before month 0.
    questions : QuestionArrays
        The questions as arrays.
    n_states : list of int
        States per node.
    overrides : LoweredOverrides, optional
        Tables replaced in some months, the same for every draw.
    block : int, optional
        Draws per block; by default as many as :data:`BLOCK` or as fit
        ``settings.SMOOTHING_MEMORY_BYTES`` over the threads (:func:`block_bytes`).

    Returns
    -------
    norms : ndarray
        ``(draws, months)``.
    answers : ndarray
        ``(draws, questions)``; NaN where the evidence is impossible.
    marginals : list of ndarray
        ``(draws, months, states)`` per node.
    """
    compile_ahead.wait()  # a helper compiling these passes (first fit on a machine)
    n_draws = params[0].shape[0] if params else 1  # no parameters: one exact pass
    flat = (
        np.concatenate([np.asarray(p, dtype=float).reshape(n_draws, -1) for p in params], axis=1)
        if params
        else np.zeros((n_draws, 0))
    )
    starts = np.concatenate([[0], np.cumsum(n_states)]).astype(np.int64)
    months = weights.shape[0]
    weights = np.ascontiguousarray(weights, dtype=float)
    initial = np.ascontiguousarray(initial, dtype=float)
    if overrides is None:
        overrides = no_overrides(lowered, months)
        pairs = _pairs_without_overrides(lowered, weights, initial, overrides)
    else:
        pairs = entry_pairs(lowered, weights, initial, overrides)
    if block is None:
        per_draw = block_bytes(pairs, int(lowered.out_size.shape[0]), months, int(starts[-1]))
        block = draws_per_block(per_draw, _threads(), most=BLOCK)
    norms = np.empty((n_draws, months))
    answers = np.empty((n_draws, questions.start.shape[0]))
    marg = np.empty((n_draws, int(starts[-1]) * months))
    tables = draw_tables(np.ascontiguousarray(flat), lowered.fixed, *rule_args(lowered))
    block_args = (
        overrides.month_variant,
        weights,
        initial,
        pairs.start,
        pairs.src,
        pairs.cell,
        pairs.out,
        pairs.col,
        pairs.slot_start,
        pairs.slot_entry,
        int(lowered.out_size.shape[0]),
        questions.node,
        questions.target,
        questions.start,
        questions.stop,
        questions.reached,
        lowered.state_of,
        starts,
        np.asarray(n_states, dtype=np.int64),
    )
    args = (tables, overrides, block_args, int(block))
    # whole blocks per thread; the threads share the outputs but write disjoint rows
    n_blocks = -(-n_draws // block)
    edges = [min(n_draws, -(-n_blocks * k // _threads()) * block) for k in range(_threads() + 1)]
    ranges = [(a, b) for a, b in itertools.pairwise(edges) if b > a]
    if len(ranges) <= 1:
        for a, b in ranges:
            _smooth_range(*args, a, b, norms, answers, marg)
    else:
        with ThreadPoolExecutor(len(ranges)) as pool:
            for future in [
                pool.submit(_smooth_range, *args, a, b, norms, answers, marg) for a, b in ranges
            ]:
                future.result()
    marginals = [
        marg[:, starts[n] * months : starts[n + 1] * months].reshape(n_draws, months, k)
        for n, k in enumerate(n_states)
    ]
    return norms, answers, marginals
