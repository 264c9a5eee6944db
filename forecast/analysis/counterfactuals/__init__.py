"""Counterfactual analyses: what-if contrasts, prior sensitivity, value of information."""

from forecast.analysis.counterfactuals.sensitivity import (
    PriorEdit,
    engine_for,
    outcome_questions,
    power_scaling,
    prior_edits,
    rule_label,
    shift_mean,
    top_swings,
    tornado_table,
    with_log_densities,
)
from forecast.analysis.counterfactuals.voi import (
    ValueOfInformation,
    next_month,
    preposterior,
    value_of_information,
)
from forecast.analysis.counterfactuals.whatif import (
    CaseDraws,
    Intervention,
    Observation,
    WhatIf,
    case_draws,
    curve_questions,
    weighted_summary,
    what_if,
    what_if_table,
)

__all__ = [
    "CaseDraws",
    "Intervention",
    "Observation",
    "PriorEdit",
    "ValueOfInformation",
    "WhatIf",
    "case_draws",
    "curve_questions",
    "engine_for",
    "next_month",
    "outcome_questions",
    "power_scaling",
    "preposterior",
    "prior_edits",
    "rule_label",
    "shift_mean",
    "top_swings",
    "tornado_table",
    "value_of_information",
    "weighted_summary",
    "what_if",
    "what_if_table",
    "with_log_densities",
]
