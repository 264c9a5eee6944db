"""Evidence: dated observations of node states, from the scenario file and from CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import math
import re
from pathlib import Path

from forecast import settings
from forecast.errors import Problem
from forecast.scenario.schema import Measure, ScenarioSpec, SeriesEvidence
from forecast.scenario.sources import grid_cell, grid_states
from forecast.scenario.timeline import Timeline
from forecast.scenario.validated import EvidenceItem
from forecast.scenario.yaml_source import LineMap

TABLE_COLUMNS = ("date", "node", "state", "source")
"""Columns every evidence table has."""

TABLE_OPTIONAL = ("reported", "note", "reported_by")
"""Columns an evidence table may have besides :data:`TABLE_COLUMNS`; any other is refused (a
misspelt ``reported`` would otherwise count evidence before it was known). ``reported_by``
names a declared source (``sources:``) whose report the row is."""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{1,2}")


def _mib(n: int) -> str:
    """A byte count for a message: ``64 MiB``, ``16 KiB`` or ``12 bytes``."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def csv_day(text: str) -> dt.date:
    """The day a CSV cell gives as ``YYYY-MM-DD`` (a month alone is refused).

    Raises
    ------
    ValueError
        Saying what is wrong with the text (a month without its day, a day that does not
        exist, or not a date at all).
    """
    text = text.strip()
    if _MONTH.fullmatch(text):
        raise ValueError(
            f"'{text}' is a month, not a day: a CSV date needs its day "
            "(inline YAML evidence refuses a month alone too)"
        )
    if _DAY.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"'{text}' is not a date of the calendar (years 0001 to 9999, months 01 to "
                "12, days that exist in the month)"
            ) from None
    raise ValueError(f"'{text}' is not a date")


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``; did you mean 'x'?`` for the choice closest to ``word`` (empty when none is close)."""
    match = difflib.get_close_matches(word.strip().lower(), list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


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
        self,
        file: str,
        field: str,
        line: int | None,
        node: str,
        states: list[str],
        date: dt.date,
        what: str = "state",
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
                f"{field}.{what}",
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

    def _reporter(
        self,
        file: str,
        field: str,
        line: int | None,
        node: str,
        reported_by: str,
        numeric: bool = False,
    ) -> str | None:
        """The node an observation informs: ``node``, or the report node of its source.

        A report by a declared source (``sources:``) is evidence on the source's report
        node, so that it informs ``node`` through the source's reliability or measure. A
        measuring source's readings are numbers: only a series (``numeric``) carries them.
        """
        if not reported_by:
            return node
        source = self.spec.sources.get(reported_by)
        if source is None:
            declared = ", ".join(self.spec.sources) or "none declared"
            self._problem(
                file,
                f"{field}.reported_by",
                f"unknown source '{reported_by}'{closest(reported_by, list(self.spec.sources))}",
                f"a source declared under sources: ({declared}), or no reported_by for "
                "evidence taken as the truth",
                line,
            )
            return None
        if source.reports_on != node:
            self._problem(
                file,
                f"{field}.node",
                f"source '{reported_by}' reports on '{source.reports_on}', not on '{node}'",
                f"node: {source.reports_on} for a report by '{reported_by}'",
                line,
            )
            return None
        if (source.measures is not None) != numeric:
            measured = source.measures is not None
            self._problem(
                file,
                f"{field}.reported_by",
                f"source '{reported_by}' "
                + ("measures a number" if measured else "names a state")
                + (", but this evidence names a state" if measured else ", not a number"),
                "a series reported by a source with measures (its readings are numbers)"
                if measured
                else "a series binned into states (no reported_by), or a source with measures",
                line,
            )
            return None
        return reported_by

    def _likelihood(
        self, file: str, field: str, line: int | None, node: str, weights: dict[str, float]
    ) -> tuple[tuple[str, float], ...] | None:
        """Soft evidence as ``(state, weight)`` in the node's state order, or None (reported).

        Every state must have its weight: a state left out would silently be ruled out.
        """
        known = list(self.spec.nodes[node].states)
        missing = [s for s in known if s not in weights]
        if missing:
            self._problem(
                file,
                f"{field}.likelihood",
                f"the likelihood gives no weight to state(s) {', '.join(missing)} of '{node}'",
                f"a weight for every state: {', '.join(known)} (0 rules a state out)",
                line,
            )
            return None
        return tuple((s, float(weights[s])) for s in known)

    def _observed(
        self,
        file: str,
        field: str,
        line: int | None,
        node: str,
        states: list[str],
        weights: dict[str, float] | None,
        date: dt.date,
        reported_by: str,
    ) -> tuple[str, tuple[tuple[str, float], ...] | None] | None:
        """Check an observation: the node it is evidence on and its soft weights, or None.

        ``states`` are the hard evidence's states, ``weights`` the soft evidence's (then
        ``states`` are ignored); each problem is reported.
        """
        named = states if weights is None else list(weights)
        what = "state" if weights is None else "likelihood"
        if not self._check(file, field, line, node, named, date, what):
            return None
        likelihood = None
        if weights is not None:
            likelihood = self._likelihood(file, field, line, node, weights)
            if likelihood is None:
                return None
        target = self._reporter(file, field, line, node, reported_by)
        return None if target is None else (target, likelihood)

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
            observed = self._observed(
                file,
                field,
                line,
                obs.node,
                obs.states,
                obs.likelihood,
                obs.date,
                obs.reported_by or "",
            )
            if observed is None:
                continue
            node, likelihood = observed
            origin = f"{file}:{field}"
            self.where[origin] = (file, field, line)
            out.append(
                EvidenceItem(
                    node,
                    obs.date,
                    obs.known_on,
                    tuple(obs.states),
                    obs.source,
                    origin,
                    obs.note,
                    likelihood=likelihood,
                )
            )
        return out

    def _open_csv(
        self, name: str, field: str
    ) -> tuple[Path, list[str], list[tuple[int, dict[str, str]]]] | None:
        """Read a CSV file: its path, header and ``(line, row)`` pairs, or None on failure.

        A missing file, a folder, a file larger than ``settings.CSV_MAX_BYTES``, text that
        is not UTF-8 or not CSV, an empty file, and a header with a duplicate or unnamed
        column are reported and give None. Rows whose number of cells differs from the
        header's, or with a cell larger than ``settings.CSV_MAX_CELL_BYTES``, are reported
        and left out.
        """
        path = (self.base_dir / name).resolve()
        key = tuple(_split_field(field))
        line, file = self.line_of(key), self._file_of(key)
        limit = settings.CSV_MAX_BYTES

        def refuse(why: str, allowed: str = "a CSV path relative to the scenario file") -> None:
            self._problem(file, field, f"cannot read evidence file '{name}': {why}", allowed, line)

        try:
            if path.is_dir():
                refuse(f"{path} is a folder, not a file", "a CSV file (not a folder)")
                return None
            if not path.exists():
                refuse(f"no such file ({path})")
                return None
            if path.is_file() and path.stat().st_size > limit:
                refuse(
                    f"it is {_mib(path.stat().st_size)}, more than the limit of {_mib(limit)}",
                    f"an evidence CSV of at most {_mib(limit)} (forecast.settings.CSV_MAX_BYTES)",
                )
                return None
            with path.open("rb") as stream:
                raw = stream.read(limit + 1)
        except OSError as exc:
            refuse(exc.strerror or str(exc))
            return None
        if len(raw) > limit:
            refuse(
                f"it holds more than the limit of {_mib(limit)} (or never ends)",
                f"an evidence CSV of at most {_mib(limit)} (forecast.settings.CSV_MAX_BYTES)",
            )
            return None
        try:
            text = raw.decode("utf-8-sig")
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
        where = str(path)
        if "\x00" in text:
            row_no = text[: text.index("\x00")].count("\n") + 1
            self._problem(
                where,
                f"row {row_no}",
                "the file holds a NUL byte: it is binary, not CSV text",
                "a CSV text file (comma-separated, UTF-8)",
                row_no,
            )
            return None
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        last_line = 0
        cell_limit = settings.CSV_MAX_CELL_BYTES
        header: list[str] | None = None
        rows: list[tuple[int, dict[str, str]]] = []
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row_no = last_line + 1
                if "field larger than field limit" in str(exc):
                    self._cell_too_big(where, f"row {row_no}", row_no, cell_limit)
                elif "unexpected end of data" in str(exc):
                    self._problem(
                        where,
                        f"row {row_no}",
                        f"a quoted cell that starts on row {row_no} is never closed (the "
                        "rest of the file would be read as that one cell)",
                        'a closing " for every opening " (write "" for a quote inside a cell)',
                        row_no,
                    )
                else:
                    self._problem(
                        where,
                        f"row {row_no}",
                        f"not valid CSV: {exc}",
                        'comma-separated cells; a cell with a comma or " in quotes, '
                        'a " inside written ""',
                        row_no,
                    )
                return None
            row_no = reader.line_num
            last_line = row_no
            if not cells:
                continue
            big = next((c for c in cells if len(c.encode("utf-8")) > cell_limit), None)
            if header is None:
                header = cells
                if big is not None or not self._header_ok(where, header):
                    if big is not None:
                        self._cell_too_big(where, "row 1 (header)", row_no, cell_limit)
                    return None
                continue
            if len(cells) != len(header):
                self._problem(
                    where,
                    f"row {row_no}",
                    f"the row has {len(cells)} cells, the header has {len(header)}",
                    "one cell per column (put quotes around cells that contain commas)",
                    row_no,
                )
                continue
            if big is not None:
                column = header[cells.index(big)]
                self._cell_too_big(where, f"row {row_no}.{column}", row_no, cell_limit)
                continue
            rows.append((row_no, dict(zip(header, cells, strict=True))))
        if header is None:
            self._problem(
                where,
                "header",
                "the file is empty: no header row",
                "a CSV file whose first row names its columns",
                1,
            )
            return None
        return path, header, rows

    def _cell_too_big(self, file: str, field: str, row_no: int, limit: int) -> None:
        self._problem(
            file,
            field,
            f"the cell is larger than the limit of {_mib(limit)}",
            f"cells of at most {_mib(limit)} (forecast.settings.CSV_MAX_CELL_BYTES)",
            row_no,
        )

    def _header_ok(self, file: str, header: list[str]) -> bool:
        """Whether no column of the header is unnamed or named twice (else reported)."""
        ok = True
        seen: dict[str, int] = {}
        for number, column in enumerate(header, start=1):
            if not column.strip():
                self._problem(
                    file,
                    "header",
                    f"column {number} has no name",
                    "a name for every column (no empty header cell or trailing comma)",
                    1,
                )
                ok = False
            elif column in seen:
                self._problem(
                    file,
                    "header",
                    f"column '{column}' appears twice (columns {seen[column]} and {number})",
                    "each column once",
                    1,
                )
                ok = False
            else:
                seen[column] = number
        return ok

    def _empty(self, file: str, row_no: int, column: str, allowed: str) -> None:
        self._problem(
            file, f"row {row_no}.{column}", f"empty cell in column '{column}'", allowed, row_no
        )

    def _table(self, index: int, name: str) -> list[EvidenceItem]:
        field = f"evidence.tables[{index}]"
        opened = self._open_csv(name, field)
        if opened is None:
            return []
        path, header, rows = opened
        file = str(path)
        optional = ", ".join(TABLE_OPTIONAL[:-1])
        allowed = (
            f"columns {', '.join(TABLE_COLUMNS)} (and optional {optional}), and "
            f"{TABLE_OPTIONAL[-1]} naming a declared source"
        )
        missing = [c for c in TABLE_COLUMNS if c not in header]
        unknown = [c for c in header if c not in TABLE_COLUMNS + TABLE_OPTIONAL]
        for column in unknown:
            choices = [c for c in TABLE_COLUMNS + TABLE_OPTIONAL if c not in header]
            self._problem(
                file,
                "header",
                f"unknown column '{column}'{closest(column, choices)} (an unknown column is "
                "refused: a misspelt 'reported' would count evidence before it was known)",
                allowed,
                1,
            )
        if missing:
            self._problem(file, "header", f"missing column(s) {', '.join(missing)}", allowed, 1)
        if missing or unknown:
            return []
        out = []
        for row_no, row in rows:
            empty = [c for c in (*TABLE_COLUMNS, "reported") if c in row and not row[c].strip()]
            for column in empty:
                self._empty(
                    file,
                    row_no,
                    column,
                    "the day it was reported, YYYY-MM-DD (leave the column out for evidence "
                    "known on the day observed)"
                    if column == "reported"
                    else "a URL or citation for every observation"
                    if column == "source"
                    else "a day YYYY-MM-DD"
                    if column == "date"
                    else f"a {column} for every observation",
                )
            if empty:
                continue
            dates = {}
            for column in ("date", "reported"):
                if column in row:
                    try:
                        dates[column] = csv_day(row[column])
                    except ValueError as exc:
                        self._problem(
                            file, f"row {row_no}.{column}", str(exc), "YYYY-MM-DD", row_no
                        )
            if len(dates) != len({"date", "reported"} & set(row)):
                continue
            date = dates["date"]
            reported = dates.get("reported", date)
            cells = [s.strip() for s in row["state"].split("|") if s.strip()]
            weights = _soft_cell(cells)
            if isinstance(weights, str):
                self._problem(
                    file,
                    f"row {row_no}.state",
                    weights,
                    "states separated by | (hard evidence), or state=weight for every state "
                    "separated by | (soft evidence), e.g. substantial=0.8|foothold=0.2|none=0",
                    row_no,
                )
                continue
            states = cells if weights is None else [s for s, w in weights.items() if w > 0]
            if weights is not None and not states:
                self._problem(
                    file,
                    f"row {row_no}.state",
                    "every weight of the likelihood is 0: no state could have been observed",
                    "a weight of at least 0 for every state, one of them above 0",
                    row_no,
                )
                continue
            if not states:
                self._problem(
                    file,
                    f"row {row_no}.state",
                    f"no state in '{row['state']}'",
                    "a state, or several separated by |",
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
            where = f"row {row_no}"
            reported_by = row.get("reported_by", "").strip()
            node = row["node"].strip()
            observed = self._observed(file, where, row_no, node, states, weights, date, reported_by)
            if observed is None:
                continue
            target, likelihood = observed
            origin = f"{path.name}:{row_no}"
            self.where[origin] = (file, where, row_no)
            out.append(
                EvidenceItem(
                    target,
                    date,
                    reported,
                    tuple(states),
                    row["source"].strip(),
                    origin,
                    row.get("note", "") or "",
                    likelihood=likelihood,
                )
            )
        return out

    def _overlapping_bins(self, index: int, series: SeriesEvidence) -> bool:
        """Whether two bins of a series overlap (each overlap reported)."""
        key = ("evidence", "series", index, "bins")
        found = False
        for j, b in enumerate(series.bins):
            for i, a in enumerate(series.bins[:j]):
                low, high = max(a.min, b.min), min(a.max, b.max)
                if low < high:
                    self._problem(
                        self._file_of((*key, j)),
                        f"evidence.series[{index}].bins[{j}]",
                        f"the bin for '{b.state}' [{b.min:g}, {b.max:g}) overlaps bins[{i}] "
                        f"for '{a.state}' [{a.min:g}, {a.max:g}) on [{low:g}, {high:g}): a "
                        "value there would be read as the first bin only",
                        "bins that do not overlap (each [min, max); one bin's max may be the "
                        "next bin's min)",
                        self.line_of((*key, j)),
                    )
                    found = True
        return found

    def _measure_of(self, index: int, series: SeriesEvidence) -> tuple[bool, Measure | None]:
        """Whether the series' bins fit its source, and the measure of a measuring source.

        A series reported by a measuring source is counted on that source's grid and has no
        bins; any other series needs at least two.
        """
        key = ("evidence", "series", index, "bins")
        source = self.spec.sources.get(series.reported_by or "")
        measure = source.measures if source is not None else None
        if measure is not None and series.bins:
            self._problem(
                self._file_of(key),
                f"evidence.series[{index}].bins",
                f"bins given for readings of '{series.reported_by}', which measures them on "
                "its own grid",
                f"no bins (sources.{series.reported_by}.measures.edges cut the readings)",
                self.line_of(key),
            )
            return False, None
        if (
            measure is None
            and len(series.bins) < 2
            and (source is not None or not series.reported_by)
        ):
            self._problem(
                self._file_of(key),
                f"evidence.series[{index}].bins",
                f"{len(series.bins)} bin(s): a series needs at least two bins, or a source "
                "that measures it",
                "two or more bins [{state, min, max}, ...], or reported_by a source with measures",
                self.line_of(key) or self.line_of(("evidence", "series", index)),
            )
            return False, None
        return True, measure

    def _series(self, index: int, series: SeriesEvidence) -> list[EvidenceItem]:
        field, key = f"evidence.series[{index}]", ("evidence", "series", index)
        fits, measure = self._measure_of(index, series)
        if not fits or self._overlapping_bins(index, series):
            return []
        opened = self._open_csv(series.file, f"{field}.file")
        if opened is None:
            return []
        path, header, rows = opened
        file = str(path)
        needed = [series.date_column, series.value_column, *series.source_columns, *series.include]
        missing = [c for c in needed if c not in header]
        if missing:
            hints = "".join(closest(c, [h for h in header if h not in needed]) for c in missing)
            self._problem(
                file,
                "header",
                f"missing column(s) {', '.join(missing)} named in {self._file_of(key)} "
                f"{field}{hints}",
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
        by = (*key, "reported_by")
        target = self._reporter(
            self._file_of(by),
            field,
            self.line_of(by),
            series.node,
            series.reported_by or "",
            numeric=measure is not None,
        )
        if target is None:
            return []
        # every included reading by month, in date order (file order among equal dates)
        readings: dict[int, list[tuple[int, dt.date, float, dict[str, str]]]] = {}
        for row_no, row in rows:
            if not all(re.search(p, row[c] or "") for c, p in series.include.items()):
                continue
            date_text, value_text = row[series.date_column], row[series.value_column]
            empty = [
                c
                for c, t in ((series.date_column, date_text), (series.value_column, value_text))
                if not t.strip()
            ]
            for column in empty:
                self._empty(
                    file,
                    row_no,
                    column,
                    "a day YYYY-MM-DD" if column == series.date_column else "a number",
                )
            if empty:
                continue
            try:
                date = csv_day(date_text)
            except ValueError as exc:
                self._problem(
                    file,
                    f"row {row_no}.{series.date_column}",
                    str(exc),
                    "a date YYYY-MM-DD and a number",
                    row_no,
                )
                continue
            try:
                value = float(value_text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                self._problem(
                    file,
                    f"row {row_no}.{series.value_column}",
                    f"'{value_text.strip()}' in column '{series.value_column}' is not a number",
                    "a number (finite, such as 1250 or 0.5)",
                    row_no,
                )
                continue
            readings.setdefault(self.timeline.step_of(date), []).append((row_no, date, value, row))
        out: list[EvidenceItem] = []
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
                item = self._series_item(
                    file, path, field, series, row_no, date, value, row, later, target, measure
                )
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
        target: str,
        measure: Measure | None = None,
    ) -> EvidenceItem | None:
        if measure is not None:
            cell = grid_cell(measure, value)
            if cell is None:
                self._problem(
                    file,
                    f"row {row_no}.{series.value_column}",
                    f"value {value:g} is negative; '{series.reported_by}' measures amounts",
                    "a reading of 0 or more",
                    row_no,
                )
                return None
            states = [grid_states(measure)[cell]]
            if not self._check(file, f"row {row_no}", row_no, series.node, [], date):
                return None
        else:
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
            if not self._check(file, f"row {row_no}", row_no, series.node, states[:1], date):
                return None
        source = " | ".join(row[c] for c in series.source_columns if row[c])
        origin = f"{path.name}:{row_no}"
        self.where[origin] = (file, f"row {row_no}", row_no)
        return EvidenceItem(
            target,
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


def _soft_cell(cells: list[str]) -> dict[str, float] | str | None:
    """The weights of a soft-evidence state cell (``a=0.8|b=0.2``), None for hard evidence.

    A string is returned instead when the cell mixes the two forms or a weight is not a
    number from 0 to 1e12 (the problem, in words).
    """
    soft = [c for c in cells if "=" in c]
    if not soft:
        return None
    if len(soft) != len(cells):
        hard = next(c for c in cells if "=" not in c)
        return f"'{hard}' has no weight, but other states of the cell do"
    weights: dict[str, float] = {}
    for cell in cells:
        state, _, text = (part.strip() for part in cell.partition("="))
        try:
            weight = float(text)
        except ValueError:
            weight = math.nan
        if not 0.0 <= weight <= 1e12:
            return f"the weight '{text}' of state '{state}' is not a number from 0 to 1e12"
        if state in weights:
            return f"state '{state}' is given a weight twice"
        weights[state] = weight
    return weights


def _split_field(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", field):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts
