"""Evidence sources: each becomes a report node, a memoryless child of the node it informs.

A source declared under ``sources:`` informs one node (``reports_on``) in one of two ways.

- With a ``reliability``, it names a state: right with that probability, otherwise any other
  state equally likely. Its table is P(report | true state): one free rule per true state,
  its prior the stated reliability (a wrong state gets an equal share of the rest).
- With ``measures``, it reads a number (a series ``reported_by`` it): per true state the
  reading is log-normal with a stated median and interval (times the source's bias), counted
  on a grid of cells. Its table is P(cell | true state): one Dirichlet rule per true state
  whose mean is the log-normal's cell masses (an emission model on a grid).

Either table is learnt in the fit like every rule. Reports that name the source are evidence
on its node, so several sources may report the same node-month and disagree; evidence without
a source stays the truth. The engine sums each report node out in its month (it has no
children and no memory), so a source adds nothing to the joint state.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

from forecast.scenario.schema import (
    Judgement,
    Measure,
    NodeSpec,
    ScenarioSpec,
    SourceSpec,
    Spread,
    TransitionRule,
)
from forecast.scenario.semantics import Checker

SMALLEST_CONCENTRATION = 0.25
"""Least Dirichlet weight of a grid cell in a measure's prior: a reading far from every
state's stated range stays possible (and the prior proper), at a quarter of a reading."""


def _cell_text(value: float) -> str:
    return f"{value:g}".replace(".", "p").replace("+", "").replace("-", "m")


def grid_states(measure: Measure) -> list[str]:
    """Names of the cells of a measure's grid: ``below_<e0>``, ``<a>_to_<b>``, ``from_<e>``."""
    edges = [_cell_text(e) for e in measure.edges]
    inner = [f"from_{a}_to_{b}" for a, b in itertools.pairwise(edges)]
    return [f"below_{edges[0]}", *inner, f"from_{edges[-1]}"]


def grid_cell(measure: Measure, value: float) -> int | None:
    """Index of the grid cell a reading falls in (None for a negative reading)."""
    if value < 0:
        return None
    return sum(1 for edge in measure.edges if value >= edge)


def _log_spread(spread: Spread, z: float) -> tuple[float, float]:
    """Location and scale on the log axis of a median and interval.

    A lower end of 0 is taken as unstated: the upper end alone sets the scale.
    """
    lo, hi = spread.interval
    mu = math.log(spread.median)
    if lo <= 0:
        return mu, (math.log(hi) - mu) / z
    return mu, (math.log(hi) - math.log(lo)) / (2 * z)


def grid_probabilities(measure: Measure, state: str) -> list[float]:
    """The prior mean of a state's readings over the grid: the log-normal's cell masses.

    The bias factor's log-normal adds to the state's (location and variance both add).
    """
    z = NormalDist().inv_cdf(0.5 + measure.credibility / 2)
    mu, sigma = _log_spread(measure.by_state[state], z)
    if measure.bias is not None:
        b_mu, b_sigma = _log_spread(measure.bias, z)
        mu, sigma = mu + b_mu, math.hypot(sigma, b_sigma)
    cuts = [NormalDist(mu, sigma).cdf(math.log(e)) for e in measure.edges]
    masses = [b - a for a, b in zip([0.0, *cuts], [*cuts, 1.0], strict=True)]
    return [max(m, 0.0) for m in masses]


def measure_concentration(measure: Measure, state: str) -> dict[str, float]:
    """The Dirichlet prior of a state's readings over the grid.

    At least :data:`SMALLEST_CONCENTRATION` per cell.
    """
    cells = grid_states(measure)
    masses = grid_probabilities(measure, state)
    return {
        cell: max(SMALLEST_CONCENTRATION, measure.strength * m)
        for cell, m in zip(cells, masses, strict=True)
    }


def measure_node(name: str, source: SourceSpec, node: NodeSpec) -> NodeSpec:
    """The report node of a measuring source: its grid cells as states.

    One rule per true state, with a Dirichlet prior from the stated log-normal.
    """
    measure = source.measures
    assert measure is not None
    cells = grid_states(measure)
    unit = f" {measure.unit}" if measure.unit else ""
    rules = [
        TransitionRule(
            given={source.reports_on: state},
            dirichlet=measure_concentration(measure, state),
            rationale=f"{source.rationale} (from sources.{name}.measures.by_state.{state})",
            id=report_rule_id(name, state),
        )
        for state in node.states
    ]
    return NodeSpec(
        label=source.label or f"{name}'s reading of {source.reports_on}",
        description=(
            f"The grid cell of {source.label or name}'s reading{unit} in the month; its "
            f"distribution in each state of '{source.reports_on}' is learnt from a log-normal "
            "prior."
        ),
        states={cell: cell.replace("_", " ") for cell in cells},
        parents={source.reports_on: 0},
        initial=cells[0],
        transitions=rules,
    )


def _measure_problems(check: Checker, name: str, source: SourceSpec, node: NodeSpec) -> bool:
    """Add the problems of a measure's states; whether there were none."""
    measure = source.measures
    assert measure is not None
    path = ("sources", name, "measures", "by_state")
    missing = [s for s in node.states if s not in measure.by_state]
    unknown = [s for s in measure.by_state if s not in node.states]
    for state in unknown:
        check.add(
            (*path, state),
            f"'{source.reports_on}' has no state '{state}'",
            f"the states of '{source.reports_on}': {', '.join(node.states)}",
        )
    if missing:
        check.add(
            path,
            f"no reading range for state(s) {', '.join(missing)} of '{source.reports_on}'",
            f"a median and interval for every state: {', '.join(node.states)}",
        )
    return not (missing or unknown)


def report_rule_id(source: str, state: str) -> str:
    """Id of the rule of ``source``'s reports when the true state is ``state``."""
    return f"{source}_when_{state}"


def _wrong_share(source: SourceSpec, n_states: int) -> Judgement:
    """The judgement of one wrong state: an equal share of ``1 - reliability``."""
    judged = source.reliability
    assert (
        judged is not None and judged.best is not None and judged.interval is not None
    )  # checked by the schema
    lo, hi = judged.interval
    share = n_states - 1
    return Judgement(
        best=(1.0 - judged.best) / share,
        interval=((1.0 - hi) / share, (1.0 - lo) / share),
        credibility=judged.credibility,
    )


def report_node(name: str, source: SourceSpec, node: NodeSpec) -> NodeSpec:
    """The report node of source ``name``: a memoryless child of the node it reports on."""
    states = list(node.states)
    wrong = _wrong_share(source, len(states))
    assert source.reliability is not None
    judged = source.reliability.best
    rules = [
        TransitionRule(
            given={source.reports_on: state},
            to={other: wrong for other in states if other != state},
            rationale=f"{source.rationale} (from sources.{name}.reliability)",
            id=report_rule_id(name, state),
        )
        for state in states
    ]
    return NodeSpec(
        label=source.label or f"{name}'s report of {source.reports_on}",
        description=(
            f"What {source.label or name} reports of '{source.reports_on}' in the month: "
            f"its true state with the source's reliability ({judged:g} "
            "as stated), else another state."
        ),
        states=dict(node.states),
        parents={source.reports_on: 0},
        initial=states[0],
        transitions=rules,
    )


def with_sources(check: Checker, spec: ScenarioSpec) -> ScenarioSpec | None:
    """The scenario with every declared source's report node among its nodes.

    Problems (an unknown node, a source named as a node or as a parent, a reliability no
    better than chance) are added to ``check``; None is returned then.
    """
    if not spec.sources:
        return spec
    ok = True
    added: dict[str, NodeSpec] = {}
    for name, source in spec.sources.items():
        path = ("sources", name)
        if name in spec.nodes:
            check.add(
                path,
                f"source '{name}' has the name of a node",
                "a source name that no node has (its reports become a node of that name)",
            )
            ok = False
            continue
        node = spec.nodes.get(source.reports_on)
        if node is None:
            check.add(
                (*path, "reports_on"),
                f"unknown node '{source.reports_on}'",
                f"one of the nodes: {', '.join(spec.nodes)}",
            )
            ok = False
            continue
        if source.measures is not None:
            if _measure_problems(check, name, source, node):
                added[name] = measure_node(name, source, node)
            else:
                ok = False
            continue
        assert source.reliability is not None and source.reliability.best is not None
        chance = 1.0 / len(node.states)
        if source.reliability.best <= chance:
            check.add(
                (*path, "reliability", "best"),
                f"a reliability of {source.reliability.best:g} is no better than chance "
                f"({chance:.3g} for the {len(node.states)} states of '{source.reports_on}')",
                f"a best guess above {chance:.3g}: a source right no more often than chance "
                "carries no information (leave its reports out instead)",
            )
            ok = False
            continue
        added[name] = report_node(name, source, node)
    for name, node in spec.nodes.items():
        for parent in node.parents:
            if parent in spec.sources:
                check.add(
                    ("nodes", name, "parents", parent),
                    f"'{parent}' is an evidence source, not a cause",
                    "parents among the nodes (a source's reports inform the node it reports "
                    "on, and nothing else)",
                )
                ok = False
    if not ok:
        return None
    return spec.model_copy(update={"nodes": {**spec.nodes, **added}})
