"""The front door: :class:`ScenarioModel` and its :class:`Fit`, what users and notebooks call.

Names are loaded on first use, so ``import forecast`` stays light (no PyMC, ArviZ or numba).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecast.analysis.counterfactuals import Intervention, Observation, top_swings
    from forecast.analysis.evaluation import (
        evidence_arrivals,
        largest_moves,
        replay_dates,
        score_summary,
    )
    from forecast.analysis.summaries import load_claim_map
    from forecast.api.fit import Fit
    from forecast.api.forecasters import Forecasters
    from forecast.api.loading import load_scenario
    from forecast.api.model import ScenarioModel
    from forecast.api.project import (
        ProjectFileNotFoundError,
        find_file,
        find_scenario,
        project_root,
    )
    from forecast.api.provenance import DifferentModelError
    from forecast.api.several import diagnostics, headline, pool
    from forecast.pymc_backend.fitting import SamplerConfig

EXPORTS = {
    "ScenarioModel": "forecast.api.model",
    "Fit": "forecast.api.fit",
    "Forecasters": "forecast.api.forecasters",
    "DifferentModelError": "forecast.api.provenance",
    "load_scenario": "forecast.api.loading",
    "project_root": "forecast.api.project",
    "find_file": "forecast.api.project",
    "find_scenario": "forecast.api.project",
    "ProjectFileNotFoundError": "forecast.api.project",
    "pool": "forecast.api.several",
    "headline": "forecast.api.several",
    "diagnostics": "forecast.api.several",
    "SamplerConfig": "forecast.pymc_backend.fitting",
    "Intervention": "forecast.analysis.counterfactuals",
    "Observation": "forecast.analysis.counterfactuals",
    "top_swings": "forecast.analysis.counterfactuals",
    "load_claim_map": "forecast.analysis.summaries",
    "replay_dates": "forecast.analysis.evaluation",
    "evidence_arrivals": "forecast.analysis.evaluation",
    "largest_moves": "forecast.analysis.evaluation",
    "score_summary": "forecast.analysis.evaluation",
    "sbc": "forecast.api.calibration",
}
"""Public name -> the module that defines it."""

__all__ = [
    "DifferentModelError",
    "Fit",
    "Forecasters",
    "Intervention",
    "Observation",
    "ProjectFileNotFoundError",
    "SamplerConfig",
    "ScenarioModel",
    "diagnostics",
    "evidence_arrivals",
    "find_file",
    "find_scenario",
    "headline",
    "largest_moves",
    "load_claim_map",
    "load_scenario",
    "pool",
    "project_root",
    "replay_dates",
    "score_summary",
    "top_swings",
]


def __getattr__(name: str) -> Any:
    if name in EXPORTS:
        return getattr(importlib.import_module(EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *EXPORTS])
