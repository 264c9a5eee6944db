"""Loading a scenario with every check, the evidence's dry run through the engine included."""

from __future__ import annotations

from pathlib import Path

from forecast.engine.checks import check_evidence_possible
from forecast.scenario import Scenario, read_scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load, validate and resolve a scenario file.

    Parameters
    ----------
    path : str or Path
        A YAML scenario file.

    Returns
    -------
    Scenario
        The validated scenario with its evidence and questions on the timeline.

    Raises
    ------
    ScenarioError
        Listing every problem found, each with file, field, line and what is allowed, the
        evidence that no parameter values can explain included.
    """
    return check_evidence_possible(read_scenario(path))
