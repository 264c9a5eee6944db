"""Whether several forecasters' scenarios and priors share one structure.

Each forecaster writes the same scenario (nodes, rules, evidence, questions) with their own
priors, so that one compiled model serves them all. :func:`check_same_structure` compares
the scenarios, :func:`check_priors_match` the priors with a scenario's free rules; both
raise :class:`StructureMismatchError` listing every difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from forecast.elicitation import Priors
from forecast.scenario.validated import Scenario

__all__ = ["StructureMismatchError", "check_priors_match", "check_same_structure"]


class StructureMismatchError(ValueError):
    """Forecasters' scenarios (or priors) that do not share one structure.

    Parameters
    ----------
    problems : list of str
        Every difference found, one line each.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "the forecasters' scenarios do not share one structure:\n  "
            + "\n  ".join(self.problems)
        )


def _rule_signature(scenario: Scenario) -> dict[str, tuple]:
    """Every rule (free or ``stays``) by name: what it applies to and where it leads."""
    out = {}
    for node in scenario.nodes:
        for rule in node.rules:
            out[rule.name] = (
                rule.from_states,
                tuple(sorted(rule.given.items())),
                rule.within_months,
                rule.destinations,
            )
    return out


def _evidence_signature(scenario: Scenario) -> list[tuple]:
    items = (*scenario.evidence, *scenario.superseded)
    return sorted(
        (e.node, e.date, e.known_on, e.states, e.likelihood or (), e.superseded_on) for e in items
    )


def _question_signature(scenario: Scenario) -> list[tuple]:
    return [(q.id, q.node, q.states, q.date, q.kind, q.window_start) for q in scenario.questions]


def _structure_problems(
    name: str, scenario: Scenario, ref_name: str, reference: Scenario
) -> list[str]:
    """Differences between one forecaster's scenario and the reference scenario."""
    where = f"forecaster '{name}' vs '{ref_name}'"
    mine, theirs = _rule_signature(scenario), _rule_signature(reference)
    problems = []
    missing = [r for r in theirs if r not in mine]
    extra = [r for r in mine if r not in theirs]
    if missing:
        problems.append(f"{where}: rule(s) missing: {', '.join(missing)}")
    if extra:
        problems.append(f"{where}: rule(s) not in '{ref_name}': {', '.join(extra)}")
    if not missing and not extra and list(mine) != list(theirs):
        problems.append(f"{where}: the rules are in a different order")
    labels = ("from states", "given", "within_months", "destinations")
    for rule in (r for r in theirs if r in mine):
        for label, a, b in zip(labels, mine[rule], theirs[rule], strict=True):
            if a != b:
                problems.append(f"{where}: rule {rule}: {label} {a!r} differs from {b!r}")
    if [n.name for n in scenario.nodes] != [n.name for n in reference.nodes]:
        problems.append(
            f"{where}: nodes {[n.name for n in scenario.nodes]} differ from "
            f"{[n.name for n in reference.nodes]}"
        )
    else:
        for a, b in zip(scenario.nodes, reference.nodes, strict=True):
            if a.states != b.states or a.parents != b.parents or a.absorbing != b.absorbing:
                problems.append(
                    f"{where}: node {a.name}: states, parents or absorbing states differ"
                )
            elif not np.allclose(a.initial, b.initial):
                problems.append(f"{where}: node {a.name}: initial states differ")
    if (scenario.timeline.start, scenario.timeline.horizon) != (
        reference.timeline.start,
        reference.timeline.horizon,
    ):
        problems.append(f"{where}: the timelines differ")
    if _question_signature(scenario) != _question_signature(reference):
        problems.append(f"{where}: the questions differ (ids, nodes, states, dates or kinds)")
    if _evidence_signature(scenario) != _evidence_signature(reference):
        problems.append(
            f"{where}: the evidence differs ({len(scenario.evidence)} vs "
            f"{len(reference.evidence)} items)"
        )
    return problems


def check_same_structure(
    scenarios: Mapping[str, Scenario], reference: Scenario | None = None
) -> None:
    """Check that every forecaster's scenario has the reference scenario's structure.

    The structure is everything but the priors: nodes (states, parents, initial and absorbing
    states), every rule's name, condition, horizon and destinations, the timeline, the
    questions and the evidence. Rationales, priors and reference classes may differ.

    Parameters
    ----------
    scenarios : mapping of str to Scenario
        Forecaster name -> that forecaster's scenario.
    reference : Scenario, optional
        The scenario the others must match (default: the first forecaster's).

    Raises
    ------
    StructureMismatchError
        Listing every difference, rule names first (missing and extra rules by name).
    """
    if not scenarios:
        raise ValueError("no forecasters given")
    names = list(scenarios)
    ref_name = reference.id if reference is not None else names[0]
    reference = reference if reference is not None else scenarios[names[0]]
    problems = []
    for name, scenario in scenarios.items():
        if scenario is not reference:
            problems += _structure_problems(name, scenario, ref_name, reference)
    if problems:
        raise StructureMismatchError(problems)


def check_priors_match(scenario: Scenario, priors: Mapping[str, Priors]) -> None:
    """Check that every forecaster's priors have the scenario's free rules, in order.

    Parameters
    ----------
    scenario : Scenario
        The shared structure.
    priors : mapping of str to Priors
        Forecaster (or pool) name -> priors.

    Raises
    ------
    StructureMismatchError
        Naming, per forecaster, the rules missing and those not in the scenario, or saying
        that the names match but the order or the outcomes (``stay`` and the rule's
        destinations) do not.
    """
    expected = [(r.name, ("stay", *r.destinations)) for r in scenario.rules]
    problems = []
    for name, prior in priors.items():
        found = [(r.rule, tuple(r.labels)) for r in prior.rules]
        if found == expected:
            continue
        want, got = [e[0] for e in expected], [f[0] for f in found]
        missing = [r for r in want if r not in got]
        extra = [r for r in got if r not in want]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"not in scenario '{scenario.id}': {', '.join(extra)}")
        if not detail:
            detail.append("same rule names but a different order or different outcomes")
        problems.append(
            f"priors of forecaster '{name}': rule names do not match the "
            f"scenario's ({'; '.join(detail)})"
        )
    if problems:
        raise StructureMismatchError(problems)
