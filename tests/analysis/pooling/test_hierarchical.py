"""The hierarchical pool: the pooled prior of identical and of disagreeing forecasters."""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose
from scipy import special, stats

from forecast.analysis.pooling.hierarchical import hierarchical_pool
from forecast.analysis.pooling.priors import elicited_judgements, forecaster_priors
from forecast.elicitation import elicit


@pytest.fixture(scope="module")
def identical_pool(tiny):
    priors = elicit(tiny)
    return hierarchical_pool(
        tiny, {"a": priors, "b": priors, "c": priors}, seed=2, draws=300, tune=300
    )


def test_hierarchical_pool_of_identical_forecasters(tiny, identical_pool):
    table = identical_pool.table.set_index(["rule", "destination"])
    judgements = elicited_judgements(tiny, {"a": elicit(tiny)}).set_index(["rule", "destination"])
    # the shared mean sits on the common best guess: three measurements with sd s
    # against a Normal(0, 5) prior shrink the logit by the factor (3/s^2) / (3/s^2 + 1/25)
    factor = (3 / judgements["logit_sd"] ** 2) / (3 / judgements["logit_sd"] ** 2 + 1 / 25)
    centre = special.expit(judgements["logit_best"] * factor)
    assert_allclose(table["shared_centre"], centre, atol=0.02)
    assert_allclose(table["shared_centre"], judgements["best"], atol=0.03)
    # the pooled mean adds Jensen's shift of averaging over the logit spread (a few points)
    assert_allclose(table["pooled_mean"], judgements["best"], atol=0.05)
    # the pooled prior keeps the forecasters' own width and adds the uncertainty about the
    # shared mean: never narrower than their common prior
    prior = elicit(tiny)["a:no"]
    own = stats.beta(prior.alpha[1], prior.alpha[0])
    row = table.loc[("a:no", "yes")]
    assert row["pooled_low90"] <= own.ppf(0.05) + 1e-3
    assert row["pooled_high90"] >= own.ppf(0.95) - 1e-3
    assert identical_pool.priors["a:no"].source == "hierarchical pool"


def test_hierarchical_pool_of_disagreeing_forecasters_lies_between(tiny, two_views):
    priors = forecaster_priors(two_views, reference=tiny)
    pool = hierarchical_pool(tiny, priors, seed=4, draws=300, tune=300)
    row = pool.table.set_index(["rule", "destination"]).loc[("a:no", "yes")]
    assert (row["low"], row["high"]) == (0.3, 0.5)  # the two forecasters' best guesses
    assert 0.3 < row["shared_centre"] < 0.5
    assert 0.3 < row["pooled_mean"] < 0.5
    alpha = pool.priors["a:no"].alpha
    assert 0.3 < alpha[1] / alpha.sum() < 0.5
    assert pool.diagnostics["divergences"].max() == 0


def test_hierarchical_pool_needs_two_forecasters(tiny):
    with pytest.raises(ValueError, match="at least two forecasters"):
        hierarchical_pool(tiny, {"a": elicit(tiny)}, seed=1)
