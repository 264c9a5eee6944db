"""The outcome figures, read from their artists: what is plotted, sizes, legends, colours."""

import struct

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from numpy.testing import assert_allclose

from forecast.analysis.summaries import outcome_curves
from forecast.plots import plot_outcome, plot_outcome_fits, plot_prior_predictive
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.outcomes import (
    QUANTITY_LABELS,
    fit_roles,
    outcome_plot_table,
    plot_outcome_overview,
    save_outcome_plots,
)
from forecast.plots.style import MAX_WIDTH_IN, MAX_WIDTH_PX, ROLE_COLOURS, new_figure, plot_style
from forecast.plots.style import role_of as role_of_artist


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def _panels(fig, scenario):
    return fig.axes[: len(scenario.outcomes)]


def _dates(xs):
    return [
        x.isoformat() if hasattr(x, "isoformat") else mdates.num2date(x).date().isoformat()
        for x in xs
    ]


def _marginal_mean(idata, node, states, group="posterior"):
    da = idata[group][f"p_{node}"].sel({f"{node}_state": states}).sum(f"{node}_state")
    return da.mean(("chain", "draw")).values


@pytest.fixture(scope="module")
def fits(tiny_fits):
    return tiny_fits


def test_every_outcome_figure_keeps_the_rules(tiny, fits, tiny_prior):
    figures = {
        "fits": plot_outcome_fits(fits, tiny, max_draws=None),
        "one fit": plot_outcome_fits({"all": fits["all evidence"]}, tiny, max_draws=None),
        "overview": plot_outcome_overview(fits["all evidence"], tiny),
        "single": plot_outcome(fits["as of 2024-01-31"], tiny, "b_mid").figure,
        "prior predictive": plot_prior_predictive(tiny_prior, tiny, max_draws=None),
    }
    for name, fig in figures.items():
        assert figure_problems(fig) == [], name
        assert fig.get_figwidth() <= MAX_WIDTH_IN and fig.dpi == 100, name


def test_reached_by_outcome_plots_the_cumulative_curve(tiny, fits):
    """b_mid can be left: its curve is P(been mid by month t), not P(mid at month t)."""
    idata = fits["all evidence"]
    fig = plot_outcome_fits({"all evidence": idata}, tiny, ["b_mid"], max_draws=None)
    ax = fig.axes[0]
    drawn = _line(ax, "all evidence: mean").get_ydata()
    cumulative = outcome_curves(idata, tiny, ["b_mid"], max_draws=None)["mean"].to_numpy()
    assert_allclose(drawn, cumulative)
    assert np.all(np.diff(drawn) >= -1e-12)  # a cumulative probability never falls
    marginal = _marginal_mean(idata, "b", ["mid"])
    assert not np.allclose(drawn, marginal)
    assert np.all(drawn >= marginal - 1e-12)  # been mid by t includes mid at t
    assert ax.get_ylabel() == QUANTITY_LABELS["reached"] == "P(reached by month end)"


def test_in_state_outcome_plots_the_state_marginal(tiny, fits):
    for label, idata in fits.items():
        fig = plot_outcome_fits({label: idata}, tiny, ["a_yes"], max_draws=None)
        ax = fig.axes[0]
        assert_allclose(
            _line(ax, f"{label}: mean").get_ydata(), _marginal_mean(idata, "a", ["yes"])
        )
        assert_allclose(
            _line(ax, "prior mean").get_ydata(), _marginal_mean(idata, "a", ["yes"], "prior")
        )
        assert ax.get_ylabel() == QUANTITY_LABELS["in_state"] == "P(in state at month end)"


def test_single_outcome_plot_by_kind(tiny, fits):
    idata = fits["all evidence"]
    curves = outcome_curves(idata, tiny, max_draws=None)
    for spec in tiny.outcomes:
        ax = plot_outcome(idata, tiny, spec.id)
        expected = curves[curves["outcome"] == spec.id]["mean"].to_numpy()
        assert_allclose(_line(ax, "posterior: mean").get_ydata(), expected)
        assert ax.get_ylabel() == QUANTITY_LABELS[spec.kind]
        assert "all evidence (to 2024-02-10)" in ax.figure.get_suptitle()
        assert figure_problems(ax.figure) == []
    ax = plot_outcome(fits["as of 2024-01-31"], tiny, "a_yes")
    assert "evidence as of 2024-01-31" in ax.figure.get_suptitle()
    assert "evidence cut-off 2024-01-31" in [line.get_label() for line in ax.get_lines()]


def test_single_outcome_plot_on_a_given_axes_keeps_its_legend_outside(tiny, fits):
    with plot_style():
        fig, ax = new_figure(7.0, 3.0)
    plot_outcome(fits["all evidence"], tiny, "b_high", ax=ax)
    legend = ax.get_legend()
    assert legend is not None
    fig.canvas.draw()
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1
    assert figure_problems(fig) == []


def test_the_y_range_fits_the_data_and_says_so(tiny, fits):
    fig = plot_outcome_fits(fits, tiny, max_draws=None)
    for ax in _panels(fig, tiny):
        data = [
            y
            for line in ax.get_lines()
            if line.get_label() != "_nolegend_"
            if role_of_artist(line) != "evidence" and np.asarray(line.get_xdata()).size > 2
            for y in np.asarray(line.get_ydata(), dtype=float)
        ]
        for coll in ax.collections:
            data += list(coll.get_paths()[0].vertices[:, 1])
        low, top = ax.get_ylim()
        assert low < 0 < top and max(data) <= top
        note = ax.get_title(loc="right")
        if top < 1:
            assert top <= max(1.25 * max(data), 0.01 * 1.03)
            assert note == f"y-axis 0\N{EN DASH}{top / 1.02:g} of 0\N{EN DASH}1"
        else:
            assert note == ""


def test_a_rare_outcome_gets_a_short_axis(tiny, fits):
    """A curve under 4% is drawn on 0-0.04, so that 1% and 3% are told apart."""
    idata = fits["all evidence"]
    table = outcome_plot_table(idata, tiny, ["b_high"])
    small = {
        c: table[c] * 0.05 for c in ("mean", "low50", "high50", "low90", "high90", "prior_mean")
    }
    ax = plot_outcome(idata, tiny, "b_high", curves=table.assign(**small))
    assert ax.get_ylim()[1] == pytest.approx(0.04 * 1.02)
    assert ax.get_title(loc="right") == "y-axis 0\N{EN DASH}0.04 of 0\N{EN DASH}1"


def test_two_fits_do_not_blend_and_take_their_roles_colours(tiny, fits):
    fig = plot_outcome_fits(fits, tiny, max_draws=None)
    assert fit_roles(fits) == {
        "as of 2024-01-31": ("as_of", ROLE_COLOURS["as_of"]),
        "all evidence": ("posterior", ROLE_COLOURS["posterior"]),
    }
    for ax in _panels(fig, tiny):
        fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(fills) == 2  # the 50% and 90% bands of one fit only
        assert {role_of_artist(c) for c in fills} == {"posterior"}
        dotted = [
            line for line in ax.get_lines() if line.get_label() == "as of 2024-01-31: 90% band"
        ]
        assert len(dotted) == 2 and all(line.get_linestyle() != "-" for line in dotted)
        assert _line(ax, "as of 2024-01-31: mean").get_color() == ROLE_COLOURS["as_of"]
        assert _line(ax, "all evidence: mean").get_color() == ROLE_COLOURS["posterior"]
    colours = role_colours(fig)
    for role in ("prior", "posterior", "as_of", "evidence"):
        assert colours[role] == {ROLE_COLOURS[role].lower()}, role


def test_legend_has_few_entries_outside_the_data(tiny, fits):
    fig = plot_outcome_fits(fits, tiny, max_draws=None)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + fig.legends
    (legend,) = legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "prior mean",
        "all evidence: mean, 50% and 90% bands",
        "as of 2024-01-31: mean, 90% band dotted",
        "evidence cut-off 2024-01-31",
        "evidence: seen in the outcome's states",
    ]
    title = " ".join(fig.get_suptitle().split())
    assert "evidence as of 2024-01-31 and all evidence (to 2024-02-10)" in title


def test_evidence_marks_differ_by_meaning(kursk):
    """On Kursk's talks node, evidence both in and outside the outcome's states."""
    from forecast.plots.outcomes import IN_STATES, OUTSIDE, mark_evidence

    with plot_style():
        _, ax = new_figure(6.0, 3.0)
    mark_evidence(ax, kursk, "talks", ["direct"])
    inside, outside = _line(ax, IN_STATES), _line(ax, OUTSIDE)
    assert inside.get_marker() != outside.get_marker()
    assert inside.get_markerfacecolor() != outside.get_markerfacecolor()
    assert role_of_artist(inside) == role_of_artist(outside) == "evidence"
    seen = {e.date.isoformat() for e in kursk.evidence if e.node == "talks"}
    assert set(_dates(inside.get_xdata())) | set(_dates(outside.get_xdata())) == seen


def test_prior_predictive_panels(tiny, tiny_prior):
    fig = plot_prior_predictive(tiny_prior, tiny, max_draws=None)
    curves = outcome_curves(tiny_prior, tiny, group="prior", max_draws=None)
    for ax, outcome in zip(_panels(fig, tiny), tiny.outcomes, strict=True):
        assert ax.get_title(loc="left") == outcome.label
        assert ax.get_ylabel() == QUANTITY_LABELS[outcome.kind]
        assert ax.get_xlabel() == "month (end)"
        mean = _line(ax, "prior: mean")
        assert_allclose(mean.get_ydata(), curves[curves["outcome"] == outcome.id]["mean"])
        assert len(ax.collections) == 2  # the 90% and 50% bands
    assert role_colours(fig) == {"prior": {ROLE_COLOURS["prior"].lower()}}
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


def test_evidence_dates_marked_on_the_node(tiny, fits):
    fig = plot_outcome_fits(fits, tiny, max_draws=None)
    a_panel = _panels(fig, tiny)[[o.id for o in tiny.outcomes].index("a_yes")]
    marks = _line(a_panel, "evidence: seen in the outcome's states")
    assert _dates(marks.get_xdata()) == ["2024-02-10"]


def test_save_writes_png_and_csv_whose_value_at_each_question_is_the_forecast(tmp_path, tiny, fits):
    """For every outcome of the tiny chain and both fits: the CSV's mean at a question's
    month is the question's posterior mean (``question_prob``), and its prior mean."""
    for label, idata in fits.items():
        folder = tmp_path / label.replace(" ", "_")
        paths = save_outcome_plots(idata, tiny, folder, overview="outcomes")
        names = [p.name for p in paths]
        assert names == [f"{o.id}{ext}" for o in tiny.outcomes for ext in (".png", ".csv")] + [
            "outcomes.png",
            "outcomes.csv",
        ]
        for png in folder.glob("*.png"):
            width = struct.unpack(">II", png.read_bytes()[16:24])[0]
            assert width <= MAX_WIDTH_PX
        post = idata.posterior["question_prob"].mean(("chain", "draw"))
        prior = idata.prior["question_prob"].mean(("chain", "draw"))
        checked = 0
        for outcome in tiny.outcomes:
            table = pd.read_csv(folder / f"{outcome.id}.csv", keep_default_na=False)
            assert set(table["quantity"]) == {QUANTITY_LABELS[outcome.kind]}
            for q in (q for q in tiny.questions if q.outcome == outcome.id):
                (row,) = table[table["question"] == q.id].itertuples()
                assert row.month == tiny.timeline.labels[q.step]
                assert_allclose(row.mean, float(post.sel(question=q.id)), rtol=1e-9)
                assert_allclose(row.prior_mean, float(prior.sel(question=q.id)), rtol=1e-9)
                checked += 1
        assert checked == 2 * len(tiny.outcomes)
        overview = pd.read_csv(folder / "outcomes.csv")
        assert len(overview) == len(tiny.outcomes) * tiny.timeline.n_steps
