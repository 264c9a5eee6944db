"""Evidence: dated observations of node states, from the scenario file and from CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from forecast.errors import Problem
from forecast.spec.scenario import EvidenceItem
from forecast.spec.schema import ScenarioSpec, SeriesEvidence
from forecast.timeline import Timeline, parse_date

TABLE_COLUMNS = ("date", "node", "state", "source")


class EvidenceReader:
    """Reads every evidence source of a scenario, collecting problems instead of failing fast.

    Parameters
    ----------
    spec : ScenarioSpec
        The scenario as written.
    base_dir : Path
        Folder that relative evidence paths are resolved against (the scenario's folder).
    timeline : Timeline
        The scenario's months.
    scenario_file : str
        Name of the scenario file, for messages about inline observations.
    """

    def __init__(self, spec: ScenarioSpec, base_dir: Path, timeline: Timeline,
                 scenario_file: str, line_of) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.timeline = timeline
        self.scenario_file = scenario_file
        self.line_of = line_of
        self.problems: list[Problem] = []
        self.files: dict[str, str] = {}

    def _problem(self, file: str, field: str, message: str, allowed: str = "",
                 line: int | None = None) -> None:
        self.problems.append(Problem(file, field, message, allowed, line))

    def _check(self, file: str, field: str, line: int | None, node: str, states: list[str],
               date: dt.date) -> bool:
        if node not in self.spec.nodes:
            self._problem(file, f"{field}.node", f"evidence for unknown node '{node}'",
                          f"one of: {', '.join(self.spec.nodes)}", line)
            return False
        known = list(self.spec.nodes[node].states)
        bad = [s for s in states if s not in known]
        if bad:
            self._problem(file, f"{field}.state", f"unknown state '{bad[0]}' of node '{node}'",
                          f"one of: {', '.join(known)}", line)
            return False
        if not self.timeline.contains(date):
            last = self.timeline.month_end_date(self.timeline.n_steps - 1)
            self._problem(file, f"{field}.date", f"{date} is outside the scenario's timeline",
                          f"dates from {self.timeline.month_label(0)}-01 to {last}", line)
            return False
        return True

    def read(self) -> list[EvidenceItem]:
        """All evidence items that passed their checks."""
        items = self._inline()
        for index, table in enumerate(self.spec.evidence.tables):
            items += self._table(index, table)
        for index, series in enumerate(self.spec.evidence.series):
            items += self._series(index, series)
        self._conflicts(items)
        return items

    def _inline(self) -> list[EvidenceItem]:
        out = []
        for i, obs in enumerate(self.spec.evidence.observations):
            path = ("evidence", "observations", i)
            field = f"evidence.observations[{i}]"
            if self._check(self.scenario_file, field, self.line_of(path), obs.node, obs.states,
                           obs.date):
                out.append(EvidenceItem(obs.node, obs.date, obs.known_on, tuple(obs.states),
                                        obs.source, f"{self.scenario_file}:{field}", obs.note))
        return out

    def _open_csv(self, name: str, field: str) -> tuple[Path, list[dict[str, str]]] | None:
        path = (self.base_dir / name).resolve()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self._problem(self.scenario_file, field, f"cannot read evidence file '{name}': "
                          f"{exc.strerror or exc}", "a CSV path relative to the scenario file",
                          self.line_of(tuple(_split_field(field))))
            return None
        self.files[name] = text
        return path, list(csv.DictReader(text.splitlines()))

    def _table(self, index: int, name: str) -> list[EvidenceItem]:
        field = f"evidence.tables[{index}]"
        opened = self._open_csv(name, field)
        if opened is None:
            return []
        path, rows = opened
        file = str(path)
        header = list(rows[0]) if rows else []
        missing = [c for c in TABLE_COLUMNS if c not in header]
        if missing:
            self._problem(file, "header", f"missing column(s) {', '.join(missing)}",
                          f"columns {', '.join(TABLE_COLUMNS)} (and optional reported, note)", 1)
            return []
        out = []
        for row_no, row in enumerate(rows, start=2):
            try:
                date = parse_date(row["date"])
                reported = parse_date(row["reported"]) if row.get("reported") else date
            except ValueError as exc:
                self._problem(file, f"row {row_no}.date", str(exc), "YYYY-MM-DD", row_no)
                continue
            states = [s.strip() for s in row["state"].split("|") if s.strip()]
            if not row["source"].strip():
                self._problem(file, f"row {row_no}.source", "empty source",
                              "a URL or citation for every observation", row_no)
                continue
            if reported < date:
                self._problem(file, f"row {row_no}.reported", "reported before the date observed",
                              "reported on or after date", row_no)
                continue
            if self._check(file, f"row {row_no}", row_no, row["node"].strip(), states, date):
                out.append(EvidenceItem(row["node"].strip(), date, reported, tuple(states),
                                        row["source"].strip(), f"{path.name}:{row_no}",
                                        row.get("note", "") or ""))
        return out

    def _series(self, index: int, series: SeriesEvidence) -> list[EvidenceItem]:
        field = f"evidence.series[{index}]"
        opened = self._open_csv(series.file, f"{field}.file")
        if opened is None:
            return []
        path, rows = opened
        file = str(path)
        header = list(rows[0]) if rows else []
        needed = [series.date_column, series.value_column, *series.source_columns,
                  *series.include]
        missing = [c for c in needed if c not in header]
        if missing:
            self._problem(file, "header", f"missing column(s) {', '.join(missing)} named in "
                          f"{self.scenario_file} {field}", f"columns of the file: "
                          f"{', '.join(header)}", 1)
            return []
        node = self.spec.nodes.get(series.node)
        if node is None:
            self._problem(self.scenario_file, f"{field}.node", f"unknown node '{series.node}'",
                          f"one of: {', '.join(self.spec.nodes)}", self.line_of(
                              ("evidence", "series", index, "node")))
            return []
        chosen: dict[int, tuple[int, dt.date, float, dict[str, str]]] = {}
        for row_no, row in enumerate(rows, start=2):
            if not all(re.search(p, row[c] or "") for c, p in series.include.items()):
                continue
            try:
                date = parse_date(row[series.date_column])
                value = float(row[series.value_column])
            except ValueError as exc:
                self._problem(file, f"row {row_no}", str(exc), "a date and a number", row_no)
                continue
            step = self.timeline.step_of(date)
            current = chosen.get(step)
            later = current is None or (
                date >= current[1] if series.per_month == "last" else date < current[1])
            if later:
                chosen[step] = (row_no, date, value, row)
        out = []
        for _, (row_no, date, value, row) in sorted(chosen.items()):
            states = [b.state for b in series.bins if b.min <= value < b.max]
            if not states:
                self._problem(file, f"row {row_no}.{series.value_column}",
                              f"value {value} falls in no bin of {field}",
                              "bins that cover every value", row_no)
                continue
            source = " | ".join(row[c] for c in series.source_columns if row[c])
            if self._check(file, f"row {row_no}", row_no, series.node, states[:1], date):
                out.append(EvidenceItem(series.node, date, date, (states[0],), source,
                                        f"{path.name}:{row_no}",
                                        f"{series.value_column}={value:g}"))
        return out

    def _conflicts(self, items: list[EvidenceItem]) -> None:
        by_cell: dict[tuple[str, int], EvidenceItem] = {}
        for item in items:
            key = (item.node, self.timeline.step_of(item.date))
            other = by_cell.get(key)
            if other is not None and not set(other.states) & set(item.states):
                self._problem(item.origin.split(":")[0] if ":" in item.origin else
                              self.scenario_file, item.origin,
                              f"observes '{item.node}' in {'|'.join(item.states)} in "
                              f"{self.timeline.month_label(key[1])}, but {other.origin} "
                              f"observes {'|'.join(other.states)} in the same month",
                              "observations of one node in one month that can all be true")
            by_cell.setdefault(key, item)


def _split_field(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", field):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts
