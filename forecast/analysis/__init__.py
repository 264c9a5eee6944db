"""Analyses of scenarios and fits: tables of priors, forecasts, outcomes and diagnostics."""

from forecast.analysis.claims import causal_edges, load_claim_map, node_claims
from forecast.analysis.diagnostics import diagnostics_table
from forecast.analysis.outcomes import (
    evidence_cutoff,
    headline_table,
    outcome_curves,
    question_summary,
    rule_parameters,
)
from forecast.analysis.parameters import parameter_draws, rule_parameter_table
from forecast.analysis.priors import marginal_beta, prior_table, rule_condition
from forecast.analysis.tables import forecast_table, monthly_bands, state_probabilities

__all__ = [
    "causal_edges",
    "diagnostics_table",
    "evidence_cutoff",
    "forecast_table",
    "headline_table",
    "load_claim_map",
    "marginal_beta",
    "monthly_bands",
    "node_claims",
    "outcome_curves",
    "parameter_draws",
    "prior_table",
    "question_summary",
    "rule_condition",
    "rule_parameter_table",
    "rule_parameters",
    "state_probabilities",
]
