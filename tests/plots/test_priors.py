import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate

from forecast.analysis.summaries import prior_table
from forecast.elicitation import elicit
from forecast.plots import plot_node_priors, plot_priors
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import ROLE_COLOURS, role_of


def _gids(ax):
    """The names of a panel's marks (their labels: the gid holds their meaning)."""
    return [a.get_label() for a in [*ax.get_lines(), *ax.collections]]


def _artists(ax, name):
    return [a for a in [*ax.get_lines(), *ax.collections] if a.get_label() == name]


def _tagged(ax, role):
    return [a for a in [*ax.get_lines(), *ax.collections] if role_of(a) == role]


def test_one_panel_per_rule_and_destination(tiny):
    priors = elicit(tiny)
    fig = plot_node_priors(tiny, priors, "b")
    table = prior_table(tiny, priors)
    rows = table[table["node"] == "b"]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(rows)
    for ax, row in zip(axes, rows.itertuples(), strict=True):
        assert row.destination in ax.get_title()
        assert row.rule in ax.get_title().replace("\n", "")  # the id, wrapped to fit
        assert ax.get_xlabel() == f"P({row.destination} within {row.within_months} months)"
        judged = not np.isnan(row.stated_best)
        assert ("stated_interval" in _gids(ax)) is judged
        assert ("mass" in _gids(ax)) is judged
        if judged:
            line = next(x for x in ax.get_lines() if x.get_label() == "stated_interval")
            assert_allclose(line.get_xdata(), [row.stated_low, row.stated_high])
            best = next(x for x in ax.get_lines() if x.get_label() == "stated_best")
            assert_allclose(best.get_xdata(), [row.stated_best])
            assert f"mass {row.prior_mass:.2f}" in "".join(t.get_text() for t in ax.texts)


def test_density_is_the_fitted_beta(tiny):
    priors = elicit(tiny)
    fig = plot_node_priors(tiny, priors, "a")
    ax = fig.axes[0]
    density = next(x for x in ax.get_lines() if x.get_label() == "density")
    x, y = density.get_xdata(), density.get_ydata()
    row = prior_table(tiny, priors).iloc[0]
    assert_allclose(integrate.trapezoid(y, x), 1.0, atol=0.02)
    mean = integrate.trapezoid(x * y, x)
    assert_allclose(mean, row["prior_mean"], atol=0.01)


def test_every_node_with_rules_gets_a_figure(kursk):
    figs = plot_priors(kursk, elicit(kursk))
    assert list(figs) == [n.name for n in kursk.nodes if any(r.is_free for r in n.rules)]
    assert all(f.get_suptitle() for f in figs.values())


def test_unknown_node(tiny):
    with pytest.raises(ValueError, match="no rule"):
        plot_node_priors(tiny, elicit(tiny), "zzz")


def test_prior_figures_keep_the_figure_rules(kursk, tiny):
    figs = [*plot_priors(kursk, elicit(kursk)).values(), *plot_priors(tiny, elicit(tiny)).values()]
    for fig in figs:
        assert figure_problems(fig) == []
        colours = role_colours(fig)
        assert colours["prior"] == {ROLE_COLOURS["prior"].lower()}
        if any(_tagged(ax, "stated") for ax in fig.axes):
            assert colours["stated"] == {ROLE_COLOURS["stated"].lower()}
        for ax in fig.axes:
            gids = _gids(ax)
            assert "density" in gids and "prior_mean" in gids
            judged = "stated_interval" in gids
            for gid in ("density", "prior_mean", "mass"):
                assert all(role_of(a) == "prior" for a in _artists(ax, gid))
            for gid in ("stated_interval", "stated_best"):
                assert all(role_of(a) == "stated" for a in _artists(ax, gid))
            assert bool(_tagged(ax, "stated")) is judged


def test_corner_note_sits_above_every_mark(kursk):
    for fig in plot_priors(kursk, elicit(kursk)).values():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            (note,) = [t for t in ax.texts if t.get_gid() == "note"]
            bottom = note.get_window_extent(renderer).y0
            marks = [line.get_window_extent(renderer).y1 for line in ax.get_lines()]
            assert bottom > max(marks), ax.get_title()
