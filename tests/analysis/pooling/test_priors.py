"""The forecasters' priors side by side and as judgements on the logit scale."""

from __future__ import annotations

from numpy.testing import assert_allclose
from scipy import special, stats

from forecast.analysis.pooling.priors import (
    elicited_judgements,
    forecaster_prior_table,
    forecaster_priors,
)
from forecast.elicitation import elicit


def test_elicited_judgements_on_the_logit_scale(tiny):
    table = elicited_judgements(tiny, {"me": elicit(tiny)}).set_index(["rule", "destination"])
    stated = table.loc[("a:no", "yes")]
    z = stats.norm.ppf(0.9)
    assert stated["stated"]
    assert_allclose(stated["logit_best"], special.logit(0.3))
    assert_allclose(stated["logit_sd"], (special.logit(0.6) - special.logit(0.1)) / (2 * z))
    # a rule given as Beta(2, 5) on moving: its mean and central 80% interval
    beta = table.loc[("a:yes", "no")]
    assert not beta["stated"]
    assert_allclose(beta["best"], 2 / 7)
    assert_allclose([beta["low"], beta["high"]], stats.beta(2, 5).ppf([0.1, 0.9]))


def test_forecaster_prior_table(tiny, two_views):
    priors = forecaster_priors(two_views, reference=tiny)
    table = forecaster_prior_table(tiny, priors, rules=["a:no"]).set_index("forecaster")
    assert_allclose(table["stated_best"], [0.3, 0.5])
    assert_allclose(table["mean"], [0.3, 0.5], atol=1e-6)
    a, b = priors["high"]["a:no"].alpha[1], priors["high"]["a:no"].alpha[0]
    assert_allclose(table.loc["high", "high90"], stats.beta(a, b).ppf(0.95))
