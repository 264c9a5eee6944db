"""Backtest figures: the replay's small multiples and the calibration plot, read from artists."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from forecast.analysis.evaluation.backtest import evidence_arrivals, largest_moves, replay
from forecast.plots import plot_calibration, plot_replay
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import ROLE_COLOURS


@pytest.fixture(scope="module")
def replayed(tiny):
    table = replay(tiny, draws=400, seed=2)
    dates = sorted(set(table["as_of"]))
    arrivals = evidence_arrivals(tiny, dates)
    return table, arrivals, largest_moves(table, arrivals, k=1, min_change=0.0)


def _scores(n, seed=0):
    rng = np.random.default_rng(seed)
    forecast = rng.uniform(0, 1, n)
    return pd.DataFrame(
        {
            "question": [f"Q{k:02d}" for k in range(n)],
            "outcome": (rng.uniform(0, 1, n) < forecast).astype(int),
            "forecast": forecast,
            "prior": np.clip(forecast + rng.normal(0, 0.05, n), 0, 1),
            "half": 0.5,
        }
    )


def _colour(role):
    return {ROLE_COLOURS[role].lower()}


def test_replay_draws_a_panel_per_question_in_the_colours_of_its_meanings(tiny, replayed):
    table, arrivals, moves = replayed
    events = pd.DataFrame(
        {
            "date": [table["as_of"].min(), table["as_of"].max()],
            "event": ["x", "y"],
            "category": ["one", "two"],
        }
    )
    fig = plot_replay(table, tiny, moves=moves, events=events, arrivals=arrivals)
    assert figure_problems(fig) == []
    colours = role_colours(fig)
    for role in ("as_of", "prior", "evidence", "ink"):
        assert colours[role] == _colour(role), role
    assert colours["category:one"] != colours["category:two"]
    titles = [ax.get_title() for ax in fig.axes]
    outcomes = [o.label for o in tiny.outcomes]
    # one panel per question: the outcome and the question's date in its title
    asked = table.dropna(subset=["outcome"]).drop_duplicates("question")
    assert len(asked) >= 3
    for question in asked.itertuples():
        label = next(o.label for o in tiny.outcomes if o.id == question.outcome)
        assert any(label in t.replace("\n", " ") and str(question.date) in t for t in titles)
    assert len([t for t in titles if any(o in t.replace("\n", " ") for o in outcomes)]) == len(
        asked
    )
    assert "(1)" in "".join(t.get_text() for ax in fig.axes for t in ax.texts)
    with pytest.raises(ValueError, match="not in the replay table"):
        plot_replay(table, tiny, outcomes=["nope"])


def test_few_questions_get_a_dot_plot_whose_labels_do_not_overlap():
    scores = _scores(8)
    # two questions with nearly the same forecast: their labels overlapped in the old diagram
    scores.loc[1, "forecast"] = scores.loc[0, "forecast"] + 0.001
    fig = plot_calibration(scores, forecasters=("model", "prior alone", "always 50%"))
    assert figure_problems(fig) == []
    (ax,) = fig.axes
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    assert [t.get_text().split(" ")[0] for t in labels] == list(scores["question"])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts + labels]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    colours = role_colours(fig)
    assert colours["as_of"] == _colour("as_of") and colours["prior"] == _colour("prior")


def test_many_questions_get_the_reliability_diagram_with_bars_under_the_dots():
    fig = plot_calibration(_scores(60, seed=1), bins=5)
    assert figure_problems(fig) == []
    diagram, counts = fig.axes
    for role in ("as_of", "prior"):
        dots = next(c for c in diagram.collections if c.get_gid().endswith(role))
        bars = [p for p in counts.patches if p.get_gid() and p.get_gid().endswith(role)]
        centres = sorted(p.get_x() + p.get_width() / 2 for p in bars)
        assert np.allclose(centres, sorted(dots.get_offsets()[:, 0]))
    with pytest.raises(ValueError, match="unknown forecaster"):
        plot_calibration(_scores(5), forecasters=["crystal ball"])
