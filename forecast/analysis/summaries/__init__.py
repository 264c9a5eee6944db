"""Tables of scenarios and fits: claims, priors, outcomes by month, parameters, diagnostics."""

from forecast.analysis.summaries.claims import (
    causal_edges,
    load_claim_map,
    node_claims,
)
from forecast.analysis.summaries.diagnostics import (
    diagnostics_table,
)
from forecast.analysis.summaries.outcomes import (
    evidence_cutoff,
    headline_table,
    outcome_curves,
    question_summary,
    rule_parameters,
    select_outcomes,
    with_reached_curves,
)
from forecast.analysis.summaries.parameters import (
    parameter_draws,
    rule_parameter_table,
)
from forecast.analysis.summaries.priors import (
    marginal_beta,
    prior_table,
    rule_condition,
)
from forecast.analysis.summaries.tables import (
    forecast_table,
    monthly_bands,
    state_probabilities,
)

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
    "select_outcomes",
    "state_probabilities",
    "with_reached_curves",
]
