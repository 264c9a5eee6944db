"""The figure rules read from artists: width, font sizes, legends over data, role colours."""

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import numpy as np
import pytest

from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import (
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    STYLE_RC,
    new_figure,
    plot_style,
    role_of,
    tag,
)


def _figure(width=6.0, legend="upper left", title_size=None, evidence_colour=None):
    with plot_style():
        fig, ax = new_figure(width, 3.0)
        x = np.arange(10)
        tag(ax.plot(x, x / 10, color=ROLE_COLOURS["prior"], label="prior")[0], "prior")
        tag(
            ax.plot(x, 1 - x / 10, color=evidence_colour or ROLE_COLOURS["evidence"])[0], "evidence"
        )
        ax.set_ylim(0, 1.6)
        ax.legend(loc=legend)
        ax.set_title("title", fontsize=title_size)
    return fig


def test_a_figure_that_keeps_the_rules_has_no_problems():
    fig = _figure()
    assert figure_problems(fig) == []
    assert role_colours(fig) == {"prior": {"#999999"}, "evidence": {"#d55e00"}}


def test_each_broken_rule_is_named():
    with plot_style():
        fig, _ax = new_figure(6.0, 3.0)
    fig.set_figwidth(12.0)
    wide = figure_problems(fig)
    assert wide[0] == "the figure is 1200 px wide (at most 1000)"
    # shrunk to 1000 px, its 9 pt tick labels show at 7.5 pt
    assert "text '0.0' is 7.5 pt as displayed (at least 9)" in wide[1:]
    assert figure_problems(_figure(title_size=7)) == [
        "text 'title' is 7.0 pt as displayed (at least 9)"
    ]
    (problem,) = figure_problems(_figure(legend="lower left"))
    assert problem.startswith("the legend of 'title' lies over") and "data points" in problem
    assert figure_problems(_figure(evidence_colour="#ff0000")) == [
        "evidence is drawn in #ff0000, not its colour #D55E00"
    ]


def test_new_figure_is_capped_at_the_width_and_style_does_not_leak():
    before = dict(mpl.rcParams)
    with plot_style():
        assert mpl.rcParams["font.size"] == STYLE_RC["font.size"]
        fig, _ = new_figure(20.0, 3.0)
    assert fig.get_figwidth() == pytest.approx(MAX_WIDTH_IN)
    assert dict(mpl.rcParams) == before


def test_tag_refuses_an_unknown_meaning_and_reads_back():
    with plot_style():
        _fig, ax = new_figure()
    line = ax.plot([0, 1])[0]
    with pytest.raises(ValueError, match="unknown role 'posteriour'"):
        tag(line, "posteriour")
    assert role_of(tag(line, "category:hawk")) == "category:hawk"
    assert role_of(ax.plot([0, 1])[0]) is None


def test_no_two_meanings_share_a_colour():
    from forecast.plots.style import CATEGORY_COLOURS, PALETTE

    colours = [c.lower() for c in (*PALETTE.values(), *CATEGORY_COLOURS)]
    shared = sorted({c for c in colours if colours.count(c) > 1})
    assert not shared, f"colours with two meanings: {shared}"
