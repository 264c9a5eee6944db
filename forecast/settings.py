"""The package's defaults and thresholds, in one place (as PreliZ keeps its settings).

Every module that needs one of these imports it from here; none restates the value.
"""

from __future__ import annotations

DEFAULT_SEED = 20240930
"""Seed of a fit, a prior predictive or a re-weighting when none is given."""

DEFAULT_CREDIBILITY = 0.8
"""Mass of a judgement's interval when the file states none."""

DRAWS = 1000
"""NUTS draws per chain (after tuning)."""

TUNE = 1000
"""NUTS tuning steps per chain."""

CHAINS = 2
"""Chains per fit."""

CORES = 2
"""Chains run in parallel."""

TARGET_ACCEPT = 0.8
"""NUTS target acceptance rate."""

SAMPLER_BACKEND = "nutpie"
"""Default sampler: nutpie on the numba-compiled density (``"pymc"``: ``pm.sample``)."""

RHAT_MAX = 1.01
"""Largest R-hat of a converged quantity."""

ESS_MIN = 400
"""Smallest bulk and tail ESS of a converged quantity, and smallest importance ESS of a
re-weighting that is trusted."""

PARETO_K_MAX = 0.7
"""Pareto k above which importance re-weighting is unreliable (Vehtari et al. 2024)."""

OWN_DRAWS_ESS = 1000
"""Importance ESS above which a prior edit re-weights the fit's own draws (a small edit);
below it the fit's likelihood pool is used when reliable, so a refit's route depends only on
the fit and the edited priors."""

POOL_BASE_DRAWS = 6000
"""Draws from the file's priors in the likelihood pool a prior edit is re-weighted from
(:mod:`forecast.analysis.reweighting.likelihood_pool`)."""

POOL_PER_RULE_DRAWS = 200
"""Draws per rule, with that rule's prior flattened, in the likelihood pool."""

POOL_BROADEN = 3.0
"""Factor a flattened rule's Dirichlet parameters are divided by (same mean, wider)."""

POOL_EXTEND_DRAWS = 600
"""Draws from the edited priors themselves, added when the pool does not cover an edit."""

CONSTANT_SPREAD = 1e-9
"""Quantities whose draws all agree within this are fixed by the evidence (no R-hat/ESS)."""

SENSITIVITY_THRESHOLD = 0.05
"""Power-scaling sensitivity at or above which a component counts as influential."""

LOG_CLIP = 1e-6
"""Forecasts are clipped to ``[LOG_CLIP, 1 - LOG_CLIP]`` in the log score."""
