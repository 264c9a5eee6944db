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


def test_figures_draw_every_forecaster_and_stage(tiny, forecaster_draws, two_views):
    from forecast.plots.pooling import (
        plot_disagreement,
        plot_forecaster_priors,
        plot_pooled_forecasts,
    )

    table = pooled_forecast_table(forecaster_draws, tiny)
    fig = plot_pooled_forecasts(table, ["b_high_apr", "a_yes_jan"])
    gids = {line.get_gid() for ax in fig.axes for line in ax.lines}
    assert {
        "a:prior:b_high_apr",
        "b:all:a_yes_jan",
        f"{LINEAR_POOL}:early:b_high_apr",
        f"{LOG_POOL}:prior:a_yes_jan",
    } <= gids
    line = next(ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "a:all:b_high_apr")
    row = table[
        (table["forecaster"] == "a")
        & (table["stage"] == "all")
        & (table["question"] == "b_high_apr")
    ].iloc[0]
    assert_allclose(line.get_xdata(), [row["low90"], row["high90"]])

    dis = disagreement_table(table, ["a", "b"])
    fig = plot_disagreement(dis)
    assert {f"prior:{q.id}" for q in tiny.questions} <= {ln.get_gid() for ln in fig.axes[0].lines}

    priors = forecaster_priors(two_views, reference=tiny)
    fig = plot_forecaster_priors(forecaster_prior_table(tiny, priors), tiny)
    assert "high:a:no:yes" in {ln.get_gid() for ln in fig.axes[0].lines}
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[0].startswith("a: from no → yes") and ticks[0].endswith("\na:no")
    with pytest.raises(ValueError, match="unknown question"):
        plot_pooled_forecasts(table, ["nope"])
