"""Analyses of scenarios and fits: tables of priors, forecasts, outcomes and diagnostics."""

from forecast.analysis.backtest import (
    Cutoff,
    Replay,
    evidence_arrivals,
    importance_weights,
    largest_moves,
    replay,
    replay_dates,
    weighted_quantile,
)
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
from forecast.analysis.scoring import (
    brier_score,
    calibration_table,
    lead_as_of,
    log_score,
    read_questions,
    resolved_questions,
    score_questions,
    score_summary,
    skill_score,
)
from forecast.analysis.tables import forecast_table, monthly_bands, state_probabilities

__all__ = [
    "Cutoff",
    "Replay",
    "brier_score",
    "calibration_table",
    "causal_edges",
    "diagnostics_table",
    "evidence_arrivals",
    "evidence_cutoff",
    "forecast_table",
    "headline_table",
    "importance_weights",
    "largest_moves",
    "lead_as_of",
    "load_claim_map",
    "log_score",
    "marginal_beta",
    "monthly_bands",
    "node_claims",
    "outcome_curves",
    "parameter_draws",
    "prior_table",
    "question_summary",
    "read_questions",
    "replay",
    "replay_dates",
    "resolved_questions",
    "rule_condition",
    "rule_parameter_table",
    "rule_parameters",
    "score_questions",
    "score_summary",
    "skill_score",
    "state_probabilities",
    "weighted_quantile",
]
