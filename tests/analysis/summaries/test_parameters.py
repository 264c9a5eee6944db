import numpy as np
from numpy.testing import assert_allclose

from forecast.analysis.summaries import parameter_draws, rule_parameter_table


def test_table_matches_the_draws(tiny, tiny_fits):
    idata = tiny_fits["all evidence"]
    table = rule_parameter_table(idata, tiny)
    assert len(table) == sum(len(r.destinations) for r in tiny.rules)
    post = idata.posterior["b:mid"].sel({"b:mid_outcome": "high"}).values.ravel()
    row = table[(table["rule"] == "b:mid") & (table["destination"] == "high")].iloc[0]
    assert_allclose(row["posterior_mean"], post.mean())
    assert_allclose([row["posterior_low"], row["posterior_high"]], np.quantile(post, [0.05, 0.95]))
    prior = idata.prior["a:no"].values.ravel()
    row = table[table["rule"] == "a:no"].iloc[0]
    assert_allclose(row["prior_mean"], prior.mean())
    for group in ("prior", "posterior"):
        assert (table[f"{group}_low"] <= table[f"{group}_mean"]).all()
        assert (table[f"{group}_mean"] <= table[f"{group}_high"]).all()


def test_prior_and_posterior_draws_line_up(tiny, tiny_fits):
    idata = tiny_fits["all evidence"]
    prior = parameter_draws(idata, tiny, "prior")
    post = parameter_draws(idata, tiny, "posterior")
    assert list(prior) == list(post)
    assert ("b:low[a=yes]", "mid") in post and ("b:low[a=yes]", "high") in post
    # the prior's Dirichlet draws have no labels on their outcome axis: the order is used
    both = prior[("b:low[a=yes]", "mid")] + prior[("b:low[a=yes]", "high")]
    assert np.all(both <= 1 + 1e-12)
