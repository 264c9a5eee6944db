"""The sensitivity figures, read from their artists: legends, labels, highlights and the rules.

The tornado is drawn from the tiny chain's prior draws, power-scaling from its two fits and
from a crowded table made up here, the value of information from the tiny chain's early fit
and from a table made up so that a latent node has the largest value.
"""

import itertools

import numpy as np
import pandas as pd
import pytest

from forecast.analysis.counterfactuals.sensitivity import power_scaling, tornado_table
from forecast.analysis.counterfactuals.voi import ValueOfInformation, value_of_information
from forecast.plots import plot_power_scaling, plot_tornado, plot_value_of_information
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import ROLE_COLOURS, role_of


@pytest.fixture(scope="module")
def tornado(tiny, tiny_prior):
    return tornado_table(tiny_prior, tiny, group="prior")


@pytest.fixture(scope="module")
def scaling(tiny, tiny_fits):
    return {label: power_scaling(fit, tiny) for label, fit in tiny_fits.items()}


def _legend_labels(fig):
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def _tornado_kinds(table):
    """What a tornado of the table draws, read from the table itself."""
    kinds = {"low", "high", "baseline"}
    if table[["flagged_low", "flagged_high"]].to_numpy().any():
        kinds.add("flagged")
    if (table[["method_low", "method_high"]] != "reweighted").to_numpy().any():
        kinds.add("redone")
    if (table[["low_se", "high_se"]].fillna(0).to_numpy() > 0).any():
        kinds.add("se")
    return kinds


LEGEND_WORDS = {
    "low": "low end",
    "high": "high end",
    "baseline": "as fitted",
    "flagged": "Pareto k",
    "redone": "re-computed",
    "se": "Monte Carlo",
}


def _assert_legend_is(fig, kinds):
    labels = _legend_labels(fig)
    assert len(labels) == len(kinds)
    for kind, words in LEGEND_WORDS.items():
        assert any(words in label for label in labels) is (kind in kinds), kind


def test_tornado_keeps_the_figure_rules(tiny, tornado):
    fig = plot_tornado(tornado, tiny, top=3)
    assert figure_problems(fig) == []
    assert role_colours(fig)["ink"] == {ROLE_COLOURS["ink"].lower()}
    for ax in fig.axes:
        tagged = [role_of(line) for line in ax.get_lines() if role_of(line)]
        assert tagged == ["ink"]  # the baseline (the whiskers are collections)
        assert all(t.get_fontsize() >= 9 for t in ax.get_yticklabels())


def test_tornado_legend_lists_only_what_is_drawn(tiny, tornado):
    date = str(max(tornado["date"]))
    shown = tornado[tornado["date"] == date]
    fig = plot_tornado(shown, tiny, top=100)
    _assert_legend_is(fig, _tornado_kinds(shown))
    plain = shown.assign(
        flagged_low=False, flagged_high=False, method_low="reweighted", method_high="reweighted"
    )
    fig = plot_tornado(plain, tiny, top=100)
    _assert_legend_is(fig, _tornado_kinds(plain) - {"flagged", "redone"})
    assert not any("Pareto" in label or "re-computed" in label for label in _legend_labels(fig))
    marked = plain.copy()
    marked.loc[marked.index[0], ["flagged_low", "method_high"]] = [True, "prior IS"]
    fig = plot_tornado(marked, tiny, top=100)
    _assert_legend_is(fig, _tornado_kinds(plain) | {"flagged", "redone"})
    noiseless = plain.assign(low_se=np.nan, high_se=0.0)
    _assert_legend_is(plot_tornado(noiseless, tiny, top=100), {"low", "high", "baseline"})


def _label_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    from matplotlib.text import Text

    labels = [t for t in ax.texts if str(t.get_gid()).startswith("psens_label:")]
    return ax, {t.get_text(): Text.get_window_extent(t, renderer) for t in labels}, renderer


def _assert_labels_clear(fig, quantities):
    ax, boxes, renderer = _label_boxes(fig)
    assert set(boxes) == set(quantities)
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        assert not box_a.overlaps(box_b), (a, b)
    frame = ax.get_window_extent(renderer)
    for name, box in boxes.items():
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, name
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, name
        for line in ax.get_lines():
            if str(line.get_gid()).startswith("psens:"):
                assert not box.overlaps(line.get_window_extent(renderer)), (name, line.get_gid())
    quadrants = [t.get_window_extent(renderer) for t in ax.texts if t.get_gid() == "quadrant"]
    assert len(quadrants) == 4
    for name, box in boxes.items():
        assert not any(box.overlaps(q) for q in quadrants), name


def test_power_scaling_labels_do_not_overlap(scaling):
    fig = plot_power_scaling(scaling)
    assert figure_problems(fig) == []
    last = scaling["all evidence"]
    shown = last[np.isfinite(last["prior_sensitivity"]) & (last["kind"] == "question")]
    _assert_labels_clear(fig, shown["quantity"])


def test_power_scaling_labels_of_a_crowd_do_not_overlap():
    rng = np.random.default_rng(4)
    crowd = pd.DataFrame(
        {
            "quantity": [f"question_{k}_by_2026_12" for k in range(9)],
            "kind": "question",
            "prior_sensitivity": 0.2 * np.exp(rng.normal(0, 0.08, 9)),
            "likelihood_sensitivity": 0.01 * np.exp(rng.normal(0, 0.08, 9)),
        }
    )
    fig = plot_power_scaling({"early": crowd.assign(prior_sensitivity=0.1), "late": crowd})
    assert figure_problems(fig) == []
    _assert_labels_clear(fig, crowd["quantity"])


def test_power_scaling_axes_say_in_words_what_they_measure(scaling):
    (ax,) = plot_power_scaling(scaling["all evidence"]).axes
    x, y = ax.get_xlabel(), ax.get_ylabel().replace("\n", " ")
    assert x.startswith("how much the forecast moves when the priors are made stronger or weaker")
    assert "(prior sensitivity" in x
    assert y.startswith("how much the forecast moves when the evidence is made stronger or weaker")
    assert "(likelihood sensitivity" in y
    quadrants = [t.get_text() for t in ax.texts if t.get_gid() == "quadrant"]
    assert any(q.startswith("prior-data conflict") for q in quadrants)


def _highlight(fig, voi):
    bars = {p.get_gid(): p for p in fig.axes[1].patches if str(p.get_gid()).startswith("voi:")}
    full = [gid for gid, bar in bars.items() if bar.get_alpha() in (None, 1.0) and bar.get_fill()]
    full = [gid for gid in full if bars[gid].get_hatch() is None]
    (watched,) = full
    widths = {gid: bar.get_width() for gid, bar in bars.items()}
    return watched, max(widths, key=widths.get), bars


def _reason(fig):
    texts = [t for t in fig.findobj() if getattr(t, "get_gid", lambda: None)() == "voi_reason"]
    (text,) = texts
    return text.get_text().replace("\n", " ")


def test_value_of_information_highlight_is_explained(tiny, tiny_fits):
    voi = value_of_information(tiny_fits["as of 2024-01-31"], tiny, max_draws=150)
    fig = plot_value_of_information(voi, tiny)
    assert figure_problems(fig) == []
    watched, largest, _ = _highlight(fig, voi)
    assert watched == f"voi:{voi.to_watch()}"
    reason = _reason(fig)
    assert tiny.node(voi.to_watch()).label in reason
    if watched == largest:
        assert "the largest expected change" in reason
    else:
        assert "among the nodes the scenario observes" in reason


def test_a_latent_node_with_more_value_is_hatched_and_the_highlight_explained():
    table = pd.DataFrame(
        {
            "node": ["hidden", "hidden", "seen", "seen", "other", "other"],
            "question": ["q1", "q2"] * 3,
            "expected_abs_change": [0.20, 0.10, 0.06, 0.05, 0.01, 0.02],
            "expected_variance_reduction": [0.01] * 6,
            "share": [0.5] * 6,
            "observed_before": [False, False, True, True, True, True],
        }
    )
    voi = ValueOfInformation(month="2024-02", table=table, states=pd.DataFrame())
    fig = plot_value_of_information(voi)
    assert figure_problems(fig) == []
    watched, largest, bars = _highlight(fig, voi)
    assert (watched, largest) == ("voi:seen", "voi:hidden")
    assert bars["voi:hidden"].get_hatch() and not bars["voi:other"].get_hatch()
    reason = _reason(fig)
    assert "seen" in reason and "among the nodes the scenario observes" in reason
    assert "latent" in reason
    assert "watch first: seen" in fig.axes[1].get_title(loc="left")
