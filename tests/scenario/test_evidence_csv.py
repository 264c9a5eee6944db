"""The evidence CSV reader's checks: strict days, closest column names, no silent leak."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import forecast
from forecast import ScenarioError
from forecast.scenario.evidence import TABLE_COLUMNS, TABLE_OPTIONAL, closest, csv_day
from tests.paths import TESTS

CASE = TESTS / "bad_inputs" / "csv" / "02_table_unknown_column.yaml"


def test_csv_day_accepts_days_only() -> None:
    assert csv_day(" 2024-03-10 ") == dt.date(2024, 3, 10)
    with pytest.raises(ValueError, match="is a month, not a day"):
        csv_day("2024-03")
    with pytest.raises(ValueError, match="not a date of the calendar"):
        csv_day("2024-02-30")
    with pytest.raises(ValueError, match="is not a date"):
        csv_day("2024/03/10")


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        ("reportd", "; did you mean 'reported'?"),
        ("Reported", "; did you mean 'reported'?"),
        (" state", "; did you mean 'state'?"),
        ("confidence", ""),
    ],
)
def test_closest_column(word: str, hint: str) -> None:
    assert closest(word, TABLE_COLUMNS + TABLE_OPTIONAL) == hint


def _scenario(tmp_path: Path, table: str) -> Path:
    (tmp_path / "evidence.csv").write_text(table, encoding="utf-8")
    text = CASE.read_text(encoding="utf-8").replace("02_table_unknown_column.csv", "evidence.csv")
    (tmp_path / "case.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "case.yaml"


def test_reported_column_delays_the_evidence(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "date,node,state,source,reported\n2024-03-10,a,yes,src,2024-04-20\n")
    scenario = forecast.load_scenario(path)
    row = [e for e in scenario.evidence if e.origin == "evidence.csv:2"]
    assert row and row[0].known_on == dt.date(2024, 4, 20)
    assert row[0] not in scenario.evidence_as_of(dt.date(2024, 3, 31))


def test_misspelt_reported_is_refused_not_leaked(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "date,node,state,source,reportd\n2024-03-10,a,yes,src,2024-04-20\n")
    with pytest.raises(ScenarioError, match="did you mean 'reported'") as error:
        forecast.load_scenario(path)
    (problem,) = error.value.problems
    assert (Path(problem.file).name, problem.field, problem.line) == ("evidence.csv", "header", 1)


def test_every_row_problem_is_listed(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "date,node,state,source\n2024-03,a,yes,src\n2024-03-10,,yes,src\n2024-03-11,a,yes,\n",
    )
    with pytest.raises(ScenarioError) as error:
        forecast.load_scenario(path)
    fields = [p.field for p in error.value.problems]
    assert fields == ["row 2.date", "row 3.node", "row 4.source"]


def test_cell_limit_is_a_setting(tmp_path: Path, monkeypatch) -> None:
    path = _scenario(tmp_path, "date,node,state,source,note\n2024-03-10,a,yes,src,abcdefghij\n")
    forecast.load_scenario(path)
    monkeypatch.setattr(forecast.settings, "CSV_MAX_CELL_BYTES", 8)
    with pytest.raises(ScenarioError, match="larger than the limit of 8 bytes"):
        forecast.load_scenario(path)


def test_file_limit_is_a_setting(tmp_path: Path, monkeypatch) -> None:
    path = _scenario(tmp_path, "date,node,state,source\n2024-03-10,a,yes,src\n")
    monkeypatch.setattr(forecast.settings, "CSV_MAX_BYTES", 16)
    with pytest.raises(ScenarioError, match="more than the limit of 16 bytes"):
        forecast.load_scenario(path)
