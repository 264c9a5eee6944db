"""Every forecaster's forecasts: prior draws, importance re-weighting against NUTS, NUTS."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose
from scipy import stats

from forecast.analysis.pooling.forecasts import PRIOR_STAGE, forecaster_forecasts, reference_updated
from forecast.elicitation import Priors, RulePrior, elicit


def test_prior_stage_is_the_fitters_prior_predictive(tiny_fitter, tiny, forecaster_draws):
    expected = tiny_fitter.prior_draws(seed=5, size=3000).prior["question_prob"].values[0]
    assert_allclose(forecaster_draws[("a", PRIOR_STAGE)].values, expected, rtol=1e-12)
    assert forecaster_draws[("a", PRIOR_STAGE)].ess == 3000


def test_importance_posterior_matches_nuts(tiny, tiny_fits, forecaster_draws):
    """The re-weighted prior draws agree with the NUTS fit within Monte Carlo error."""
    for label, stage in (("as of 2024-01-31", "early"), ("all evidence", "all")):
        values = tiny_fits[label].posterior["question_prob"].values
        nuts = values.reshape(-1, values.shape[-1]).mean(axis=0)
        assert_allclose(forecaster_draws[("a", stage)].mean(), nuts, atol=0.04)
    assert forecaster_draws[("a", "all")].ess > 500


def test_no_evidence_leaves_the_prior(forecaster_draws):
    """Nothing is reported by 2024-01-31: every weight is equal and the evidence certain."""
    early = forecaster_draws[("a", "early")]
    assert early.log_evidence == 0.0
    assert_allclose(early.ess, 3000)
    assert_allclose(early.values, forecaster_draws[("a", PRIOR_STAGE)].values)


def test_nuts_path_is_the_fitters_fit(tiny_fitter, tiny, tiny_fits):
    """method="nuts" re-uses the compiled fitter: the same fit as fitter.fit, priors restored."""
    original = tiny_fitter.priors
    other = elicit(tiny).replace("a:yes", np.array([1.0, 1.0]))
    draws = forecaster_forecasts(
        tiny_fitter, {"flat": other, "same": original}, {"all": None}, seed=3, method="nuts"
    )
    assert tiny_fitter.priors is original
    values = tiny_fits["all evidence"].posterior["question_prob"].values
    assert_allclose(draws[("same", "all")].values, values.reshape(-1, values.shape[-1]), rtol=1e-9)
    assert draws[("same", "all")].method == "nuts"
    # the least bulk ESS of a non-constant question (NUTS can exceed the 200 draws slightly)
    from forecast.pymc_backend.fitting import diagnose

    table = diagnose(tiny_fits["all evidence"], ["question_prob"]).table
    assert_allclose(
        draws[("same", "all")].ess, table.loc[~table["constant"], "ess_bulk"].min(), rtol=1e-9
    )
    assert not np.allclose(draws[("flat", "all")].mean(), draws[("same", "all")].mean())


def test_reference_classes_are_sampled_exactly():
    prior = Priors(
        [RulePrior("r", ("stay", "move"), np.array([3.0, 2.0]), counts=np.array([3.0, 1.0]))]
    )
    updated, log_evidence = reference_updated(prior)
    assert_allclose(updated["r"].alpha, [6.0, 3.0])
    assert updated["r"].counts is None
    # beta-binomial: 1 of 4 cases moved, prior Beta(move=2, stay=3)
    assert_allclose(log_evidence, stats.betabinom.logpmf(1, 4, 2.0, 3.0), rtol=1e-12)
