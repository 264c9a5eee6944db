"""Exact inference on a static network by variable elimination: cost follows the structure.

A scenario is *static* when no node remembers its last state (every table is the same from
every old state, as a ``cpt`` node's is), no edge reaches back a month (every lag is 0) and
no rule has a prior. Each month is then an independent copy of one Bayesian network, and
the evidence of a month informs that month only. Nothing needs the joint state of all nodes:
every quantity is a product of the nodes' tables summed over the other nodes, which variable
elimination computes in time and memory exponential in the width of the elimination order,
not in the number of nodes. Barren nodes (neither observed nor asked about, with no such
descendant) are dropped first; the order is greedy min-weight (the variable whose elimination
makes the smallest factor goes next), which on the bnlearn networks is as good as min-fill.

Per month ``t``: the log-probability of its evidence, every node's posterior marginal and, for
the questions, the probability of being in the asked states. A "reached" question over a
window multiplies the months' probabilities of not being there, which is exact because the
months are independent given their evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecast.engine.tables import NodeTable, build_tables, node_tables
from forecast.scenario.validated import Scenario

__all__ = ["Factor", "StaticNetwork", "is_static", "memoryless", "static_network"]


class NotStatic(ValueError):
    """The scenario is not a static network (see the module)."""


@dataclass(frozen=True)
class Factor:
    """A table over some nodes: ``values`` has one axis per node of ``nodes``, in that order."""

    nodes: tuple[int, ...]
    values: np.ndarray


def _memoryless_tables(
    scenario: Scenario, layout: list[NodeTable] | None = None
) -> list[np.ndarray] | None:
    """Each node's table given its parents only, or None when some node remembers its state.

    ``layout`` is the scenario's :func:`~forecast.engine.tables.node_tables`, if at hand.
    """
    if scenario.rules or any(lag != 0 for node in scenario.nodes for _, lag in node.parents):
        return None
    tables = build_tables(layout or node_tables(scenario), [], np)
    out = []
    for table in tables:
        given_parents = memoryless(table)
        if given_parents is None:
            return None
        out.append(given_parents)
    return out


def is_static(scenario: Scenario) -> bool:
    """Whether every month is an independent copy of one network (see the module)."""
    return _memoryless_tables(scenario) is not None


def _combine(factors: list[Factor], keep: tuple[int, ...]) -> Factor:
    """The product of factors summed down to the nodes ``keep`` (one einsum, local letters)."""
    local: dict[int, int] = {}
    for f in factors:
        for n in f.nodes:
            local.setdefault(n, len(local))
    operands: list[object] = []
    for f in factors:
        operands += [f.values, [local[n] for n in f.nodes]]
    values = np.einsum(*operands, [local[n] for n in keep], optimize=len(factors) > 2)
    return Factor(keep, values)


class StaticNetwork:
    """A static scenario's network, queried by variable elimination.

    Parameters
    ----------
    scenario : Scenario
        A static scenario (:func:`is_static`).
    """

    def __init__(self, scenario: Scenario, layout: list[NodeTable] | None = None) -> None:
        tables = _memoryless_tables(scenario, layout)
        if tables is None:
            raise NotStatic(f"{scenario.id} is not a static network")
        self.scenario = scenario
        index = scenario.node_index
        self.parents = [tuple(index[p] for p, _ in node.parents) for node in scenario.nodes]
        self.children = [
            tuple(c for c, ps in enumerate(self.parents) if i in ps)
            for i in range(len(scenario.nodes))
        ]
        self.sizes = [node.n_states for node in scenario.nodes]
        self.factors = [
            Factor((*self.parents[i], i), tables[i]) for i in range(len(scenario.nodes))
        ]
        self._orders: dict[tuple[tuple[int, ...], ...], tuple[list[int], int]] = {}

    def _relevant(self, wanted: set[int]) -> list[int]:
        """The nodes that matter for ``wanted`` (queried or observed): them and their ancestors.

        Every other node is barren: its table sums to one over it, whatever its parents.
        """
        seen: set[int] = set()
        stack = list(wanted)
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self.parents[n])
        return sorted(seen)

    def _order(
        self, nodes: tuple[int, ...], observed: tuple[int, ...], keep: tuple[int, ...]
    ) -> tuple[list[int], int]:
        """Greedy min-weight elimination order of ``nodes`` but ``keep``, and its largest factor.

        Worked out on the factors' scopes only, once per set of nodes, observed nodes and kept
        nodes (every month and draw with evidence on the same nodes re-uses it).
        """
        key = (nodes, observed, keep)
        if key not in self._orders:
            scopes = [set((*self.parents[n], n)) for n in nodes] + [{n} for n in observed]
            remaining = [n for n in nodes if n not in keep]
            order, largest = [], 0
            while remaining:

                def weight(n: int, scopes: list[set[int]] = scopes) -> int:
                    union = set().union(*(sc for sc in scopes if n in sc))
                    return math.prod(self.sizes[m] for m in union)

                n = min(remaining, key=weight)
                remaining.remove(n)
                union = set().union(*(sc for sc in scopes if n in sc))
                largest = max(largest, math.prod(self.sizes[m] for m in union))
                scopes = [sc for sc in scopes if n not in sc] + [union - {n}]
                order.append(n)
            self._orders[key] = (order, largest)
        return self._orders[key]

    def eliminate(
        self,
        evidence: dict[int, np.ndarray],
        keep: tuple[int, ...],
        replaced: dict[int, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, int]:
        """The unnormalised joint of ``keep`` with the evidence, and the largest factor's size.

        Parameters
        ----------
        evidence : dict
            Node -> likelihood vector over its states (only nodes with evidence).
        keep : tuple of int
            Nodes left (their joint is returned, axes in this order).
        replaced : dict, optional
            Node -> a table given its parents that replaces the node's (an intervention).
        """
        replaced = replaced or {}
        nodes = self._relevant(set(evidence) | set(keep))
        order, largest = self._order(tuple(nodes), tuple(sorted(evidence)), keep)
        factors = [
            Factor(self.factors[n].nodes, replaced[n]) if n in replaced else self.factors[n]
            for n in nodes
        ]
        factors += [Factor((n,), np.asarray(v, dtype=float)) for n, v in evidence.items()]
        for n in order:
            touching = [f for f in factors if n in f.nodes]
            scope = tuple(dict.fromkeys(m for f in touching for m in f.nodes if m != n))
            factors = [f for f in factors if n not in f.nodes]
            factors.append(_combine(touching, scope))
        joint = _combine(factors, keep) if factors else Factor(keep, np.ones(()))
        return joint.values, largest

    def month(
        self, evidence: dict[int, np.ndarray], replaced: dict[int, np.ndarray] | None = None
    ) -> tuple[float, list[np.ndarray]]:
        """One month: the log-probability of its evidence and every node's posterior marginal.

        ``replaced`` swaps some nodes' tables (see :meth:`eliminate`). Returns
        ``(-inf, NaN marginals)`` when the evidence is impossible.
        """
        total, _ = self.eliminate(evidence, (), replaced)
        norm = float(total)
        if not norm > 0.0:
            return -math.inf, [np.full(s, np.nan) for s in self.sizes]
        marginals = []
        for i in range(len(self.sizes)):
            joint, _ = self.eliminate(evidence, (i,), replaced)
            marginals.append(joint / norm)
        return math.log(norm), marginals

    def width(self) -> int:
        """Entries of the largest factor made when every node's marginal is computed."""
        every = tuple(range(len(self.sizes)))  # all observed: every node is relevant
        return max(self._order(every, every, (i,))[1] for i in every)


def memoryless(table: np.ndarray) -> np.ndarray | None:
    """A ``(*parents, old, new)`` table as one given the parents only, if the old state is moot."""
    rows = np.moveaxis(np.asarray(table, dtype=float), -2, 0)
    return np.ascontiguousarray(rows[0]) if np.all(rows == rows[:1]) else None


def static_network(
    scenario: Scenario, layout: list[NodeTable] | None = None
) -> StaticNetwork | None:
    """The scenario's static network, or None when it is not static."""
    try:
        return StaticNetwork(scenario, layout)
    except NotStatic:
        return None
