"""``forecast score``: a good run, and bad input that exits 2 with a clear message."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecast.cli import main
from tests.analysis.evaluation.test_backtest import exact_mean, write_one_rule, yes_jun

HEADER = "id,node,state,kind,date,outcome,source"
GOOD = (
    f"{HEADER}\n"
    "Q1,x,yes,in_state,2024-06-30,0,https://example.org/q1\n"
    "Q2,x,no,in_state,2024-01-31,1,https://example.org/q2\n"
)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _score_precisely(scenario: Path, questions: Path, out: Path, *cutoff: str) -> int:
    """``forecast score`` with 20,000 prior draws and seed 4, writing to ``out``."""
    return main(
        [
            "score",
            str(scenario),
            str(questions),
            *cutoff,
            *("--draws", "20000", "--seed", "4", "--out", str(out), "--no-progress"),
        ]
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    scenario = write_one_rule(folder)
    questions = folder / "questions.csv"
    questions.write_text(GOOD)
    return folder, scenario, questions


def test_score_good_run_prints_and_writes_the_table(files, capsys) -> None:
    folder, scenario, questions = files
    out = folder / "out"
    code = _score_precisely(scenario, questions, out, "--as-of", "2024-02-15")
    captured = capsys.readouterr()
    text = _flat(captured.out)
    assert code == 0, captured.out
    assert "Traceback" not in captured.out + captured.err
    assert "Scoring 2 resolved questions" in text
    assert "as of 2024-02-15" in text
    assert "(1 of 2 items)" in text  # the March reading is reported on 10 April
    assert "importance sampling of 20000 prior draws" in text
    assert "natural log, forecasts clipped to [1e-06, 1 - 1e-06]" in text
    for column in ("lead (days)", "Brier prior", "log prior", "Brier skill vs 50%"):
        assert column in text
    assert "passed, settled" in text  # Q2 is about January, seen in January
    assert "settled = the evidence known then fixes its answer" in text
    scores = pd.read_csv(out / "one_rule_2024-02-15_scores.csv").set_index("question")
    summary = pd.read_csv(out / "one_rule_2024-02-15_score_summary.csv", index_col=0)
    p = exact_mean(1, yes_jun(1))
    assert scores.loc["Q1", "forecast"] == pytest.approx(p, abs=0.005)
    assert scores.loc["Q1", "brier"] == pytest.approx(p**2, abs=0.005)
    assert scores.loc["Q1", "log"] == pytest.approx(-math.log(1 - p), abs=0.01)
    assert scores.loc["Q1", "lead_days"] == 136  # 2024-02-15 to 2024-06-30
    assert scores.loc["Q2", "forecast"] == pytest.approx(1.0, abs=1e-12)
    assert bool(scores.loc["Q2", "settled_by_evidence"])
    assert scores.loc["Q1", "source"] == "https://example.org/q1"
    assert f"{scores.loc['Q1', 'forecast']:.3f}" in text
    assert list(summary.index) == ["model", "prior alone", "always 50%"]
    assert summary.loc["model", "brier"] == pytest.approx(scores["brier"].mean())
    assert "Overall, open questions only" in text  # Q2 was decided before the as-of date


def test_score_defaults_to_the_scenarios_resolved_questions(files, capsys) -> None:
    folder, scenario, _ = files
    code = main(
        [
            "score",
            str(scenario),
            "--as-of",
            "2024-02-15",
            "--draws",
            "500",
            "--out",
            str(folder / "own"),
            "--no-progress",
        ]
    )
    text = _flat(capsys.readouterr().out)
    assert code == 0
    assert "Scoring 2 resolved questions" in text
    assert "yes_jun" in text and "no_mar" in text


@pytest.mark.parametrize(
    ("csv_text", "field", "message", "allowed"),
    [
        (
            f"{HEADER}\nQ1,nowhere,yes,in_state,2024-06-30,0,s\n",
            "row 2.node",
            "unknown node 'nowhere'",
            "Allowed: one of: x",
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,30/06/2024,0,s\n",
            "row 2.date",
            "'30/06/2024' is not a date",
            "Allowed: YYYY-MM-DD",
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2024-06-30,yes,s\n",
            "row 2.outcome",
            "'yes' is not a resolution",
            "Allowed: 1 (happened) or 0 (did not)",
        ),
        (
            f"{HEADER}\nQ1,x,yes,in_state,2024-06-30,0,s,extra\n",
            "row 2",
            "the row has 8 cells, the header has 7",
            "Allowed: one cell per column",
        ),
        (
            "id,node,state\nQ1,x,yes\n",
            "header",
            "missing column(s) kind, date, outcome",
            "Allowed: required id, node, state, kind, date, outcome",
        ),
    ],
)
def test_score_malformed_csv_exits_two_naming_file_row_and_field(
    files, tmp_path, capsys, csv_text, field, message, allowed
) -> None:
    _, scenario, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text)
    code = main(
        ["score", str(scenario), str(bad), "--as-of", "2024-02-15", "--out", str(tmp_path / "out")]
    )
    captured = capsys.readouterr()
    text = _flat(captured.out)
    assert code == 2
    assert f"{bad} cannot be used as written" in text
    line = 1 if field == "header" else 2
    assert f"{bad}:{line}: {field}: {message}" in text
    assert allowed in text
    assert "Traceback" not in captured.out + captured.err
    assert not (tmp_path / "out").exists()


def test_score_bad_as_of_date_exits_two(files, capsys) -> None:
    _, scenario, questions = files
    with pytest.raises(SystemExit) as exc:
        main(["score", str(scenario), str(questions), "--as-of", "2024-02-30"])
    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert "argument --as-of: '2024-02-30' is not a date; use YYYY-MM-DD" in captured.err
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("argv", [["--draws", "0"], ["--method", "mcmc"], []])
def test_score_bad_options_exit_two(files, capsys, argv) -> None:
    _, scenario, questions = files
    as_of = [] if not argv else ["--as-of", "2024-02-15"]
    with pytest.raises(SystemExit) as exc:
        main(["score", str(scenario), str(questions), *as_of, *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert (
        "one of the arguments --as-of --lead-months is required" in err
        if not argv
        else "argument --" in err
    )


def test_score_at_leads_forecasts_each_question_that_many_months_ahead(files, capsys) -> None:
    """Q1 (June) four months ahead is forecast as of 29 February, from the one item known.

    Q3 resolved in January: decided by both cut-offs, so the open rows leave it out.
    """
    folder, scenario, _ = files
    questions = folder / "questions_leads.csv"
    questions.write_text(
        "id,node,state,kind,date,outcome,resolved_on\n"
        "Q1,x,yes,in_state,2024-06-30,0,2024-06-30\n"
        "Q3,x,yes,reached,2024-06-30,1,2024-01-20\n"
    )
    out = folder / "leads"
    code = _score_precisely(scenario, questions, out, "--lead-months", "4", "1", "4")
    captured = capsys.readouterr()
    text = _flat(captured.out)
    assert code == 0, captured.out
    assert "at leads of 4, 1 months" in text
    assert "scores 4 months ahead" in text and "scores 1 months ahead" in text
    assert "Overall by lead" in text
    scores = pd.read_csv(out / "one_rule_leads_scores.csv")
    assert sorted(scores["lead_months"].unique()) == [1, 4]
    four = scores[scores["lead_months"] == 4].set_index("question")
    assert four.loc["Q1", "as_of"].startswith("2024-02-29")
    assert four.loc["Q1", "forecast"] == pytest.approx(exact_mean(1, yes_jun(1)), abs=0.005)
    summary = pd.read_csv(out / "one_rule_leads_score_summary.csv", index_col=[0, 1, 2])
    assert summary.loc[(4, "all", "model"), "brier"] == pytest.approx(four["brier"].mean())
    assert set(summary.index.get_level_values(0)) == {1, 4}
    assert summary.loc[(4, "open", "model"), "n"] == 1
    assert summary.loc[(4, "open", "model"), "brier"] == pytest.approx(four.loc["Q1", "brier"])


def test_score_refuses_both_a_date_and_leads(files, capsys) -> None:
    _, scenario, questions = files
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "score",
                str(scenario),
                str(questions),
                "--as-of",
                "2024-02-15",
                "--lead-months",
                "3",
            ]
        )
    assert exc.value.code == 2
    assert "argument --lead-months: not allowed with argument --as-of" in capsys.readouterr().err


def test_score_missing_questions_file_exits_two(files, tmp_path, capsys) -> None:
    _, scenario, _ = files
    code = main(["score", str(scenario), str(tmp_path / "nowhere.csv"), "--as-of", "2024-02-15"])
    text = _flat(capsys.readouterr().out)
    assert code == 2
    assert "nowhere.csv" in text and "cannot read the questions file" in text


def test_score_console_script_no_traceback(files, tmp_path) -> None:
    """The installed entry point, in a fresh process: exit status 2 and no traceback."""
    _, scenario, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nQ1,x,purple,in_state,2024-06-30,0,s\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "forecast.cli",
            "score",
            str(scenario),
            str(bad),
            "--as-of",
            "2024-02-15",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 2
    assert "row 2.state: unknown state 'purple' of node 'x'" in _flat(done.stdout)
    assert "Traceback" not in done.stdout + done.stderr
