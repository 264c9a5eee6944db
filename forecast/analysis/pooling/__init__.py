"""Several forecasters' priors on one scenario: forecasts and pools.

Each forecaster writes the same scenario (nodes, rules, evidence, questions) with their own
priors; one compiled model serves them all. The modules, bottom up:

- :mod:`~forecast.analysis.pooling.structure`: whether the forecasters' scenarios and priors
  share one structure (:func:`check_same_structure`, :func:`check_priors_match`);
- :mod:`~forecast.analysis.pooling.priors`: each forecaster's priors, side by side
  (:func:`forecaster_priors`, :func:`forecaster_prior_table`) and as judgements on the logit
  scale (:func:`elicited_judgements`);
- :mod:`~forecast.analysis.pooling.forecasts`: every forecaster's prior predictive and
  posterior forecast of every question, by importance re-weighting with the exact
  likelihood or by NUTS (:func:`forecaster_forecasts`, :class:`ForecastDraws`);
- :mod:`~forecast.analysis.pooling.pools`: linear and log pools of probabilities, forecasts
  and priors, and where the forecasters disagree (:func:`pooled_forecast_table`,
  :func:`log_pool_priors`, :func:`disagreement_table`);
- :mod:`~forecast.analysis.pooling.hierarchical`: partial pooling of the judgements into a
  pooled prior (:func:`hierarchical_pool`; its PyMC model is in
  :mod:`forecast.pymc_backend.hierarchical`).
"""

from forecast.analysis.pooling.forecasts import (
    PRIOR_STAGE,
    ForecastDraws,
    forecaster_forecasts,
    reference_updated,
)
from forecast.analysis.pooling.hierarchical import HierarchicalPool, hierarchical_pool
from forecast.analysis.pooling.pools import (
    LINEAR_POOL,
    LOG_POOL,
    disagreement_table,
    linear_pool,
    log_pool,
    log_pool_priors,
    pooled_forecast_table,
    pooled_reference_counts,
)
from forecast.analysis.pooling.priors import (
    elicited_judgements,
    forecaster_prior_table,
    forecaster_priors,
)
from forecast.analysis.pooling.structure import (
    StructureMismatchError,
    check_priors_match,
    check_same_structure,
)

__all__ = [
    "LINEAR_POOL",
    "LOG_POOL",
    "PRIOR_STAGE",
    "ForecastDraws",
    "HierarchicalPool",
    "StructureMismatchError",
    "check_priors_match",
    "check_same_structure",
    "disagreement_table",
    "elicited_judgements",
    "forecaster_forecasts",
    "forecaster_prior_table",
    "forecaster_priors",
    "hierarchical_pool",
    "linear_pool",
    "log_pool",
    "log_pool_priors",
    "pooled_forecast_table",
    "pooled_reference_counts",
    "reference_updated",
]
