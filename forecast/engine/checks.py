"""Checks of a scenario that need inference: evidence that no parameter values can explain."""

from __future__ import annotations

import numpy as np

from forecast.engine.exact import ExactEngine, central_params
from forecast.errors import Problem, ScenarioError
from forecast.scenario.validated import Scenario


def impossible_evidence(scenario: Scenario) -> list[Problem]:
    """Evidence that has probability zero under the scenario, for every parameter value.

    Transition probabilities allowed by a rule are strictly between 0 and 1 for every
    parameter value, so the evidence has probability zero everywhere exactly when it has
    probability zero at one interior point. The problem points at the first observation of
    the impossible month (``scenario.evidence_where``).
    """
    engine = ExactEngine(scenario)
    result = engine.run(central_params(scenario), engine.evidence(), questions=())
    zero = np.flatnonzero(result.norms == 0)
    if not zero.size:
        return []
    step = int(zero[0])
    month = scenario.timeline.month_label(step)
    here = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) == step]
    earlier = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) < step]
    shown = "; ".join(f"{e.node} in {'|'.join(e.states)} ({e.origin})" for e in here)
    context = (
        f"given the initial states and {len(earlier)} earlier observation(s)"
        if earlier
        else "given the initial states"
    )
    where = scenario.evidence_where
    default = where.get("", (str(scenario.path or scenario.id), "evidence", None))
    at_file, at_field, at_line = where.get(here[0].origin if here else "", default)
    return [
        Problem(
            at_file,
            at_field,
            f"the evidence of {month} has probability zero under the scenario {context}: {shown}",
            "evidence that some path allowed by the transition rules can produce "
            "(check absorbing states, 'stays' rules and initial states)",
            at_line,
        )
    ]


def check_evidence_possible(scenario: Scenario) -> Scenario:
    """The scenario, once its evidence is shown possible.

    Raises
    ------
    ScenarioError
        If some month's evidence has probability zero (see :func:`impossible_evidence`).
    """
    problems = impossible_evidence(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario
