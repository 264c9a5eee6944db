"""Loading a scenario with every check, the engine's size and the evidence's dry run included."""

from __future__ import annotations

import os
from pathlib import Path

from forecast.engine.checks import check_evidence_possible
from forecast.scenario import Scenario, read_scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario file with every check, the engine's size and the evidence's dry run.

    :func:`forecast.scenario.read_scenario`, then
    :func:`forecast.engine.checks.check_evidence_possible`: a scenario larger than the engine
    can plan or than the memory it may use is refused with its size and estimate, and
    evidence that no parameters explain is refused (a dry run through the exact engine).

    Raises
    ------
    TypeError
        If ``path`` is not a str or a path.
    ScenarioError
        Listing every problem found, each with file, field, line and what is allowed (a
        missing file or a folder too, naming it).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or Path to a scenario file, not {type(path).__name__}")
    return check_evidence_possible(read_scenario(path))
