"""The figures and CSVs of ``forecast fit``: a CSV of what each PNG draws, the overview.

The value a CSV gives at each question's month is the forecast table's, for every outcome of
the run (one of each kind: in_state, reached and absorbing, reached and leavable).
"""

from __future__ import annotations

import contextlib
import io
import struct
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from forecast.cli import main
from forecast.plots.style import MAX_WIDTH_PX
from tests.conftest import OUTCOMES
from tests.paths import TINY

FAST = ["--draws", "200", "--tune", "200", "--chains", "2", "--cores", "1", "--no-progress"]
COLUMNS = ["outcome", "label", "kind", "quantity", "month", "date", "mean", "low50", "high50"]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[str, Path, str]:
    """A fit of the tiny chain with three outcomes on all the evidence: stdout, run, stem."""
    folder = tmp_path_factory.mktemp("cli_figures")
    scenario = folder / "tiny_outcomes.yaml"
    scenario.write_text(TINY.read_text(encoding="utf-8") + OUTCOMES, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["fit", str(scenario), *FAST, "--seed", "4", "--out", str(folder / "out")])
    assert code == 0, out.getvalue() + err.getvalue()
    (run,) = (folder / "out").glob("all_evidence_*")
    return out.getvalue(), run, "tiny_chain_latest"


def test_fit_writes_a_csv_beside_each_png(fitted) -> None:
    stdout, run, stem = fitted
    plots = run / f"{stem}_plots"
    ids = ["b_high", "b_mid", "a_yes"]
    assert sorted(p.name for p in plots.glob("*.png")) == sorted(f"{i}.png" for i in ids)
    assert sorted(p.name for p in plots.glob("*.csv")) == sorted(f"{i}.csv" for i in ids)
    for oid in ids:
        table = pd.read_csv(plots / f"{oid}.csv")
        assert [*table.columns[: len(COLUMNS)]] == COLUMNS
        assert {"low90", "high90", "prior_mean", "question"} <= set(table.columns)
        assert set(table["outcome"]) == {oid}
        assert list(table["month"]) == ["2024-01", "2024-02", "2024-03", "2024-04"]
        for path in (plots / f"{oid}.png", plots / f"{oid}.csv"):
            assert str(path) in stdout


def test_csv_at_each_question_date_is_the_forecast_table(fitted) -> None:
    _, run, stem = fitted
    forecast_table = pd.read_csv(run / f"{stem}_forecast.csv").set_index("question")
    checked = 0
    for csv in sorted((run / f"{stem}_plots").glob("*.csv")):
        table = pd.read_csv(csv, keep_default_na=False)
        for row in table[table["question"] != ""].itertuples():
            for question in row.question.split():
                expected = forecast_table.loc[question]
                assert_allclose(row.mean, expected["posterior_mean"], rtol=1e-9, atol=1e-12)
                assert_allclose(row.prior_mean, expected["prior_mean"], rtol=1e-9, atol=1e-12)
                assert expected["date"][:7] == row.month
                checked += 1
    outcome_questions = [q for q in forecast_table.index if "_by_" in q]
    assert checked == len(outcome_questions) == 6  # 3 outcomes x (report date + horizon)


def test_fit_writes_an_overview_that_reads_at_1000_px(fitted) -> None:
    stdout, run, stem = fitted
    png, csv = run / f"{stem}_outcomes.png", run / f"{stem}_outcomes.csv"
    assert str(png) in stdout and str(csv) in stdout
    width, _ = _png_size(png)
    assert width <= MAX_WIDTH_PX
    table = pd.read_csv(csv)
    assert list(dict.fromkeys(table["outcome"])) == ["b_high", "b_mid", "a_yes"]
    for oid, part in table.groupby("outcome"):
        single = pd.read_csv(run / f"{stem}_plots" / f"{oid}.csv")
        assert_allclose(part["mean"].to_numpy(), single["mean"].to_numpy())
    for png in (run / f"{stem}_plots").glob("*.png"):
        assert _png_size(png)[0] <= MAX_WIDTH_PX
