"""Which joint entries can hold mass, numbered as slots: the work lists of the compiled passes.

The compiled passes (:mod:`forecast.engine.kernels`, :mod:`forecast.engine.smoothing`) visit
only the entries of the joint that evidence, absorbing states and fixed zeros leave possible,
as lists of (input slot, table cell, output slot) pairs (:class:`EntryPairs`). Which entries
those are does not depend on the parameters, so the lists are built once per evidence set (or
intervention), here in numpy: a boolean forward pass, then the numbering, one contraction at a
time with vectorised index arithmetic (tens of milliseconds on Kursk). Compiling them instead
would add seconds to the first fit on a machine and save nothing a user would notice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.engine.kernels import (
    LoweredOverrides,
    LoweredPlan,
    flat_tables,
    no_overrides,
    rule_args,
)


def node_weights(evidence: list[np.ndarray]) -> np.ndarray:
    """Per-node evidence weights, ``(months, total states)``.

    Node ``n``'s states are columns ``state_start[n]:state_start[n + 1]`` (see
    :class:`LoweredPlan`); the passes multiply a node's weights in as soon as its new state
    is formed, so states the evidence rules out are dropped before the rest of the month's
    update touches them.
    """
    return np.ascontiguousarray(
        np.concatenate([np.asarray(m, dtype=float) for m in evidence], axis=1)
    )


@dataclass(frozen=True)
class EntryPairs:
    """The work of every month's contractions as flat lists, for the compiled passes.

    Only the joint entries that can hold mass are kept, each as a *slot*: the entries read by
    contraction ``c`` in month ``t`` (group ``g = t * contractions + c``) are slots
    ``slot_start[g] <= i < slot_start[g + 1]``, and ``slot_entry[i]`` is the entry's index in
    that contraction's input tensor. Group ``g + 1`` holds what group ``g`` writes; the last
    group (one past the last month) holds the joint after the last month, so the slots of
    group ``(t + 1) * contractions`` are the joint after month ``t``. Every pass works on one
    flat vector of slots: on Kursk about one joint entry in eight, and no pass touches an
    entry that cannot hold mass.

    The contractions are unrolled over the new states the evidence allows: pair ``j`` of group
    ``g`` (``start[g] <= j < start[g + 1]``) adds
    ``slots[src[j]] * table[cell[j]] * weights[t, col[j]]`` to ``slots[out[j]]``, where
    ``weights`` are per-node evidence weights (:func:`node_weights`; a masked pass may zero
    more of them) and ``weight[j]`` is ``weights[t, col[j]]`` of the evidence itself. Which
    entries can hold mass does not depend on the parameters (a rule's cells are positive for
    every interior parameter), so the lists are built once per evidence set.
    """

    start: np.ndarray
    src: np.ndarray
    cell: np.ndarray
    out: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    slot_start: np.ndarray
    slot_entry: np.ndarray


def table_masks(lowered: LoweredPlan, overrides: LoweredOverrides) -> np.ndarray:
    """Which table entries can be positive, per variant: ``(variants, entries)`` booleans.

    Row 0 is the plain table, row ``v`` its override variant ``table * keep + put``. A cell
    that a rule fills is positive for every interior parameter value, so one interior draw
    (every rule's outcomes equally likely) tells them all.
    """
    interior = np.concatenate(
        [np.full(int(n), 1.0 / n) for n in np.diff(lowered.rule_param_start)] or [np.zeros(0)]
    )
    return overrides.variants(flat_tables(interior, lowered.fixed, *rule_args(lowered))) > 0.0


def _new_cells(lowered: LoweredPlan, c: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For input entries ``rows`` of contraction ``c``: table cells and output entries.

    Both ``(len(rows), k_new)``: entry ``rows[i]`` going to new state ``k`` reads table cell
    ``[i, k]`` and adds to output entry ``[i, k]``.
    """
    first = lowered.entry_start[c]
    k = np.arange(lowered.k_new[c])
    cells = (
        lowered.table_start[lowered.op_node[c]]
        + lowered.row[first + rows][:, None] * lowered.k_new[c]
        + k
    )
    outputs = lowered.base[first + rows][:, None] + k * lowered.stride[c]
    return cells, outputs


def active_entries(
    lowered: LoweredPlan,
    masks: np.ndarray,
    month_variant: np.ndarray,
    weight_mask: np.ndarray,
    initial_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean forward pass: which input entries of each month's contractions can be non-zero.

    Returns ``slot_entry`` and ``slot_start`` of :class:`EntryPairs`: the entries as index
    lists, one per contraction and month and a last one for the joint after the last month.
    """
    n_ops = lowered.op_node.shape[0]
    groups = []
    possible = initial_mask
    for t in range(weight_mask.shape[0]):
        mask = masks[month_variant[t]]
        for c in range(n_ops):
            rows = np.flatnonzero(possible)
            groups.append(rows)
            cells, outputs = _new_cells(lowered, c, rows)
            e0 = lowered.state_start[lowered.op_node[c]]
            allowed = mask[cells] & weight_mask[t, e0 : e0 + lowered.k_new[c]][None, :]
            possible = np.zeros(lowered.out_size[c], dtype=bool)
            possible[outputs[allowed]] = True
    groups.append(np.flatnonzero(possible))
    sizes = [len(g) for g in groups]
    slot_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return np.concatenate(groups).astype(np.int64), slot_start


def number_pairs(
    lowered: LoweredPlan, weights: np.ndarray, slot_entry: np.ndarray, slot_start: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Unroll the active entries over the new states they can reach, as slot pairs.

    Returns ``start, src, cell, out, col, weight`` of :class:`EntryPairs`; within a group the
    pairs run by input slot, then by new state.
    """
    n_ops = lowered.op_node.shape[0]
    n_groups = weights.shape[0] * n_ops
    parts: list[list[np.ndarray]] = [[], [], [], [], []]
    counts = [0]
    for g in range(n_groups):
        t, c = divmod(g, n_ops)
        slots = np.arange(slot_start[g], slot_start[g + 1])
        cells, outputs = _new_cells(lowered, c, slot_entry[slots])
        slot_of = np.full(lowered.out_size[c], -1, dtype=np.int64)
        slot_of[slot_entry[slot_start[g + 1] : slot_start[g + 2]]] = np.arange(
            slot_start[g + 1], slot_start[g + 2]
        )
        out = slot_of[outputs]
        e0 = lowered.state_start[lowered.op_node[c]]
        cols = np.arange(e0, e0 + lowered.k_new[c])
        w = weights[t, cols]
        # a zero weight, or a table cell that is zero for every parameter value
        keep = (out >= 0) & (w != 0.0)[None, :]
        parts[0].append(np.broadcast_to(slots[:, None], out.shape)[keep])
        parts[1].append(cells[keep])
        parts[2].append(out[keep])
        parts[3].append(np.broadcast_to(cols[None, :], out.shape)[keep])
        parts[4].append(np.broadcast_to(w[None, :], out.shape)[keep])
        counts.append(int(keep.sum()))
    start = np.cumsum(counts).astype(np.int64)
    src, cell, out, col = (np.concatenate(p or [np.zeros(0)]).astype(np.int64) for p in parts[:4])
    weight = np.concatenate(parts[4] or [np.zeros(0)]).astype(float)
    return start, src, cell, out, col, weight


def entry_pairs(
    lowered: LoweredPlan,
    weights: np.ndarray,
    initial: np.ndarray,
    overrides: LoweredOverrides | None = None,
) -> EntryPairs:
    """Build the :class:`EntryPairs` of per-node weights ``weights`` (all their months).

    A boolean forward pass over the tables' zero pattern (each month's override variant
    included) and the evidence's finds the entries that can hold mass; a masked pass (a
    reached question) only removes mass, so the same lists serve it.
    """
    months = weights.shape[0]
    overrides = overrides or no_overrides(lowered, months)
    weights = np.ascontiguousarray(weights, dtype=float)
    slot_entry, slot_start = active_entries(
        lowered,
        table_masks(lowered, overrides),
        overrides.month_variant[:months],
        weights != 0.0,
        np.asarray(initial) > 0.0,
    )
    return EntryPairs(
        *number_pairs(lowered, weights, slot_entry, slot_start), slot_start, slot_entry
    )


def likelihood_pairs(
    evidence: list[np.ndarray], lowered: LoweredPlan, initial: np.ndarray
) -> EntryPairs:
    """Prepare the evidence for :func:`loglik_and_grad`: its :class:`EntryPairs`.

    Each node's weights are multiplied in as soon as the node's new state is formed, so states
    the evidence rules out are dropped right away, and only the entries that can hold mass are
    visited (:class:`EntryPairs`).

    Only the months up to the last one that carries evidence are kept. A month whose weights
    are all one adds nothing to the log-likelihood: the transition keeps the total mass, so
    its normaliser is one for parameters on the simplex. A forecast made at the start then
    costs one month instead of the whole timeline. The log-likelihood is unchanged; its
    gradient with respect to an outcome vector changes only along ``(1, ..., 1)``, the
    direction that leaves the simplex, so the gradient the sampler sees (through the
    Beta/Dirichlet transforms) is unchanged.
    """
    weights = node_weights(evidence)
    informative = np.flatnonzero(np.any(weights != 1.0, axis=1))
    last = int(informative[-1]) + 1 if informative.size else 1
    return entry_pairs(lowered, np.ascontiguousarray(weights[:last]), initial)


def rules_in_pairs(lowered: LoweredPlan, pairs: EntryPairs) -> np.ndarray:
    """Whether each free rule fills a table cell that ``pairs`` read: ``(rules,)`` booleans.

    A rule none of whose cells a pass reads (it applies only in months after the last
    evidence, or from states that the evidence and the tables leave empty until then) does
    not enter that pass's likelihood: its posterior is its prior (with any reference counts),
    independent of every other rule's. Rule ``r`` fills, in each of its rows
    ``cell_row_start[j]``, the old state's entry and its destinations' (see
    :func:`forecast.engine.kernels.flat_tables`).
    """
    read = np.zeros(lowered.fixed.shape[0], dtype=bool)
    read[pairs.cell] = True
    n_rules = lowered.rule_months.shape[0]
    reached = np.zeros(n_rules, dtype=bool)
    for r in range(n_rules):
        rows = lowered.cell_row_start[lowered.rule_cell_start[r] : lowered.rule_cell_start[r + 1]]
        olds = lowered.cell_old[lowered.rule_cell_start[r] : lowered.rule_cell_start[r + 1]]
        dests = lowered.dest_state[lowered.rule_dest_start[r] : lowered.rule_dest_start[r + 1]]
        cells = np.concatenate([rows + olds, (rows[:, None] + dests[None, :]).ravel()])
        reached[r] = bool(read[cells].any())
    return reached
