"""Exact inference in plain numpy: the factored forward-backward algorithm (no PyMC)."""

from forecast.engine.exact import ExactEngine, ExactResult, central_params, evidence_matrices
from forecast.engine.plan import StepPlan, make_plan, scenario_plan

__all__ = [
    "ExactEngine",
    "ExactResult",
    "StepPlan",
    "central_params",
    "evidence_matrices",
    "make_plan",
    "scenario_plan",
]
