"""Conditional probability tables of the monthly transition, built from rule parameters.

Works on numpy arrays and on PyTensor tensors alike (pass the array module as ``xp``), so the
exact engine and the PyMC model build their tables with the same code. A leading batch axis on
the parameters (one row per parameter draw) carries through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.scenario.validated import Scenario


@dataclass(frozen=True)
class NodeTable:
    """Static layout of one node's table; the parameters fill it in.

    The flat table has one row per cell ``(parent configuration, old state)`` in C order and
    one column per new state. ``fixed`` holds rows that need no parameter (absorbing states and
    ``stays`` rules); ``membership[cell, r]`` says which free rule fills a cell.
    """

    node: int
    shape: tuple[int, ...]
    fixed: np.ndarray
    stay: np.ndarray
    membership: np.ndarray
    rules: tuple[int, ...]
    destinations: tuple[np.ndarray, ...]
    months: tuple[int, ...]


def duration_caps(scenario: Scenario) -> list[int]:
    """Per node, the months in state the engine counts (1 for a node whose rules ignore them).

    A node whose rules depend on its months in state (``by_months_in_state``) is carried in
    the joint as (state, months in state) pairs, months counted up to the cap ``K`` (the last
    step's ``after``), so its axis is ``K`` times its states: an implicit duration counter.
    Entry ``s * K + (d - 1)`` holds state ``s`` after ``d`` months in it (``K``: ``K`` or more).
    """
    return [node.duration_cap for node in scenario.nodes]


def kept_entry(state: int, months: int, cap: int, counted: tuple[int, ...]) -> int:
    """Where staying in ``state`` one more month lands, from ``months + 1`` months in it.

    ``counted`` is the node's ``state_duration_caps``: a state counts only the months its
    rules tell apart, so the joint never holds counts that change no rule (and the engine,
    which visits only entries that can hold mass, skips them).
    """
    return state * cap + min(months + 1, counted[state] - 1)


def engine_sizes(scenario: Scenario) -> list[int]:
    """Each node's axis length in the joint: its states times its duration cap."""
    return [
        node.n_states * cap
        for node, cap in zip(scenario.nodes, duration_caps(scenario), strict=True)
    ]


def expand_states(values: np.ndarray, cap: int) -> np.ndarray:
    """A per-state last axis repeated over the months in state (evidence, targets)."""
    return values if cap == 1 else np.repeat(values, cap, axis=-1)


def collapse_states(values: np.ndarray, cap: int) -> np.ndarray:
    """A per-(state, months in state) last axis summed back to the states (marginals)."""
    if cap == 1:
        return values
    return values.reshape((*values.shape[:-1], -1, cap)).sum(-1)


def initial_distribution(node, cap: int) -> np.ndarray:
    """The node's initial distribution on its axis: each state at its stated months in state."""
    if cap == 1:
        return node.initial
    out = np.zeros(node.n_states * cap)
    counted = np.minimum(node.months_in_state, node.state_duration_caps)
    out[np.arange(node.n_states) * cap + counted - 1] = node.initial
    return out


def node_tables(scenario: Scenario) -> list[NodeTable]:
    """Lay out the table of every node of a scenario.

    A node with a duration cap ``K > 1`` (:func:`duration_caps`) has a table over
    (state, months in state) pairs: staying in ``s`` after ``d`` months goes to ``d + 1``
    (at most ``K``), a move to another state starts it at one month, and the rule that
    applies to a cell is the one whose ``months_in_state`` holds ``d``.
    """
    rule_ids = {r.name: k for k, r in enumerate(scenario.rules)}
    caps = duration_caps(scenario)
    tables = []
    for ni, node in enumerate(scenario.nodes):
        cap = caps[ni]
        parent_caps = [caps[scenario.node_index[p]] for p, _ in node.parents]
        parent_sizes = [
            scenario.node(p).n_states * c
            for (p, _), c in zip(node.parents, parent_caps, strict=True)
        ]
        n = node.n_states
        k = n * cap
        n_configs = int(np.prod(parent_sizes)) if parent_sizes else 1
        cells = n_configs * k
        fixed = np.zeros((cells, k))
        stay = np.zeros((cells, k))
        free = [r for r in node.rules if r.is_free]
        membership = np.zeros((cells, len(free)))
        configs = (
            np.array(np.unravel_index(np.arange(n_configs), parent_sizes)).T
            if parent_sizes
            else np.zeros((1, 0), dtype=int)
        )
        # the parents' states, whatever their months in state
        configs = configs // np.array(parent_caps, dtype=int) if parent_caps else configs
        owner = _rule_of_cells(scenario, node, configs, cap)
        counted = node.state_duration_caps
        free_index = {id(r): j for j, r in enumerate(free)}
        for cell in range(cells):
            config, old = divmod(cell, k)
            state, months = divmod(old, cap)  # months in state: months + 1
            kept = kept_entry(state, months, cap, counted)
            rule = node.rules[owner[config, old]] if owner[config, old] >= 0 else None
            # the outcome vector's first entry: staying, or a memoryless rule's pivot state
            first = kept if rule is None or rule.pivot is None else node.state_index(rule.pivot)
            stay[cell, first] = 1.0
            if rule is not None and rule.fixed_outcome is not None:
                row = fixed_row(rule, state, node)
                fixed[cell, np.arange(n) * cap] = row
                fixed[cell, state * cap] = 0.0
                fixed[cell, kept] += row[state]
            elif rule is None or not rule.is_free:
                fixed[cell, kept] = 1.0
            else:
                membership[cell, free_index[id(rule)]] = 1.0
        destinations = tuple(
            np.eye(k)[[node.state_index(d) * cap for d in r.destinations]] for r in free
        )
        tables.append(
            NodeTable(
                node=ni,
                shape=(*parent_sizes, k, k),
                fixed=fixed,
                stay=stay * membership.sum(1, keepdims=True),
                membership=membership,
                rules=tuple(rule_ids[r.name] for r in free),
                destinations=destinations,
                months=tuple(r.within_months for r in free),
            )
        )
    return tables


def fixed_row(rule: Any, state: int, node: Any) -> np.ndarray:
    """The monthly row of a rule with fixed probabilities, leaving state ``state``.

    For a memoryless rule the row is its distribution over the states (the pivot first).

    The N-month outcome is turned into a monthly one as for a rule with a prior
    (:func:`monthly_from_horizon`); a certain stay (probability 1) stays every month.
    """
    q = rule.fixed_outcome
    row = np.zeros(node.n_states)
    if rule.pivot is not None:  # memoryless: this month's distribution, whatever ``state``
        state = node.state_index(rule.pivot)
    if q[0] >= 1.0:
        row[state] = 1.0
        return row
    p_stay, moves = monthly_from_horizon(q, rule.within_months, np)
    row[state] = p_stay
    for dest, p in zip(rule.destinations, moves, strict=True):
        row[node.state_index(dest)] += p
    return row


def _rule_of_cells(scenario: Scenario, node: Any, configs: np.ndarray, cap: int = 1) -> np.ndarray:
    """``(configurations, states * cap)``: the index in ``node.rules`` of each cell's rule, or -1.

    A cell is a parent configuration (a row of ``configs``, the parents' state indices) and
    an old state (with its months in state when ``cap > 1``); a rule owns the cells of its
    ``from`` states whose parents it selects (``given``) and, for a rule stepped by months in
    state, whose months it covers. Rules do not overlap (the loader refuses it); the first
    one written wins.
    """
    parent_names = [p for p, _ in node.parents]
    owner = np.full((configs.shape[0], node.n_states * cap), -1, dtype=np.int64)
    for r in range(len(node.rules) - 1, -1, -1):
        rule = node.rules[r]
        chosen = np.ones(configs.shape[0], dtype=bool)
        for parent, wanted in rule.given.items():
            states = scenario.node(parent).states
            selected = np.zeros(len(states), dtype=bool)
            selected[[states.index(w) for w in wanted]] = True
            chosen &= selected[configs[:, parent_names.index(parent)]]
        first, last = rule.months_in_state or (1, None)
        months = [d for d in range(1, cap + 1) if d >= first and (last is None or d <= last)]
        for state in rule.from_states:
            for d in months:
                owner[chosen, node.state_index(state) * cap + d - 1] = r
    return owner


def monthly_from_horizon(q: Any, months: int, xp: Any) -> tuple[Any, Any]:
    """Monthly stay probability and monthly move probabilities from an N-month outcome vector.

    ``q[..., 0]`` is the probability of still being in the state after ``months`` months and
    ``q[..., 1:]`` the probabilities of each destination by then. The monthly hazard is
    constant, ``p_stay = q_stay ** (1 / months)``, and the months' moves keep the proportions
    between destinations that the N-month vector states.
    """
    q_stay = q[..., 0]
    p_stay = q_stay ** (1.0 / months)
    moves = q[..., 1:] * ((1.0 - p_stay) / (1.0 - q_stay))[..., None]
    return p_stay, moves


def build_tables(layout: list[NodeTable], params: list[Any], xp: Any) -> list[Any]:
    """Conditional probability tables of every node from rule parameters.

    Parameters
    ----------
    layout : list of NodeTable
        From :func:`node_tables`.
    params : list of array
        One N-month outcome vector per free rule (``[stay, *destinations]``), in
        ``scenario.rules`` order, optionally with a leading batch axis.
    xp : module
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    list of array
        Tables shaped ``(batch..., *parent_sizes, k_old, k_new)``.
    """
    out = []
    for table in layout:
        if not table.rules:
            out.append(table.fixed.reshape(table.shape))
            continue
        stays, moves = [], []
        z = "Z" if params[table.rules[0]].ndim > 1 else ""
        for r, dest, months in zip(table.rules, table.destinations, table.months, strict=True):
            p_stay, p_moves = monthly_from_horizon(params[r], months, xp)
            stays.append(p_stay)
            moves.append(xp.einsum(f"{z}d,dk->{z}k", p_moves, dest))
        stay = xp.stack(stays, axis=-1)
        move = xp.stack(moves, axis=-2)
        flat = (
            table.fixed
            + xp.einsum(f"cr,{z}r->{z}c", table.membership, stay)[..., None] * table.stay
            + xp.einsum(f"cr,{z}rk->{z}ck", table.membership, move)
        )
        batch = [flat.shape[i] for i in range(flat.ndim - 2)]
        out.append(flat.reshape((*batch, *table.shape)))
    return out
