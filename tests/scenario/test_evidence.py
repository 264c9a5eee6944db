"""Evidence read from the data files, re-derived independently with pandas.

The Kursk occupation series (README, "The Kursk scenario: data and choices"): only rows whose
note starts with TRACKER, OSINT or OFFICIAL WESTERN; the last reading of a month stands for the
month; none < 1 km2 <= foothold < 100 km2 <= substantial. Every row of the observation table is
an evidence item with its source.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import forecast
from forecast.engine import ExactEngine
from forecast.engine.exact import central_params
from tests.paths import ROOT, TESTS

KURSK = ROOT / "scenarios" / "kursk_2024.yaml"
TERRITORY = ROOT / "data" / "kursk_territory.csv"
OBSERVATIONS = ROOT / "data" / "kursk_observations.csv"
US_PUSH = ROOT / "data" / "kursk_us_push.csv"
US_PRESIDENT = ROOT / "data" / "kursk_us_president.csv"
TRUSTED = r"(TRACKER|OSINT|OFFICIAL WESTERN)"
OFFICIAL_CLAIM = r"OFFICIAL (\(anonymous\) )?(UKRAINIAN|RUSSIAN)"


def _read(path: Path) -> pd.DataFrame:
    """A data CSV with each row's line number (header = line 1; no cell spans two lines)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(frame) + 1
    frame["line"] = np.arange(len(frame)) + 2
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


def _state(km2: float) -> str:
    return "none" if km2 < 1 else "foothold" if km2 < 100 else "substantial"


def _month(date: dt.date) -> str:
    return f"{date:%Y-%m}"


def _expected_occupation(
    as_of: dt.date | None = None, trusted: str = TRUSTED
) -> dict[str, tuple[dt.date, str, int]]:
    """Month -> (date, state, line) of the month's last trusted reading known by ``as_of``.

    Readings of one day are ordered as in the file, so the lower row is the later reading.
    """
    rows = _read(TERRITORY)
    rows = rows[rows["note"].str.match(trusted)]
    if as_of is not None:
        rows = rows[rows["date"] <= as_of]
    out = {}
    for _, row in rows.sort_values("date", kind="stable").iterrows():
        out[_month(row["date"])] = (
            row["date"],
            _state(float(row["km2_held_by_ukraine"])),
            int(row["line"]),
        )
    return out


def _occupation(items) -> dict[str, tuple[dt.date, str, int]]:
    out = {}
    for item in items:
        if item.node == "occupation":
            month = _month(item.date)
            assert month not in out, f"two occupation items for {month}"
            out[month] = (item.date, item.states[0], int(item.origin.rsplit(":", 1)[1]))
    return out


@pytest.fixture(scope="module")
def kursk() -> forecast.Scenario:
    return forecast.load_scenario(KURSK)


def test_occupation_series_month_by_month(kursk) -> None:
    expected = _expected_occupation()
    # read off the CSV by eye, as a check of the derivation: Oct 660, Nov 560 (DeepState),
    # no trusted December reading (the 500 km2 row is a low-reliability upper bound), Jan 420,
    # Feb 450, Mar 77 (Black Bird, below the Reuters 110 of the same day), Apr 30, Jun 5.5
    assert {m: s for m, (_, s, _) in expected.items()} == {
        "2024-10": "substantial",
        "2024-11": "substantial",
        "2025-01": "substantial",
        "2025-02": "substantial",
        "2025-03": "foothold",
        "2025-04": "foothold",
        "2025-06": "foothold",
    }
    assert _occupation(kursk.evidence) == expected


def test_occupation_items_carry_their_row(kursk) -> None:
    rows = _read(TERRITORY).set_index("line")
    items = [e for e in (*kursk.evidence, *kursk.superseded) if e.node == "occupation"]
    assert items
    for item in items:
        file, line = item.origin.rsplit(":", 1)
        row = rows.loc[int(line)]
        assert file == TERRITORY.name
        assert item.date == item.known_on == row["date"]
        assert item.source == f"{row['source_name']} | {row['url']}"
        assert float(item.note.split("=")[1]) == float(row["km2_held_by_ukraine"])
        assert item.states == (_state(float(row["km2_held_by_ukraine"])),)


def test_no_official_claim_is_used(kursk) -> None:
    rows = _read(TERRITORY)
    official = set(rows.loc[rows["note"].str.match(OFFICIAL_CLAIM), "line"])
    used = {
        int(e.origin.rsplit(":", 1)[1])
        for e in (*kursk.evidence, *kursk.superseded)
        if e.origin.startswith(TERRITORY.name + ":")
    }
    assert len(official) >= 9 and used
    assert not used & official
    # not vacuous: with the claims, April would read 'none' (Russia's 0 km2 of 26 April)
    with_claims = _expected_occupation(trusted=rf"({TRUSTED[1:-1]}|{OFFICIAL_CLAIM})")
    assert with_claims["2025-04"][1] == "none"
    assert _occupation(kursk.evidence)["2025-04"][1] == "foothold"


def test_every_evidence_item_has_a_source(kursk) -> None:
    items = (*kursk.evidence, *kursk.superseded)
    assert len(items) > 50
    for item in items:
        assert item.source.strip(), item


def test_every_observation_row_is_an_evidence_item(kursk) -> None:
    rows = _read(OBSERVATIONS)
    rows["reported"] = pd.to_datetime(rows["reported"]).dt.date
    expected = Counter(
        (r.node, r.date, r.reported, tuple(r.state.split("|")), r.source, r.note)
        for r in rows.itertuples()
    )
    from_table = [e for e in kursk.evidence if e.origin.split(":")[0] == OBSERVATIONS.name]
    got = Counter((e.node, e.date, e.known_on, e.states, e.source, e.note) for e in from_table)
    assert got == expected
    assert len(from_table) == len(rows) == 44
    # each item points at its own row
    by_line = rows.set_index("line")
    for item in from_table:
        row = by_line.loc[int(item.origin.split(":")[1])]
        assert (item.node, item.date, item.source) == (row["node"], row["date"], row["source"])
    # the tables and the series are all the evidence there is
    us_push, us_president = _read(US_PUSH), _read(US_PRESIDENT)
    assert set(us_push["node"]) == {"us_push"}
    assert set(us_president["node"]) == {"us_president"}
    assert len(kursk.evidence) == (
        len(rows) + len(us_push) + len(us_president) + len(_expected_occupation())
    )


def _as_of_dates() -> list[dt.date]:
    """Each trusted reading's date, the day before it, and some month ends."""
    rows = _read(TERRITORY)
    dates = set(rows.loc[rows["note"].str.match(TRUSTED), "date"])
    dates |= {d - dt.timedelta(days=1) for d in dates}
    dates |= {dt.date(2024, 9, 30), dt.date(2025, 3, 31), dt.date(2025, 12, 31)}
    return sorted(dates)


@pytest.mark.parametrize("as_of", _as_of_dates(), ids=str)
def test_occupation_as_of_is_the_last_reading_known_then(kursk, as_of: dt.date) -> None:
    """As of a day inside a month, the month's reading is the last one known by that day
    (e.g. on 2025-03-14 DeepState's 140 km2 of 03-13, not the 77 km2 published on 03-16)."""
    assert _occupation(kursk.evidence_as_of(as_of)) == _expected_occupation(as_of)


def test_mid_march_2025_reads_substantial(kursk) -> None:
    march = _occupation(kursk.evidence_as_of(dt.date(2025, 3, 14)))["2025-03"]
    assert march[:2] == (dt.date(2025, 3, 13), "substantial")
    assert _occupation(kursk.evidence_as_of(dt.date(2025, 3, 16)))["2025-03"][1] == "foothold"


def _key(item) -> tuple:
    return item.node, item.date, item.known_on, item.states, item.source, item.note


@pytest.mark.parametrize(
    "as_of",
    [
        dt.date(2024, 9, 30),
        dt.date(2024, 11, 5),
        dt.date(2024, 11, 30),
        dt.date(2025, 1, 10),
        dt.date(2025, 2, 8),
        dt.date(2025, 3, 14),
        dt.date(2025, 3, 31),
        dt.date(2025, 6, 30),
    ],
    ids=str,
)
def test_as_of_evidence_depends_only_on_rows_known_by_then(
    kursk, tmp_path: Path, as_of: dt.date
) -> None:
    """Deleting every data row that became known after ``as_of`` leaves the evidence as of
    that date, its matrices and the exact answers unchanged: nothing later leaks in."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "data").mkdir()
    shutil.copy(KURSK, tmp_path / "scenarios" / KURSK.name)
    removed = 0
    for path, known in (
        (TERRITORY, "date"),
        (OBSERVATIONS, "reported"),
        (US_PUSH, "reported"),
        (US_PRESIDENT, "reported"),
    ):
        rows = _read(path)
        keep = set(rows.loc[pd.to_datetime(rows[known]).dt.date <= as_of, "line"])
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        removed += len(rows) - len(keep)
        (tmp_path / "data" / path.name).write_text(
            lines[0] + "".join(lines[n - 1] for n in sorted(keep)), encoding="utf-8"
        )
    assert removed > 0
    truncated = forecast.load_scenario(tmp_path / "scenarios" / KURSK.name)
    cut = kursk.evidence_as_of(as_of)
    assert len(cut) < len(kursk.evidence)
    assert Counter(map(_key, truncated.evidence)) == Counter(map(_key, cut))
    assert Counter(map(_key, truncated.evidence_as_of(as_of))) == Counter(map(_key, cut))
    engine, short = ExactEngine(kursk), ExactEngine(truncated)
    for a, b in zip(engine.evidence(as_of), short.evidence(), strict=True):
        assert_array_equal(a, b)
    params = central_params(kursk)
    full, trunc = engine.run(params, engine.evidence(as_of)), short.run(params, short.evidence())
    assert full.loglik == trunc.loglik
    assert full.questions == trunc.questions


# ------------------------------------------------------------------ a small series by hand

SERIES_CSV = """\
date,level,source_name,url,note
2024-01-10,0.5,s1,http://u/1,keep
2024-01-20,1,s2,http://u/2,keep
2024-02-05,5,s3,http://u/3,drop
2024-02-15,1.5,s4,http://u/4,keep
2024-03-31,1.99,s5,,keep
2024-03-31,2,s6,http://u/6,keep
"""


def _series_scenario(tmp_path: Path, per_month: str) -> forecast.Scenario:
    text = (
        (TESTS / "scenarios" / "tiny_chain.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "evidence:\n",
            "evidence:\n"
            "  series:\n"
            "    - {file: level.csv, node: b, value_column: level, include: {note: '^keep'},\n"
            f"       per_month: {per_month}, rationale: r,\n"
            "       bins: [{state: low, max: 1}, {state: mid, min: 1, max: 2},\n"
            "              {state: high, min: 2}]}\n",
        )
    )
    (tmp_path / "level.csv").write_text(SERIES_CSV, encoding="utf-8")
    path = tmp_path / f"series_{per_month}.yaml"
    path.write_text(text, encoding="utf-8")
    return forecast.load_scenario(path)


def _b(items) -> list[tuple[str, str, str]]:
    return sorted((f"{e.date}", e.states[0], e.source) for e in items if e.node == "b")


def test_series_last_reading_bins_and_sources(tmp_path: Path) -> None:
    """Bins are [min, max): 1 is mid and 2 is high. 'drop' rows are left out. Of two readings
    on one day the lower row wins; a source is its non-empty source columns joined by ' | '."""
    scenario = _series_scenario(tmp_path, "last")
    assert _b(scenario.evidence) == [
        ("2024-01-20", "mid", "s2 | http://u/2"),
        ("2024-02-15", "mid", "s4 | http://u/4"),
        ("2024-03-31", "high", "s6 | http://u/6"),
    ]
    # the January reading of the 10th stood for January until the 20th
    (early,) = scenario.superseded
    assert (early.date, early.states, early.superseded_on) == (
        dt.date(2024, 1, 10),
        ("low",),
        dt.date(2024, 1, 20),
    )
    assert _b(scenario.evidence_as_of(dt.date(2024, 1, 9))) == []
    assert _b(scenario.evidence_as_of(dt.date(2024, 1, 10))) == [
        ("2024-01-10", "low", "s1 | http://u/1")
    ]
    assert _b(scenario.evidence_as_of(dt.date(2024, 1, 19))) == [
        ("2024-01-10", "low", "s1 | http://u/1")
    ]
    assert _b(scenario.evidence_as_of(dt.date(2024, 1, 20))) == [
        ("2024-01-20", "mid", "s2 | http://u/2")
    ]
    assert _b(scenario.evidence_as_of(dt.date(2024, 3, 30))) == _b(scenario.evidence)[:2]
    assert _b(scenario.evidence_as_of(dt.date(2024, 3, 31))) == _b(scenario.evidence)
    # the evidence matrices as of mid-January observe b low in month 0, later nothing
    matrix = ExactEngine(scenario).evidence(dt.date(2024, 1, 15))[scenario.node_index["b"]]
    assert_array_equal(matrix, [[1, 0, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1]])


def test_series_first_reading(tmp_path: Path) -> None:
    scenario = _series_scenario(tmp_path, "first")
    assert _b(scenario.evidence) == [
        ("2024-01-10", "low", "s1 | http://u/1"),
        ("2024-02-15", "mid", "s4 | http://u/4"),
        ("2024-03-31", "mid", "s5"),
    ]
    assert scenario.superseded == ()
    assert _b(scenario.evidence_as_of(dt.date(2024, 1, 25))) == _b(scenario.evidence)[:1]
