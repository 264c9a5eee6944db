"""Figures of several forecasters: their priors, pooled forecasts and disagreement."""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose

from forecast.analysis.pooling.pools import (
    LINEAR_POOL,
    LOG_POOL,
    disagreement_table,
    pooled_forecast_table,
)
from forecast.analysis.pooling.priors import forecaster_prior_table, forecaster_priors
from forecast.plots import FORECASTER_COLOURS
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.pooling import (
    plot_disagreement,
    plot_forecaster_priors,
    plot_pooled_forecasts,
)
from forecast.plots.style import ROLE_COLOURS


def _labels(fig):
    return {line.get_label() for ax in fig.axes for line in ax.lines}


@pytest.fixture(scope="module")
def table(tiny, forecaster_draws):
    return pooled_forecast_table(forecaster_draws, tiny)


@pytest.fixture(scope="module")
def prior_table(tiny, two_views):
    # the forecasters of forecaster_draws, "a" and "b", with the two views' priors
    views = {"a": two_views["low"], "b": two_views["high"]}
    return forecaster_prior_table(tiny, forecaster_priors(views, reference=tiny))


def test_figures_draw_every_forecaster_and_stage(tiny, table, prior_table):
    fig = plot_pooled_forecasts(table, ["b_high_apr", "a_yes_jan"])
    assert {
        "_a:prior:b_high_apr",
        "_b:all:a_yes_jan",
        f"_{LINEAR_POOL}:early:b_high_apr",
        f"_{LOG_POOL}:prior:a_yes_jan",
    } <= _labels(fig)
    line = next(ln for ax in fig.axes for ln in ax.lines if ln.get_label() == "_a:all:b_high_apr")
    row = table[
        (table["forecaster"] == "a")
        & (table["stage"] == "all")
        & (table["question"] == "b_high_apr")
    ].iloc[0]
    assert_allclose(line.get_xdata(), [row["low90"], row["high90"]])

    fig = plot_disagreement(disagreement_table(table, ["a", "b"]))
    assert {f"_prior:{q.id}" for q in tiny.questions} <= _labels(fig)

    fig = plot_forecaster_priors(prior_table, tiny)
    assert "_b:a:no:yes" in _labels(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[0].startswith("a: from no → yes") and ticks[0].endswith("\na:no")
    with pytest.raises(ValueError, match="unknown question"):
        plot_pooled_forecasts(table, ["nope"])


def test_every_figure_keeps_the_rules(tiny, table, prior_table):
    figures = [
        plot_pooled_forecasts(table),
        plot_pooled_forecasts(table, xscale="logit", ncols=2),
        plot_disagreement(disagreement_table(table, ["a", "b"])),
        plot_forecaster_priors(prior_table, tiny),
    ]
    for fig in figures:
        assert figure_problems(fig) == []


def test_a_forecaster_keeps_its_colour_and_pools_take_the_pooled_colour(tiny, table, prior_table):
    priors = role_colours(plot_forecaster_priors(prior_table, tiny))
    forecasts = role_colours(plot_pooled_forecasts(table))
    for k, name in enumerate(["a", "b"]):
        role = f"category:{name}"
        assert priors[role] == forecasts[role] == {FORECASTER_COLOURS[k].lower()}
    assert forecasts["pooled"] == {ROLE_COLOURS["pooled"].lower()}
    # a pooled prior drawn as a pool takes the pooled colour, the others keep theirs
    pooled = role_colours(plot_forecaster_priors(prior_table, tiny, pools=["b"]))
    assert pooled["pooled"] == {ROLE_COLOURS["pooled"].lower()}
    assert pooled["category:a"] == priors["category:a"]
    assert "category:b" not in pooled


def test_disagreement_stages_take_their_meanings(table):
    colours = role_colours(plot_disagreement(disagreement_table(table, ["a", "b"])))
    assert colours["prior"] == {ROLE_COLOURS["prior"].lower()}
    assert colours["as_of"] == {ROLE_COLOURS["as_of"].lower()}
    assert colours["posterior"] == {ROLE_COLOURS["posterior"].lower()}
