"""The package's defaults and thresholds, in one place (as PreliZ keeps its settings).

Every module that needs one of these imports it from here; none restates the value.
"""

from __future__ import annotations

DEFAULT_SEED = 20240930
"""Seed of a fit, a prior predictive or a re-weighting when none is given."""

DEFAULT_CREDIBILITY = 0.8
"""Mass of a judgement's interval when the file states none."""

DRAWS = 2000
"""NUTS draws per chain (after tuning): enough for bulk and tail ESS 400 on a rule that only
its prior informs, such as a Dirichlet with a share near 0."""

TUNE = 1500
"""NUTS tuning steps per chain."""

CHAINS = 2
"""Chains per fit."""

CORES = 2
"""Chains run in parallel."""

TARGET_ACCEPT = 0.9
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

MAX_PARENT_CONFIGURATIONS = 4096
"""Most combinations of a node's parents' states (rows of its transition table per state):
the loader lists them to check that the rules cover each one, and the engine's joint grows
with them; 4,096 is twelve binary parents or seven with four states."""

MAX_SCENARIO_BYTES = 1_000_000
"""Largest scenario file read, in bytes (at most this many plus one are ever read, so an
endless file such as ``/dev/zero`` is refused at once)."""

MAX_YAML_ALIASES = 100
"""Most YAML aliases (``*name``) in one scenario file."""

MAX_YAML_NODES = 200_000
"""Most YAML values in a scenario file once every alias is expanded (refuses alias bombs)."""

MAX_YAML_DEPTH = 40
"""Deepest nesting of mappings and lists in a scenario file."""

MIN_YEAR = 1
"""Earliest year of a scenario's month or of any date in it (the calendar's start)."""

MAX_YEAR = 9998
"""Latest year of a scenario's month or date (so the month after the horizon still exists)."""

MAX_HORIZON_MONTHS = 600
"""Most monthly steps from start to horizon inclusive (50 years)."""

MAX_WITHIN_MONTHS = 120
MAX_MONTHS_IN_STATE = 24
"""Largest ``after`` of a rule's ``by_months_in_state`` step: the engine counts a node's months
in its state up to it, which multiplies the node's axis of the joint by as much."""
"""Longest period of a rule's N-month probability (``within_months``: 10 years)."""

MAX_REFERENCE_N = 1_000_000
"""Most cases in a rule's reference class (``reference_class.n``)."""

MAX_CONCENTRATION = 1e6
"""Largest Beta or Dirichlet parameter a scenario may state (``beta``, ``dirichlet``)."""

PROBABILITY_SUM_TOLERANCE = 1e-9
"""How far a rule's fixed ``probabilities`` (or a node's ``initial`` ones) may add up from 1."""

CSV_MAX_BYTES = 64 * 1024**2
"""Largest evidence CSV file read, in bytes (64 MiB); a larger file (or an endless one such as
``/dev/zero``) is refused before it is parsed."""

CSV_MAX_CELL_BYTES = 16 * 1024
"""Largest cell of an evidence CSV, in UTF-8 bytes (16 KiB: a long note is a few hundred)."""

ENGINE_MEMORY_BYTES = 8 * 1024**3
"""Most memory the engine may need for a scenario (8 GiB, or the machine's physical memory
when that is less); a scenario whose estimate (:func:`forecast.engine.plan.size_estimate`)
is larger is refused at check time."""

SMOOTHING_MEMORY_BYTES = 1024**3
"""Most memory a fit's summary passes hold at once for their blocks of draws, over all
threads (1 GiB): a large scenario's joint is summarised a few draws at a time rather than 64
(:func:`forecast.engine.plan.draws_per_block`)."""

MAX_DRAWS = 1_000_000
"""Most draws a fit (draws x chains) or a prior predictive may ask for: each draw keeps every
question and monthly marginal, so a million is already gigabytes on a large scenario."""
