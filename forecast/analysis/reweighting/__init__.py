"""Re-weighting draws: PSIS weights, effective sample sizes and prior edits on an existing fit."""

from forecast.analysis.reweighting.likelihood_pool import LikelihoodPool, PoolWeights
from forecast.analysis.reweighting.prior_density import log_prior_draws, rule_log_density
from forecast.analysis.reweighting.prior_update import (
    update_priors,
)
from forecast.analysis.reweighting.weights import (
    effective_sample_size,
    normalised_weights,
    psis_weights,
    relative_ess,
    weighted_mean_se,
    weighted_quantile,
)

__all__ = [
    "LikelihoodPool",
    "PoolWeights",
    "effective_sample_size",
    "log_prior_draws",
    "normalised_weights",
    "psis_weights",
    "relative_ess",
    "rule_log_density",
    "update_priors",
    "weighted_mean_se",
    "weighted_quantile",
]
