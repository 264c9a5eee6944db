import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from forecast.analysis.summaries.priors import marginal_beta, prior_table, rule_condition
from forecast.elicitation import elicit


@pytest.fixture(scope="module")
def table(tiny):
    return prior_table(tiny, elicit(tiny))


def test_one_row_per_rule_and_destination(tiny, table):
    assert len(table) == sum(len(r.destinations) for r in tiny.rules)
    assert list(table["rule"].unique()) == [r.name for r in tiny.rules]


@pytest.mark.parametrize(
    ("rule", "destination", "best", "low", "high"),
    [
        ("a:no", "yes", 0.3, 0.1, 0.6),
        ("b:low[a=yes]", "mid", 0.4, 0.2, 0.6),
        ("b:low[a=yes]", "high", 0.2, 0.05, 0.4),
    ],
)
def test_stated_judgements(table, rule, destination, best, low, high):
    row = table[(table["rule"] == rule) & (table["destination"] == destination)].iloc[0]
    assert (row["stated_best"], row["stated_low"], row["stated_high"]) == (best, low, high)
    assert_allclose(row["prior_mean"], best, atol=1e-6)
    dist = stats.beta(row["beta_a"], row["beta_b"])
    assert_allclose(row["prior_mass"], dist.cdf(high) - dist.cdf(low), atol=1e-9)


def test_rules_given_as_parameters_have_no_judgement(table):
    beta = table[table["rule"] == "a:yes"].iloc[0]
    assert np.isnan(beta["stated_best"]) and np.isnan(beta["prior_mass"])
    assert_allclose(beta["prior_mean"], 2 / 7)
    dirichlet = table[table["rule"] == "b:mid"].set_index("destination")
    assert_allclose(dirichlet["prior_mean"], [1 / 6, 2 / 6])
    assert (dirichlet["source"] == "dirichlet").all()


def test_marginal_beta_of_a_dirichlet(tiny):
    prior = elicit(tiny)["b:mid"]
    assert marginal_beta(prior, "high") == (2.0, 4.0)
    assert marginal_beta(prior, "stay") == (3.0, 3.0)


def test_rule_condition_in_words(tiny):
    rules = {r.name: r for r in tiny.rules}
    assert rule_condition(rules["b:low[a=yes]"]) == "from low, given a=yes"
    assert rule_condition(rules["a:no"]) == "from no"
