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


def node_tables(scenario: Scenario) -> list[NodeTable]:
    """Lay out the table of every node of a scenario."""
    rule_ids = {r.name: k for k, r in enumerate(scenario.rules)}
    tables = []
    for ni, node in enumerate(scenario.nodes):
        parent_sizes = [scenario.node(p).n_states for p, _ in node.parents]
        k = node.n_states
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
        owner = _rule_of_cells(scenario, node, configs)
        free_index = {id(r): j for j, r in enumerate(free)}
        for cell in range(cells):
            config, state = divmod(cell, k)
            rule = node.rules[owner[config, state]] if owner[config, state] >= 0 else None
            # the outcome vector's first entry: staying, or a memoryless rule's pivot state
            first = state if rule is None or rule.pivot is None else node.state_index(rule.pivot)
            stay[cell, first] = 1.0
            if rule is not None and rule.fixed_outcome is not None:
                fixed[cell] = fixed_row(rule, state, node)
            elif rule is None or not rule.is_free:
                fixed[cell, state] = 1.0
            else:
                membership[cell, free_index[id(rule)]] = 1.0
        destinations = tuple(np.eye(k)[[node.state_index(d) for d in r.destinations]] for r in free)
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


def _rule_of_cells(scenario: Scenario, node: Any, configs: np.ndarray) -> np.ndarray:
    """``(configurations, states)``: the index in ``node.rules`` of the rule of each cell, or -1.

    A cell is a parent configuration (a row of ``configs``, the parents' state indices) and
    an old state; a rule owns the cells of its ``from`` states whose parents it selects
    (``given``). Rules do not overlap (the loader refuses it); the first one written wins.
    """
    parent_names = [p for p, _ in node.parents]
    owner = np.full((configs.shape[0], node.n_states), -1, dtype=np.int64)
    for r in range(len(node.rules) - 1, -1, -1):
        rule = node.rules[r]
        chosen = np.ones(configs.shape[0], dtype=bool)
        for parent, wanted in rule.given.items():
            states = scenario.node(parent).states
            selected = np.zeros(len(states), dtype=bool)
            selected[[states.index(w) for w in wanted]] = True
            chosen &= selected[configs[:, parent_names.index(parent)]]
        for state in rule.from_states:
            owner[chosen, node.state_index(state)] = r
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
