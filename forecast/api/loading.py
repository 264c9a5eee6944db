"""Loading a scenario with every check, the evidence's dry run through the engine included."""

from __future__ import annotations

from pathlib import Path

from forecast.engine.checks import check_evidence_possible
from forecast.scenario import Scenario, read_scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario file with every check, the evidence's dry run included.

    :func:`forecast.scenario.read_scenario`, then
    :func:`forecast.engine.checks.impossible_evidence` through the exact engine.

    Raises
    ------
    ScenarioError
        Listing every problem found, each with file, field, line and what is allowed.
    """
    return check_evidence_possible(read_scenario(path))
