"""Re-fitting after a prior edit: importance resampling when reliable, NUTS otherwise."""

from __future__ import annotations

import numpy as np
import pytest

import forecast
from forecast.analysis.reweighting.prior_update import systematic_resample, update_priors
from forecast.pymc_backend.fitting import (
    FIT_METHOD_NUTS,
    FIT_METHOD_REWEIGHTED,
    SamplerConfig,
    ScenarioFitter,
    diagnose,
)
from forecast.settings import ESS_MIN, PARETO_K_MAX
from tests.paths import TINY
from tests.pymc_backend.test_model import assert_matches_importance_sampling


@pytest.fixture
def fitted():
    fitter = ScenarioFitter(
        forecast.load_scenario(TINY), sampler=SamplerConfig(draws=1000, tune=500, chains=2, cores=2)
    )
    return fitter, fitter.fit(seed=21)


def _beta_rule(fitter: ScenarioFitter):
    return next(r for r in fitter.priors.rules if r.is_beta)


def test_small_edit_is_reweighted_and_matches_the_new_posterior(fitted) -> None:
    fitter, fit = fitted
    prior = _beta_rule(fitter)
    edited = fitter.priors.replace(prior.rule, prior.alpha * 1.5)
    updated = update_priors(fitter, fit, edited)
    attrs = updated.posterior.attrs
    assert attrs["fit_method"] == FIT_METHOD_REWEIGHTED
    assert attrs["reweight_pareto_k"] <= PARETO_K_MAX and attrs["reweight_ess"] >= ESS_MIN
    assert fitter.priors is edited and fitter.compiles == 1
    assert updated.posterior.sizes == fit.posterior.sizes
    assert attrs["as_of"] == fit.posterior.attrs["as_of"]
    # against prior draws of the NEW priors weighted by the exact likelihood
    assert_matches_importance_sampling(fitter, updated, 40_000, seed=22)
    # the diagnostics cannot claim more precision than the importance weights carry
    table = diagnose(updated, ["question_prob"]).table
    assert np.nanmax(table["ess_bulk"]) <= attrs["reweight_ess"]
    # the prior group follows the new priors too
    new_prior_means = edited[prior.rule].mean[1]
    assert abs(float(updated.prior[prior.rule].mean()) - new_prior_means) < 0.02


def test_large_edit_runs_nuts_again(fitted) -> None:
    fitter, fit = fitted
    prior = _beta_rule(fitter)
    # from the stated prior to its mirror image: far outside the posterior's draws
    edited = fitter.priors.replace(prior.rule, prior.alpha[::-1] * 20)
    updated = update_priors(fitter, fit, edited, seed=5)
    attrs = updated.posterior.attrs
    assert attrs["fit_method"] == FIT_METHOD_NUTS
    assert attrs["reweight_pareto_k"] > PARETO_K_MAX or attrs["reweight_ess"] < ESS_MIN
    assert attrs["seed"] == 5 and fitter.compiles == 1
    assert_matches_importance_sampling(fitter, updated, 40_000, seed=23)


def test_systematic_resampling_follows_the_weights() -> None:
    weights = np.array([0.5, 0.0, 0.25, 0.25])
    counts = np.bincount(systematic_resample(weights, np.random.default_rng(0)), minlength=4)
    assert counts.tolist() == [2, 0, 1, 1]


def test_route_selection_own_draws_pool_or_nuts(fitted) -> None:
    from forecast.analysis.reweighting import LikelihoodPool

    fitter, fit = fitted
    original = fitter.priors
    prior = _beta_rule(fitter)
    built = []

    def make_pool():
        built.append(1)
        return LikelihoodPool(
            fitter.engine, fitter.set_evidence(None), original, seed=3, base=3000, per_rule=200
        )

    # a small edit: the fit's own draws carry it, the pool recipe is not even built
    small = original.replace(prior.rule, prior.alpha * 1.2)
    out = update_priors(fitter, fit, small, pool=make_pool)
    assert out.posterior.attrs["reweight_source"] == "posterior" and not built
    own_ess = out.posterior.attrs["reweight_ess"]
    # a far edit: the fit's draws do not carry it, the pool does (and is built once)
    fitter.set_priors(original)
    far = original.replace(prior.rule, np.array([2.0, 60.0]))
    out = update_priors(fitter, fit, far, pool=make_pool)
    assert out.posterior.attrs["reweight_source"] == "likelihood pool" and built == [1]
    assert out.posterior.attrs["reweight_ess"] >= ESS_MIN
    assert_matches_importance_sampling(fitter, out, 40_000, seed=23)
    # a built pool changes nothing: the route depends on the fit and the priors only
    fitter.set_priors(original)
    out = update_priors(fitter, fit, small, pool=make_pool())
    assert out.posterior.attrs["reweight_source"] == "posterior"
    assert out.posterior.attrs["reweight_ess"] == pytest.approx(own_ess)
