"""What-if figures: one per contrast, each within the figure rules, a colour per case."""

from __future__ import annotations

import itertools

import pytest

from forecast.analysis.counterfactuals.whatif import Intervention, what_if
from forecast.plots import plot_what_if, plot_what_ifs
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import ROLE_COLOURS

CONTRASTS = {
    "a set": Intervention("a", "yes", "2024-02"),
    "b set": Intervention("b", "mid", "2024-03", "2024-03"),
    "both": [Intervention("a", "yes", "2024-02"), Intervention("b", "mid", "2024-03", "2024-03")],
}


@pytest.fixture(scope="module")
def result(tiny, tiny_fits):
    return what_if(tiny_fits["as of 2024-01-31"], tiny, CONTRASTS, max_draws=100)


def _cases(fig):
    return {role: colours for role, colours in role_colours(fig).items() if role != "ink"}


def test_one_figure_per_contrast_within_the_rules(tiny, result):
    figures = plot_what_ifs(result, tiny, title="tiny")
    assert len(figures) == len(CONTRASTS)
    for fig, contrast in zip(figures, CONTRASTS, strict=True):
        assert figure_problems(fig) == []
        assert f"what if {contrast}?" in fig.get_suptitle()
        assert "observe: ESS" in fig.get_suptitle()
        assert len(fig.axes) == len(result.outcomes)
        assert _cases(fig) == {
            "posterior": {ROLE_COLOURS["posterior"].lower()},
            "intervention": {ROLE_COLOURS["intervention"].lower()},
            "observation": {ROLE_COLOURS["observation"].lower()},
            "guide": {ROLE_COLOURS["guide"].lower()},
        }
    # an outcome keeps its y range from figure to figure
    for k in range(len(result.outcomes)):
        assert len({fig.axes[k].get_ylim() for fig in figures}) == 1


def test_the_grid_of_contrasts_fits_and_checks_its_names(tiny, result):
    fig = plot_what_if(result, tiny, contrasts=["a set", "b set"])
    assert figure_problems(fig) == []
    assert len(fig.axes) == 2 * len(result.outcomes)
    with pytest.raises(ValueError, match="not in the result: nope"):
        plot_what_ifs(result, tiny, contrasts=["nope"])


def test_column_titles_of_the_grid_do_not_meet(tiny, result):
    fig = plot_what_if(result, tiny)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
    assert len(boxes) == len(CONTRASTS)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
