import pytest
from numpy.testing import assert_allclose

from forecast.analysis.summaries import state_probabilities


def test_state_probabilities_at_a_month(tiny, tiny_fits):
    idata = tiny_fits["all evidence"]
    table = state_probabilities(idata, tiny, "2024-03")
    assert len(table) == sum(n.n_states for n in tiny.nodes)
    assert_allclose(table.groupby("node")["mean"].sum(), 1.0)
    step = tiny.timeline.step_of("2024-03")
    b = idata.posterior["p_b"].values.reshape(-1, tiny.timeline.n_steps, 3)[:, step]
    assert_allclose(table[table["node"] == "b"]["mean"], b.mean(axis=0))
    assert (table["low"] <= table["mean"] + 1e-12).all()
    assert (table["mean"] <= table["high"] + 1e-12).all()


def test_observed_month_is_certain(tiny, tiny_fits):
    table = state_probabilities(tiny_fits["all evidence"], tiny, "2024-02")
    a_yes = table[(table["node"] == "a") & (table["state"] == "yes")].iloc[0]
    assert_allclose([a_yes["mean"], a_yes["low"], a_yes["high"]], 1.0)


def test_month_outside_the_timeline(tiny, tiny_fits):
    with pytest.raises(ValueError, match="outside"):
        state_probabilities(tiny_fits["all evidence"], tiny, "2025-01")
