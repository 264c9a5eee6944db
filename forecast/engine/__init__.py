"""Exact inference in plain numpy: the factored forward-backward algorithm (no PyMC)."""

from forecast.engine.exact import (
    ExactEngine,
    ExactResult,
    TableOverride,
    central_params,
    evidence_matrices,
    forced_state,
)
from forecast.engine.plan import StepPlan, make_plan, scenario_plan

__all__ = [
    "ExactEngine",
    "ExactResult",
    "StepPlan",
    "TableOverride",
    "central_params",
    "evidence_matrices",
    "forced_state",
    "make_plan",
    "scenario_plan",
]
