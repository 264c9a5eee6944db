"""Scores, skill, calibration and the questions CSV, against hand computation."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.analysis.evaluation.backtest import Replay
from forecast.analysis.evaluation.scoring import (
    brier_score,
    calibration_table,
    lead_as_of,
    log_score,
    read_questions,
    resolved_questions,
    score_questions,
    score_summary,
    skill_score,
)
from forecast.errors import ScenarioError
from tests.analysis.evaluation.test_backtest import (
    APR,
    FEB,
    JAN,
    exact_mean,
    write_one_rule,
    yes_jun,
)
from tests.paths import ROOT

HEADER = "id,node,state,kind,date,outcome"


@pytest.fixture(scope="module")
def one_rule(tmp_path_factory):
    return forecast.load_scenario(write_one_rule(tmp_path_factory.mktemp("one_rule")))


# ----------------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    ("p", "o", "brier", "log"),
    [
        (0.9, 1, 0.01, -math.log(0.9)),
        (0.2, 1, 0.64, -math.log(0.2)),
        (0.5, 0, 0.25, math.log(2)),
        (0.3, 0, 0.09, -math.log(0.7)),
        (1.0, 1, 0.0, -math.log(1 - 1e-6)),  # clipped: never exactly 0
        (0.0, 1, 1.0, -math.log(1e-6)),  # a certain miss costs 13.8, not infinity
        (1e-9, 1, (1 - 1e-9) ** 2, -math.log(1e-6)),
    ],
)
def test_brier_and_log_score_by_hand(p, o, brier, log) -> None:
    assert brier_score(p, o) == pytest.approx(brier, abs=1e-15)
    assert log_score(p, o) == pytest.approx(log, abs=1e-12)


def test_scores_are_vectorised_and_checked() -> None:
    assert_allclose(brier_score([0.9, 0.2], [1, 0]), [0.01, 0.04])
    assert_allclose(log_score([0.9, 0.2], [1, 0], clip=0.25), [-math.log(0.75), -math.log(0.75)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score(1.2, 1)
    with pytest.raises(ValueError, match="0 or 1"):
        log_score(0.5, 2)


@pytest.mark.parametrize(
    ("score", "reference", "skill"),
    [
        (0.2, 0.25, 0.2),
        (0.25, 0.25, 0.0),
        (0.5, 0.25, -1.0),
        (0.0, 0.1, 1.0),
    ],
)
def test_skill_score_by_hand(score, reference, skill) -> None:
    assert float(skill_score(score, reference)) == pytest.approx(skill)


def test_skill_against_a_perfect_reference_is_undefined() -> None:
    assert np.isnan(skill_score(0.1, 0.0))


def test_calibration_table_by_hand() -> None:
    table = calibration_table(
        [0.05, 0.15, 0.5, 0.95, 1.0], [0, 1, 1, 1, 0], bins=5, labels=["a", "b", "c", "d", "e"]
    )
    assert list(table["n"]) == [2, 0, 1, 0, 2]
    assert_allclose(table["low"], [0, 0.2, 0.4, 0.6, 0.8])
    assert_allclose(table["mean_forecast"], [0.1, np.nan, 0.5, np.nan, 0.975])
    assert_allclose(table["observed"], [0.5, np.nan, 1.0, np.nan, 0.5])
    assert list(table["questions"]) == ["a, b", "", "c", "", "d, e"]


def test_score_summary_by_hand() -> None:
    scores = pd.DataFrame(
        {
            "brier": [0.01, 0.64],
            "brier_prior": [0.04, 0.36],
            "brier_half": [0.25, 0.25],
            "log": [0.1, 1.5],
            "log_prior": [0.2, 1.0],
            "log_half": [math.log(2)] * 2,
            "open": [True, False],
        }
    )
    summary = score_summary(scores)
    assert list(summary.index) == ["model", "prior alone", "always 50%"]
    model = summary.loc["model"]
    assert model["n"] == 2
    assert model["brier"] == pytest.approx(0.325)
    assert model["log"] == pytest.approx(0.8)
    assert model["brier_skill_vs_50"] == pytest.approx(1 - 0.325 / 0.25)
    assert model["brier_skill_vs_prior"] == pytest.approx(1 - 0.325 / 0.2)
    assert model["log_skill_vs_50"] == pytest.approx(1 - 0.8 / math.log(2))
    assert model["log_skill_vs_prior"] == pytest.approx(1 - 0.8 / 0.6)
    assert summary.loc["always 50%", "brier_skill_vs_50"] == 0.0
    assert summary.loc["prior alone", "log_skill_vs_prior"] == 0.0
    only_open = score_summary(scores, only_open=True)
    assert only_open.loc["model", "n"] == 1
    assert only_open.loc["model", "brier"] == pytest.approx(0.01)


# -------------------------------------------------------------------------------- questions


def test_read_questions_builds_questions_on_the_timeline(tmp_path, one_rule) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "id,node,state,kind,date,outcome,window_start,text,source,resolved_on\n"
        "Q1,x,yes,reached,2024-05-31,1,2024-03-01,x moves,https://a,2024-04-02\n"
        "Q2,x,no|yes,in_state,2024-02-29,1,,,,\n"
    )
    q1, q2 = read_questions(path, one_rule)
    assert (q1.id, q1.node, q1.states, q1.kind, q1.date) == (
        "Q1",
        "x",
        ("yes",),
        "reached",
        dt.date(2024, 5, 31),
    )
    assert (q1.step, q1.window_start, q1.window_start_step) == (4, dt.date(2024, 3, 1), 2)
    assert (q1.resolution, q1.resolved_on, q1.resolution_source) == (
        1,
        dt.date(2024, 4, 2),
        "https://a",
    )
    assert q1.text == "x moves"
    assert q2.states == ("no", "yes")
    assert (q2.step, q2.window_start_step, q2.resolved_on) == (1, 0, None)
    assert q2.text == "x in no|yes on 2024-02-29"


ROWS_OK = "Q1,x,yes,in_state,2024-05-31,1"


@pytest.mark.parametrize(
    ("text", "field", "message", "allowed", "line"),
    [
        (
            f"{HEADER}\nQ1,y,yes,in_state,2024-05-31,1",
            "row 2.node",
            "unknown node 'y'",
            "one of: x",
            2,
        ),
        (
            f"{HEADER}\n{ROWS_OK}\nQ2,x,maybe,in_state,2024-05-31,1",
            "row 3.state",
            "unknown state 'maybe' of node 'x'",
            "one or more of: no, yes joined by '|'",
            3,
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2024-05-32,1",
            "row 2.date",
            "'2024-05-32' is not a date",
            "YYYY-MM-DD",
            2,
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2025-01-31,1",
            "row 2.date",
            "2025-01-31 is outside the scenario's timeline",
            "dates from 2024-01-01 to 2024-06-30",
            2,
        ),
        (
            f"{HEADER}\nQ1,x,yes,sometimes,2024-05-31,1",
            "row 2.kind",
            "unknown kind 'sometimes'",
            "in_state or reached",
            2,
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2024-05-31,",
            "row 2.outcome",
            "'' is not a resolution",
            "every question must be resolved",
            2,
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2024-05-31,0.7",
            "row 2.outcome",
            "'0.7' is not a resolution",
            "1 (happened) or 0 (did not)",
            2,
        ),
        (
            f"{HEADER}\n{ROWS_OK}\n{ROWS_OK}",
            "row 3.id",
            "question id 'Q1' is used twice",
            "a unique id per row",
            3,
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2024-05-31,1,extra",
            "row 2",
            "the row has 7 cells",
            "one cell per column",
            2,
        ),
        (
            "id,node,state,date,outcome\nQ1,x,yes,2024-05-31,1",
            "header",
            "missing column(s) kind",
            "required id, node, state, kind, date, outcome",
            1,
        ),
        (
            f"{HEADER},colour\nQ1,x,yes,in_state,2024-05-31,1,red",
            "header",
            "unknown column(s) colour",
            "optional window_start, text, source, resolved_on",
            1,
        ),
        (
            f"{HEADER},window_start\nQ1,x,yes,in_state,2024-05-31,1,2024-02-01",
            "row 2.window_start",
            "window_start only goes with kind 'reached'",
            "kind reached",
            2,
        ),
        (
            f"{HEADER},window_start\nQ1,x,yes,reached,2024-03-31,1,2024-05-01",
            "row 2.window_start",
            "window_start 2024-05-01 is after date 2024-03-31",
            "on or before the question's date",
            2,
        ),
        (HEADER, "", "the file has no questions", "a header and one row per question", 1),
        ("", "header", "the file is empty", "required id", 1),
    ],
)
def test_read_questions_names_file_row_field_and_what_is_allowed(
    tmp_path, one_rule, text, field, message, allowed, line
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text + "\n")
    with pytest.raises(ScenarioError) as exc:
        read_questions(path, one_rule)
    problem = exc.value.problems[0]
    assert problem.file == str(path)
    assert (problem.field, problem.line) == (field, line)
    assert message in problem.message
    assert allowed in problem.allowed


def test_read_questions_lists_every_problem(tmp_path, one_rule) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER}\nQ1,y,yes,in_state,2024-05-31,1\nQ2,x,yes,in_state,2024-05-31,2\n")
    with pytest.raises(ScenarioError) as exc:
        read_questions(path, one_rule)
    assert [(p.field, p.line) for p in exc.value.problems] == [
        ("row 2.node", 2),
        ("row 3.outcome", 3),
    ]


def test_read_questions_missing_file(tmp_path, one_rule) -> None:
    with pytest.raises(ScenarioError, match="cannot read the questions file"):
        read_questions(tmp_path / "nowhere.csv", one_rule)


def test_kursk_questions_csv_keeps_the_resolved_data(kursk) -> None:
    """data/kursk_questions.csv: each row's outcome, dates and source are those of
    data/resolved_questions.csv (no resolution invented), and it asks what the scenario's
    question of the same id asks."""
    questions = read_questions(ROOT / "data" / "kursk_questions.csv", kursk)
    resolved = pd.read_csv(ROOT / "data" / "resolved_questions.csv").set_index("id")
    in_scenario = {q.id: q for q in kursk.questions}
    assert [q.id for q in questions] == [q.id for q in resolved_questions(kursk)]
    for q in questions:
        row = resolved.loc[q.id]
        assert q.resolution == int(row["outcome"])
        assert q.date.isoformat() == row["resolves_by"]
        assert q.resolved_on.isoformat() == row["resolved_on"]
        assert q.resolution_source == row["source_url"]
        assert q.text == row["question"]
        twin = in_scenario[q.id]
        assert (q.node, set(q.states), q.kind, q.step, q.window_start_step) == (
            twin.node,
            set(twin.states),
            twin.kind,
            twin.step,
            twin.window_start_step,
        )
        assert q.resolution == twin.resolution


@pytest.mark.parametrize(
    ("date", "months", "expected"),
    [
        ("2025-06-30", 3, "2025-03-31"),
        ("2025-01-15", 1, "2024-12-31"),
        ("2024-12-31", 0, "2024-12-31"),
        ("2025-03-31", 14, "2024-01-31"),
    ],
)
def test_lead_as_of(one_rule, date, months, expected) -> None:
    import dataclasses

    q = dataclasses.replace(one_rule.questions[0], date=dt.date.fromisoformat(date))
    assert lead_as_of(q, months) == dt.date.fromisoformat(expected)


# ---------------------------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def one_rule_draws(one_rule):
    return Replay(one_rule, draws=40_000, seed=9)


def test_score_questions_against_brute_force(one_rule, one_rule_draws) -> None:
    """As of February (no seen in January only): forecasts from the exact posterior, prior
    from the exact prior, scores and skills from those by hand."""
    scores = score_questions(one_rule, as_of=FEB, replay=one_rule_draws).set_index("question")
    assert list(scores.index) == ["yes_jun", "no_mar"]
    p_yes = exact_mean(1, yes_jun(1))  # outcome 0
    p_no = exact_mean(1, lambda q: 1 - q)  # E[s^2]; outcome 1
    prior_yes, prior_no = exact_mean(0, yes_jun(0)), exact_mean(0, lambda q: (1 - q) ** 1.5)
    assert_allclose(scores["forecast"], [p_yes, p_no], atol=0.004)
    assert_allclose(scores["prior"], [prior_yes, prior_no], atol=0.004)
    y = scores.loc["yes_jun"]
    assert y["brier"] == pytest.approx(p_yes**2, abs=0.005)
    assert y["log"] == pytest.approx(-math.log(1 - p_yes), abs=0.01)
    assert y["brier_half"] == 0.25
    assert y["log_half"] == pytest.approx(math.log(2))
    assert y["brier_skill_half"] == pytest.approx(1 - p_yes**2 / 0.25, abs=0.02)
    assert y["brier_skill_prior"] == pytest.approx(1 - p_yes**2 / prior_yes**2, abs=0.02)
    assert y["lead_days"] == (dt.date(2024, 6, 30) - FEB).days
    assert not scores["date_passed"].any()
    assert not scores["settled_by_evidence"].any()
    assert scores["open"].all()
    assert list(scores["source"]) == ["s3", "s2"]


def test_score_flags_questions_already_decided(one_rule, one_rule_draws) -> None:
    scores = score_questions(one_rule, as_of=APR, replay=one_rule_draws).set_index("question")
    no_mar = scores.loc["no_mar"]
    assert no_mar["date_passed"] and no_mar["resolved_before"]
    assert no_mar["settled_by_evidence"]  # the March reading (known 10 April) answers it
    assert not no_mar["open"]
    assert no_mar["forecast"] == pytest.approx(1.0, abs=1e-12)
    assert no_mar["brier"] == pytest.approx(0.0, abs=1e-12)
    assert scores.loc["yes_jun", "open"]
    assert score_summary(scores.reset_index(), only_open=True).loc["model", "n"] == 1


def test_score_per_question_lead_time(one_rule, one_rule_draws) -> None:
    scores = score_questions(one_rule, lead_months=2, replay=one_rule_draws)
    assert list(scores["as_of"]) == [APR, JAN]  # June - 2 months, March - 2 months
    by_date = score_questions(
        one_rule, as_of={"yes_jun": APR, "no_mar": JAN}, replay=one_rule_draws
    )
    pd.testing.assert_frame_equal(scores, by_date)
    with pytest.raises(ValueError, match="either as_of"):
        score_questions(one_rule, as_of=JAN, lead_months=1, replay=one_rule_draws)
    with pytest.raises(ValueError, match="no as_of date for question"):
        score_questions(one_rule, as_of={"yes_jun": APR}, replay=one_rule_draws)


def test_score_csv_questions_not_in_the_scenario(tmp_path, one_rule, one_rule_draws) -> None:
    """A question the scenario does not ask gets its own exact pass on the same draws."""
    path = tmp_path / "q.csv"
    path.write_text(f"{HEADER}\nQ5,x,yes,reached,2024-05-31,0\nQ6,x,yes,in_state,2024-06-30,0\n")
    scores = score_questions(
        one_rule, read_questions(path, one_rule), as_of=FEB, replay=one_rule_draws
    ).set_index("question")
    assert scores.loc["Q5", "forecast"] == pytest.approx(exact_mean(1, yes_jun(2)), abs=0.004)
    # Q6 asks what the scenario's yes_jun asks: the very same number
    assert scores.loc["Q6", "forecast"] == one_rule_draws.at(FEB).mean("yes_jun")


def test_score_refuses_unresolved_questions(one_rule) -> None:
    import dataclasses

    open_question = dataclasses.replace(one_rule.questions[0], resolution=None)
    with pytest.raises(ValueError, match="have no resolution"):
        score_questions(one_rule, [open_question], as_of=JAN)


def test_scores_do_not_see_later_evidence(tmp_path) -> None:
    """Changing the March reading (reported 10 April) leaves the February scores unchanged."""
    kept = forecast.load_scenario(write_one_rule(tmp_path, "no", "kept.yaml"))
    changed = forecast.load_scenario(write_one_rule(tmp_path, "yes", "changed.yaml"))
    before = score_questions(kept, as_of=FEB, draws=3000, seed=2)
    after = score_questions(changed, as_of=FEB, draws=3000, seed=2)
    pd.testing.assert_frame_equal(before, after)
    assert not score_questions(changed, as_of=APR, draws=3000, seed=2).equals(
        score_questions(kept, as_of=APR, draws=3000, seed=2)
    )
