"""A scenario as a Bayesian network for other tools (``forecast export``), with pyAgrum.

A static scenario (:mod:`forecast.engine.static`) is its network: one variable per node, its
table given its parents. Any other scenario is unrolled: a root variable ``<node>__initial``
per node (its ``initial`` distribution, just before the first month) and one variable
``<node>__<YYYY_MM>`` per node and month up to the month asked for, whose table is the node's
transition given its parents (this month's for lag 0, last month's for lag 1) and its own last
state. With the tables at given rule parameters (the priors' means, or a fit's posterior
means) the unrolled network gives exactly the engine's marginals at those parameters. A plug-in
network at posterior means is not the posterior predictive, which averages over the
parameters: a caveat the CLI states. pyAgrum is imported only here.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from forecast.engine.static import is_static
from forecast.engine.tables import build_tables, node_tables
from forecast.scenario.validated import Scenario

__all__ = ["FORMATS", "scenario_network", "write_network"]

FORMATS = {"bif": ".bif", "xmlbif": ".bifxml", "net": ".net", "uai": ".uai", "xdsl": ".xdsl"}
"""``--to`` of ``forecast export`` and the file suffix pyAgrum writes it under."""


def _label(scenario: Scenario, t: int) -> str:
    return scenario.timeline.month_label(t).replace("-", "_")


def scenario_network(scenario: Scenario, params: list[np.ndarray], months: int | None = None):
    """The scenario as a ``pyagrum.BayesNet`` at the given rule parameters.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    params : list of ndarray
        One N-month outcome vector per free rule (empty for a scenario without one).
    months : int, optional
        Months unrolled (default: the whole timeline); ignored for a static scenario.

    Returns
    -------
    pyagrum.BayesNet
    """
    import pyagrum as gum

    counted = [n.name for n in scenario.nodes if n.duration_cap > 1]
    if counted:
        raise ValueError(
            f"node(s) {', '.join(counted)} count their months in state (by_months_in_state), "
            "which a network of one variable per node and month cannot state; export a "
            "scenario whose rules ignore the months in state"
        )
    tables = build_tables(node_tables(scenario), params, np)
    nodes = scenario.nodes
    bn = gum.BayesNet(scenario.id)
    if is_static(scenario):
        ids = {}
        for node in nodes:
            ids[node.name] = bn.add(gum.LabelizedVariable(node.name, node.label, list(node.states)))
        for node in nodes:
            for parent, _ in node.parents:
                bn.addArc(ids[parent], ids[node.name])
        for i, node in enumerate(nodes):
            table = np.moveaxis(tables[i], -2, 0)[0]  # memoryless: any old state's row
            _fill(bn, node.name, [p for p, _ in node.parents], table)
        return bn
    steps = scenario.timeline.n_steps if months is None else min(months, scenario.timeline.n_steps)
    name = {}
    for node in nodes:
        name[(node.name, -1)] = f"{node.name}__initial"
        bn.add(gum.LabelizedVariable(name[(node.name, -1)], node.label, list(node.states)))
    for t in range(steps):
        for node in nodes:
            name[(node.name, t)] = f"{node.name}__{_label(scenario, t)}"
            bn.add(gum.LabelizedVariable(name[(node.name, t)], node.label, list(node.states)))
    for node in nodes:
        bn.cpt(name[(node.name, -1)]).fillWith(np.asarray(node.initial, dtype=float).tolist())
    for t in range(steps):
        for i, node in enumerate(nodes):
            child = name[(node.name, t)]
            parents = [name[(p, t if lag == 0 else t - 1)] for p, lag in node.parents]
            parents.append(name[(node.name, t - 1)])
            for parent in parents:
                bn.addArc(parent, child)
            _fill(bn, child, parents, tables[i])
    return bn


def _fill(bn: Any, child: str, parents: list[str], table: np.ndarray) -> None:
    """Set ``child``'s table: ``table[config..., :]`` over the parents' state indices."""
    cpt = bn.cpt(child)
    sizes = table.shape[:-1]
    for config in itertools.product(*(range(s) for s in sizes)):
        at = {
            parent: bn.variable(parent).labels()[k]
            for parent, k in zip(parents, config, strict=True)
        }
        row = np.asarray(table[config], dtype=float)
        cpt[at] = (row / row.sum()).tolist()


def write_network(bn: Any, path: str | Path) -> Path:
    """Write a network with pyAgrum, the format from the suffix (see :data:`FORMATS`)."""
    import pyagrum as gum

    gum.saveBN(bn, str(path))
    return Path(path)
