"""Evidence: dated observations of node states, from the scenario file and from CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from forecast.errors import Problem
from forecast.scenario.schema import ScenarioSpec, SeriesEvidence
from forecast.scenario.timeline import Timeline, parse_date
from forecast.scenario.validated import EvidenceItem
from forecast.scenario.yaml_source import LineMap

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
        Name of the scenario file, for messages about its evidence fields.
    lines : LineMap
        Line (and, for a scenario that extends another, file) of each field path.

    Attributes
    ----------
    problems : list of Problem
        Everything wrong with the evidence, found by :meth:`read`.
    files : dict of str to str
        Text of every CSV file read, by the name the scenario gives it.
    where : dict of str to tuple
        ``(file, field, line)`` of every evidence item read, by its ``origin``.
    superseded : list of EvidenceItem
        Series readings that stood for their month only until a later reading of the month
        became known (``superseded_on``), found by :meth:`read`.
    """

    def __init__(
        self,
        spec: ScenarioSpec,
        base_dir: Path,
        timeline: Timeline,
        scenario_file: str,
        lines: LineMap,
    ) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.timeline = timeline
        self.scenario_file = scenario_file
        self.line_of = lines.line
        self._lines = lines
        self.problems: list[Problem] = []
        self.files: dict[str, str] = {}
        self.where: dict[str, tuple[str, str, int | None]] = {}
        self.superseded: list[EvidenceItem] = []

    def _file_of(self, path: tuple) -> str:
        """The file a field of the scenario comes from (its base, for an inherited field)."""
        return self._lines.file(path, self.scenario_file)

    def _problem(
        self, file: str, field: str, message: str, allowed: str = "", line: int | None = None
    ) -> None:
        self.problems.append(Problem(file, field, message, allowed, line))

    def _check(
        self, file: str, field: str, line: int | None, node: str, states: list[str], date: dt.date
    ) -> bool:
        if node not in self.spec.nodes:
            self._problem(
                file,
                f"{field}.node",
                f"evidence for unknown node '{node}'",
                f"one of: {', '.join(self.spec.nodes)}",
                line,
            )
            return False
        known = list(self.spec.nodes[node].states)
        bad = [s for s in states if s not in known]
        if bad:
            self._problem(
                file,
                f"{field}.state",
                f"unknown state '{bad[0]}' of node '{node}'",
                f"one of: {', '.join(known)}",
                line,
            )
            return False
        if not self.timeline.contains(date):
            last = self.timeline.month_end_date(self.timeline.n_steps - 1)
            self._problem(
                file,
                f"{field}.date",
                f"{date} is outside the scenario's timeline",
                f"dates from {self.timeline.month_label(0)}-01 to {last}",
                line,
            )
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
            line = self.line_of(path)
            file = self._file_of(path)
            if self._check(file, field, line, obs.node, obs.states, obs.date):
                origin = f"{file}:{field}"
                self.where[origin] = (file, field, line)
                out.append(
                    EvidenceItem(
                        obs.node,
                        obs.date,
                        obs.known_on,
                        tuple(obs.states),
                        obs.source,
                        origin,
                        obs.note,
                    )
                )
        return out

    def _open_csv(
        self, name: str, field: str
    ) -> tuple[Path, list[str], list[tuple[int, dict[str, str]]]] | None:
        """Read a CSV file: its path, header and ``(line, row)`` pairs, or None on failure.

        Rows whose number of cells differs from the header's are reported and left out.
        """
        path = (self.base_dir / name).resolve()
        key = tuple(_split_field(field))
        line, file = self.line_of(key), self._file_of(key)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            self._problem(
                file,
                field,
                f"cannot read evidence file '{name}': {exc.strerror or exc}",
                "a CSV path relative to the scenario file",
                line,
            )
            return None
        except UnicodeDecodeError as exc:
            self._problem(
                file,
                field,
                f"evidence file '{name}' is not UTF-8 text (byte {exc.start})",
                "a CSV file saved as UTF-8",
                line,
            )
            return None
        self.files[name] = text
        reader = csv.DictReader(text.splitlines())
        header = [c for c in reader.fieldnames or [] if c is not None]
        rows = []
        for row in reader:
            row_no = reader.line_num
            cells = len(header) + len(row.get(None) or []) - list(row.values()).count(None)
            if cells != len(header):
                self._problem(
                    str(path),
                    f"row {row_no}",
                    f"the row has {cells} cells, the header has {len(header)}",
                    "one cell per column (put quotes around cells that contain commas)",
                    row_no,
                )
                continue
            rows.append((row_no, row))
        return path, header, rows

    def _table(self, index: int, name: str) -> list[EvidenceItem]:
        field = f"evidence.tables[{index}]"
        opened = self._open_csv(name, field)
        if opened is None:
            return []
        path, header, rows = opened
        file = str(path)
        missing = [c for c in TABLE_COLUMNS if c not in header]
        if missing:
            self._problem(
                file,
                "header",
                f"missing column(s) {', '.join(missing)}",
                f"columns {', '.join(TABLE_COLUMNS)} (and optional reported, note)",
                1,
            )
            return []
        out = []
        for row_no, row in rows:
            try:
                date = parse_date(row["date"])
                reported = parse_date(row["reported"]) if row.get("reported") else date
            except ValueError as exc:
                self._problem(file, f"row {row_no}.date", str(exc), "YYYY-MM-DD", row_no)
                continue
            states = [s.strip() for s in row["state"].split("|") if s.strip()]
            if not row["source"].strip():
                self._problem(
                    file,
                    f"row {row_no}.source",
                    "empty source",
                    "a URL or citation for every observation",
                    row_no,
                )
                continue
            if reported < date:
                self._problem(
                    file,
                    f"row {row_no}.reported",
                    "reported before the date observed",
                    "reported on or after date",
                    row_no,
                )
                continue
            if self._check(file, f"row {row_no}", row_no, row["node"].strip(), states, date):
                origin = f"{path.name}:{row_no}"
                self.where[origin] = (file, f"row {row_no}", row_no)
                out.append(
                    EvidenceItem(
                        row["node"].strip(),
                        date,
                        reported,
                        tuple(states),
                        row["source"].strip(),
                        origin,
                        row.get("note", "") or "",
                    )
                )
        return out

    def _series(self, index: int, series: SeriesEvidence) -> list[EvidenceItem]:
        field, key = f"evidence.series[{index}]", ("evidence", "series", index)
        opened = self._open_csv(series.file, f"{field}.file")
        if opened is None:
            return []
        path, header, rows = opened
        file = str(path)
        needed = [series.date_column, series.value_column, *series.source_columns, *series.include]
        missing = [c for c in needed if c not in header]
        if missing:
            self._problem(
                file,
                "header",
                f"missing column(s) {', '.join(missing)} named in {self._file_of(key)} {field}",
                f"columns of the file: {', '.join(header)}",
                1,
            )
            return []
        node = self.spec.nodes.get(series.node)
        if node is None:
            self._problem(
                self._file_of((*key, "node")),
                f"{field}.node",
                f"unknown node '{series.node}'",
                f"one of: {', '.join(self.spec.nodes)}",
                self.line_of((*key, "node")),
            )
            return []
        # every included reading by month, in date order (file order among equal dates)
        readings: dict[int, list[tuple[int, dt.date, float, dict[str, str]]]] = {}
        for row_no, row in rows:
            if not all(re.search(p, row[c] or "") for c, p in series.include.items()):
                continue
            try:
                date = parse_date(row[series.date_column])
                value = float(row[series.value_column])
            except ValueError as exc:
                self._problem(file, f"row {row_no}", str(exc), "a date and a number", row_no)
                continue
            readings.setdefault(self.timeline.step_of(date), []).append((row_no, date, value, row))
        out = []
        for step in sorted(readings):
            month = sorted(readings[step], key=lambda r: r[1])
            if series.per_month == "first":
                month = month[:1]
            # The month's last reading stands for it; an earlier reading stands for it only
            # until a later one is known (kept in ``superseded``, so that the evidence as of a
            # date inside the month is the last reading known by then, not a later one).
            later: dt.date | None = None
            for row_no, date, value, row in reversed(month):
                if later is not None and later == date:
                    continue  # replaced on the day it became known
                item = self._series_item(file, path, field, series, row_no, date, value, row, later)
                if item is None:
                    break
                (out if later is None else self.superseded).append(item)
                later = date
        return out

    def _series_item(
        self,
        file: str,
        path: Path,
        field: str,
        series: SeriesEvidence,
        row_no: int,
        date: dt.date,
        value: float,
        row: dict[str, str],
        superseded_on: dt.date | None,
    ) -> EvidenceItem | None:
        states = [b.state for b in series.bins if b.min <= value < b.max]
        if not states:
            self._problem(
                file,
                f"row {row_no}.{series.value_column}",
                f"value {value} falls in no bin of {field}",
                "bins that cover every value",
                row_no,
            )
            return None
        source = " | ".join(row[c] for c in series.source_columns if row[c])
        if not self._check(file, f"row {row_no}", row_no, series.node, states[:1], date):
            return None
        origin = f"{path.name}:{row_no}"
        self.where[origin] = (file, f"row {row_no}", row_no)
        return EvidenceItem(
            series.node,
            date,
            date,
            (states[0],),
            source,
            origin,
            f"{series.value_column}={value:g}",
            superseded_on,
        )

    def _conflicts(self, items: list[EvidenceItem]) -> None:
        by_cell: dict[tuple[str, int], EvidenceItem] = {}
        for item in items:
            key = (item.node, self.timeline.step_of(item.date))
            other = by_cell.get(key)
            if other is not None and not set(other.states) & set(item.states):
                file, field, line = self.where.get(
                    item.origin, (self.scenario_file, item.origin, None)
                )
                self._problem(
                    file,
                    field,
                    f"observes '{item.node}' in {'|'.join(item.states)} in "
                    f"{self.timeline.month_label(key[1])}, but {other.origin} "
                    f"observes {'|'.join(other.states)} in the same month",
                    "observations of one node in one month that can all be true",
                    line,
                )
            by_cell.setdefault(key, item)


def _split_field(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", field):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts
