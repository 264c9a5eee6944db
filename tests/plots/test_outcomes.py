import matplotlib.dates as mdates
import numpy as np
from numpy.testing import assert_allclose

from forecast.analysis.summaries import outcome_curves
from forecast.plots import (
    FIT_COLOURS,
    PALETTE,
    plot_outcome,
    plot_outcome_fits,
    plot_prior_predictive,
    save_outcome_plots,
)


def _panels(fig, n):
    return fig.axes[:n]


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_prior_predictive_panels(tiny, tiny_prior):
    fig = plot_prior_predictive(tiny_prior, tiny, max_draws=None)
    curves = outcome_curves(tiny_prior, tiny, group="prior", max_draws=None)
    axes = _panels(fig, len(tiny.outcomes))
    for ax, outcome in zip(axes, tiny.outcomes, strict=True):
        assert ax.get_title().startswith(outcome.label)
        assert ax.get_ylabel() == "probability"
        assert ax.get_xlabel() == "month (end)"
        mean = _line(ax, "prior: mean")
        assert_allclose(mean.get_ydata(), curves[curves["outcome"] == outcome.id]["mean"])
        assert len(ax.collections) == 2  # the 90% and 50% bands
        for band in ax.collections:
            assert np.allclose(
                band.get_facecolor()[0][:3],
                np.array([int(PALETTE["prior"][i : i + 2], 16) for i in (1, 3, 5)]) / 255,
            )
    assert fig.get_suptitle()


def test_prior_predictive_bands_contain_the_mean(tiny, tiny_prior):
    fig = plot_prior_predictive(tiny_prior, tiny, ["b_mid"], max_draws=None)
    ax = fig.axes[0]
    mean = _line(ax, "prior: mean").get_ydata()
    for band in ax.collections:
        ys = band.get_paths()[0].vertices[:, 1]
        n = len(mean)
        low, high = ys[1 : n + 1], ys[n + 2 : 2 * n + 2][::-1]
        assert np.all(low <= mean + 1e-12) and np.all(mean <= high + 1e-12)


def test_fits_overlaid_with_cutoff_and_evidence(tiny, tiny_fits):
    fig = plot_outcome_fits(tiny_fits, tiny, max_draws=None)
    axes = _panels(fig, len(tiny.outcomes))
    for ax, outcome in zip(axes, tiny.outcomes, strict=True):
        labels = [line.get_label() for line in ax.get_lines()]
        for k, label in enumerate(tiny_fits):
            assert f"{label}: mean" in labels
            assert _line(ax, f"{label}: mean").get_color() == FIT_COLOURS[k]
            curves = outcome_curves(tiny_fits[label], tiny, [outcome.id], max_draws=None)
            assert_allclose(_line(ax, f"{label}: mean").get_ydata(), curves["mean"])
        assert "prior: mean" in labels
        assert "as of 2024-01-31: evidence cut-off" in labels
        assert len(ax.collections) == 2 * len(tiny_fits)
    a_panel = axes[[o.id for o in tiny.outcomes].index("a_yes")]
    marks = _line(a_panel, "evidence: node seen in the outcome's states")
    assert [
        mdates.num2date(x).date().isoformat() if not hasattr(x, "isoformat") else x.isoformat()
        for x in marks.get_xdata()
    ] == ["2024-02-10"]


def test_plot_outcome_and_save(tmp_path, tiny, tiny_fits):
    idata = tiny_fits["all evidence"]
    ax = plot_outcome(idata, tiny, "b", ["high"], "b high")
    assert ax.get_title() == "b high"
    assert {"posterior mean", "prior mean"} <= {line.get_label() for line in ax.get_lines()}
    paths = save_outcome_plots(idata, tiny, tmp_path / "png")
    assert [p.name for p in paths] == [f"{o.id}.png" for o in tiny.outcomes]
    assert all(p.stat().st_size > 0 for p in paths)
