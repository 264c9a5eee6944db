"""Read a scenario (a file or a mapping): YAML, schema, cross-field checks and evidence.

Every problem is reported with file, field and line.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from forecast.errors import Problem, ScenarioError
from forecast.scenario.evidence import EvidenceReader
from forecast.scenario.extends import resolve_extends
from forecast.scenario.schema import ScenarioSpec
from forecast.scenario.semantics import Checker, build_nodes, build_questions
from forecast.scenario.sources import with_sources
from forecast.scenario.timeline import Timeline, parse_month
from forecast.scenario.validated import Scenario
from forecast.scenario.yaml_source import LineMap, format_field, load_yaml, read_yaml_text
from forecast.settings import MAX_HORIZON_MONTHS, MAX_YAML_DEPTH, MAX_YAML_NODES

_PATTERN_TEXT = {
    r"^[A-Za-z][A-Za-z0-9_]*$": "a name of letters, digits and _ that starts with a letter",
    r"^\d{4}-(0[1-9]|1[0-2])$": "a month YYYY-MM, e.g. 2024-01",
}
_TYPE_TEXT = {
    "string_type": "text (put quotes around words that YAML reads otherwise, e.g. 'true')",
    "list_type": "a list, e.g. [a, b]",
    "tuple_type": "a list, e.g. [a, b]",
    "dict_type": "a mapping of key: value",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "float_type": "a number, e.g. 0.25",
    "float_parsing": "a number, e.g. 0.25",
    "finite_number": "a finite number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing_size": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD",
    "string_too_short": "non-empty text",
}


def _peel(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` and ``X | None`` from an annotation, collecting constraints."""
    constraints: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                constraints += list(getattr(item, "metadata", [item]))
        elif origin in (typing.Union, types.UnionType):
            arms = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(arms) != 1:
                return annotation, constraints
            annotation = arms[0]
        else:
            return annotation, constraints


def _arm(annotation: Any, tag: object) -> Any:
    """Pick the arm of a union that pydantic's location tag (``list[constrained-str]``) names."""
    arms = [a for a in typing.get_args(annotation) if a is not type(None)]
    for arm in arms:
        inner, _ = _peel(arm)
        origin = typing.get_origin(inner)
        kind = origin.__name__ if origin is not None else getattr(inner, "__name__", "")
        if isinstance(tag, str) and (
            tag == kind or tag.startswith(f"{kind}[") or tag.endswith(f"-{kind}")
        ):
            return arm
    return arms[0]


def _resolve(loc: tuple) -> tuple[tuple, Any, list[Any]]:
    """Follow a pydantic error location through the schema.

    Returns
    -------
    tuple
        The location without pydantic's union tags and ``[key]`` markers: the path as written
        in the file.
    Any
        The annotation of the field the location ends at (``Any`` where unknown).
    list
        That field's constraints (``annotated_types`` objects such as ``Gt``).
    """
    current: Any = ScenarioSpec
    constraints: list[Any] = []
    clean: list[Any] = []
    for part in loc:
        current, more = _peel(current)
        constraints += more
        if typing.get_origin(current) in (typing.Union, types.UnionType):
            current, constraints = _arm(current, part), []
            continue
        if part == "[key]":
            continue
        clean.append(part)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            current = field.annotation if field is not None else Any
            constraints = list(field.metadata) if field is not None else []
        elif origin in (dict, list):
            current, constraints = typing.get_args(current)[-1], []
        elif origin is tuple:
            args = typing.get_args(current)
            index = part if isinstance(part, int) and part < len(args) else 0
            current, constraints = (args[index] if args else Any), []
        else:
            current, constraints = Any, []
    current, more = _peel(current)
    return tuple(clean), current, constraints + more


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that the field path ``loc`` points into."""
    _, current, _ = _resolve(loc)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _allowed_fields(model: type[BaseModel]) -> str:
    names = [f.alias or n for n, f in model.model_fields.items()]
    return "fields " + ", ".join(names)


def _number_text(value: float) -> str:
    """A bound as a forecaster writes it: ``1000000``, not ``1e+06``."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


def _shown(value: Any) -> str:
    """A refused value: a date as YAML writes it (``2024-01-31``), else its repr, shortened.

    An integer of more than 30 digits is described by its length (Python refuses to print one
    of more than 4300 digits), and a long repr is cut at 60 characters.
    """
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}..."


def _bounds_text(constraints: list[Any]) -> str:
    """Describe a field's bounds, e.g. ``'a number greater than 0 and less than 1'``."""
    words = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}
    parts = [
        f"{text} {_number_text(getattr(c, key))}"
        for c in constraints
        for key, text in words.items()
        if isinstance(getattr(c, key, None), int | float)
    ]
    return "a number " + " and ".join(parts) if parts else ""


def _allowed_text(error: Any, loc: tuple, constraints: list[Any]) -> str:
    """Say what would be accepted instead of the value a pydantic error is about."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("extra_forbidden", "missing"):
        parent = _model_at(loc[:-1])
        return _allowed_fields(parent) if parent else ""
    if kind == "value_error":
        return getattr(ctx.get("error"), "allowed", "")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _bounds_text(constraints) or _bounds_text([types.SimpleNamespace(**ctx)])
    if kind in ("finite_number", "int_parsing_size") and _bounds_text(constraints):
        whole = "a whole number" if kind == "int_parsing_size" else "a finite number"
        return _bounds_text(constraints).replace("a number", whole, 1)
    if kind == "string_pattern_mismatch":
        return _PATTERN_TEXT.get(ctx.get("pattern", ""), f"text matching {ctx.get('pattern')}")
    if kind == "literal_error":
        return str(ctx.get("expected", ""))
    if kind in ("too_short", "too_long"):
        low, high = ctx.get("min_length"), ctx.get("max_length")
        if kind == "too_long":
            return f"at most {high} item(s)"
        return f"at least {low} item(s)"
    return _TYPE_TEXT.get(kind, "")


def pydantic_problems(exc: ValidationError, file: str, lines: LineMap) -> list[Problem]:
    """Turn pydantic's errors into problems with field paths, lines and what is allowed.

    Errors at one field (the failed arms of a union such as ``Name | list[Name]``) are merged
    into one problem; a type error of a union arm is dropped where another arm accepted the
    type and failed on the value (an error of another kind at or inside the same field).
    Errors about a mapping's key (a name) are always kept.
    """
    resolved = []
    for error in exc.errors():
        loc, _, constraints = _resolve(tuple(error["loc"]))
        resolved.append((error, loc, constraints))
    deep = {
        loc[:n]
        for error, loc, _ in resolved
        for n in range(len(loc) + (not error["type"].endswith("_type")))
    }
    merged: dict[tuple, tuple[list[str], list[str], Any]] = {}
    for error, loc, constraints in resolved:
        kind = error["type"]
        if kind.endswith("_type") and loc in deep and "[key]" not in error["loc"]:
            continue
        message = error["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = f"unknown field '{loc[-1]}'"
            parent = _model_at(loc[:-1])
            close = (
                difflib.get_close_matches(
                    str(loc[-1]),
                    [f.alias or n for n, f in parent.model_fields.items()],
                    n=1,
                )
                if parent
                else []
            )
            if close:
                message += f" (did you mean '{close[0]}'?)"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "string_pattern_mismatch":
            message = "does not have the required form"
        elif kind == "int_parsing_size":
            message = "is far too large a number"
        elif kind == "finite_number":
            message = "must be a finite number, not infinite or not-a-number"
        allowed = _allowed_text(error, loc, constraints)
        shown = error.get("input") if kind not in ("extra_forbidden", "missing") else None
        messages, alloweds, _ = merged.setdefault(loc, ([], [], shown))
        if message not in messages:
            messages.append(message)
        if allowed and allowed not in alloweds:
            alloweds.append(allowed)
    problems = []
    for loc, (messages, alloweds, shown) in merged.items():
        message = "; or ".join(messages)
        if shown is not None and not isinstance(shown, dict | list):
            message = f"{message} (got {_shown(shown)})"
        problems.append(
            Problem(
                lines.file(loc, file),
                format_field(loc),
                message,
                "; or ".join(alloweds),
                lines.line(loc),
            )
        )
    return problems


def parse_spec(data: Any, file: str, lines: LineMap) -> ScenarioSpec:
    """Validate the YAML data against the schema."""
    if not isinstance(data, dict):
        raise ScenarioError.single(
            file,
            "",
            "the file must hold a mapping of scenario fields",
            _allowed_fields(ScenarioSpec),
            lines.line(()) or 1,
        )
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_in_file_order(pydantic_problems(exc, file, lines))) from None


def _timeline(spec: ScenarioSpec, check: Checker) -> Timeline | None:
    start, horizon = parse_month(spec.start), parse_month(spec.horizon)
    if horizon < start:
        check.add(
            ("horizon",),
            f"horizon {spec.horizon} is before start {spec.start}",
            "a horizon month on or after the start month",
        )
        return None
    steps = (horizon[0] - start[0]) * 12 + horizon[1] - start[1] + 1
    if steps > MAX_HORIZON_MONTHS:
        check.add(
            ("horizon",),
            f"horizon {spec.horizon} is {steps} months from start {spec.start}, more than "
            f"the limit of {MAX_HORIZON_MONTHS} months",
            f"a horizon at most {MAX_HORIZON_MONTHS} months ({MAX_HORIZON_MONTHS // 12} years) "
            "from the start, both included",
        )
        return None
    return Timeline(start, horizon)


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Problems grouped by file (in order of first mention) and sorted by line within each."""
    files = list(dict.fromkeys(p.file for p in problems))
    return sorted(problems, key=lambda p: (files.index(p.file), p.line is None, p.line or 0))


def read_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario file (every check of the file itself).

    The check that the evidence is possible under the scenario needs the exact engine and is
    made by :func:`forecast.load_scenario`, which users call.

    Parameters
    ----------
    path : str or Path
        A YAML scenario file.

    Returns
    -------
    Scenario
        The validated scenario with its evidence and questions on the timeline.

    Raises
    ------
    ScenarioError
        Listing every problem found, each with file, field, line and what is allowed.
    """
    path = Path(path)
    text = read_yaml_text(path)
    data, lines = load_yaml(path, text)
    return _build(data, lines, path, str(path), text, own=path)


def scenario_from_dict(
    data: Any, name: str = "<dict>", folder: str | Path | None = None
) -> Scenario:
    """Validate and resolve a scenario written in code, as a mapping shaped like the file.

    Problems are reported as for a file, named ``name``, without lines.

    Parameters
    ----------
    data : mapping
        The scenario's fields, as the YAML file would hold them.
    name : str
        How problems name the scenario.
    folder : str or Path, optional
        Folder that relative paths (``extends``, evidence tables) start from (default: the
        working directory).
    """
    if not isinstance(data, dict):
        raise ScenarioError.single(
            name,
            "(file)",
            f"is a {type(data).__name__}, not a mapping",
            "a mapping of the scenario's fields",
        )
    _check_shape(data, name)
    data = copy.deepcopy(data)
    text = json.dumps(data, sort_keys=True, default=str)
    here = Path(folder) if folder is not None else Path.cwd()
    return _build(data, LineMap({}), here / name, name, text, own=None)


def _check_shape(data: Any, name: str) -> None:
    """Refuse a mapping that contains itself, or beyond the YAML limits of size and depth.

    A scenario written in code is held to the limits a file is held to, so a cycle or a deep
    nest is a problem rather than a RecursionError.
    """
    count = 0
    stack: list[tuple[Any, tuple, frozenset[int]]] = [(data, (), frozenset())]
    while stack:
        value, path, above = stack.pop()
        count += 1
        if isinstance(value, int) and value.bit_length() > 1000:
            raise ScenarioError.single(
                name,
                format_field(path),
                f"a number of about {int(value.bit_length() * 0.30103) + 1} digits",
                "a number of at most 300 digits",
            )
        if not isinstance(value, dict | list | tuple):
            continue
        allowed = f"a mapping without cycles, nested at most {MAX_YAML_DEPTH} levels deep"
        if id(value) in above:
            raise ScenarioError.single(
                name, format_field(path), "contains itself (a cycle)", allowed
            )
        if len(path) >= MAX_YAML_DEPTH:
            raise ScenarioError.single(
                name, format_field(path), f"nested more than {MAX_YAML_DEPTH} levels deep", allowed
            )
        if count > MAX_YAML_NODES:
            raise ScenarioError.single(
                name,
                "(file)",
                f"holds more than {MAX_YAML_NODES} values",
                f"at most {MAX_YAML_NODES} values",
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        inner = above | {id(value)}
        stack.extend((item, (*path, key), inner) for key, item in items)


def rebuild_scenario(scenario: Scenario, data: dict[str, Any]) -> Scenario:
    """The scenario with its fields replaced by ``data``, checked as its file is.

    ``data`` is an edited copy of ``scenario.spec.model_dump(mode="json", by_alias=True)``
    (a prior edit). Problems name the scenario's file; the text, hash and bases stay the
    file's.
    """
    file = str(scenario.path or scenario.id)
    path = scenario.path or Path.cwd() / file
    rebuilt = _build(copy.deepcopy(data), LineMap({}), path, file, scenario.text, own=scenario.path)
    return dataclasses.replace(rebuilt, text=scenario.text, bases=scenario.bases)


def _no_questions_on_sources(check: Checker, spec: ScenarioSpec) -> None:
    """Refuse questions and outcomes asked of a source's reports (ask of the node instead)."""
    asked = [(("questions", i), q.node) for i, q in enumerate(spec.questions)]
    asked += [(("outcomes", i), o.node) for i, o in enumerate(spec.outcomes)]
    for path, node in asked:
        if node in spec.sources:
            check.add(
                (*path, "node"),
                f"'{node}' is an evidence source: its reports are not a question to forecast",
                f"one of the nodes: {', '.join(spec.nodes)} (for '{node}', the node it reports "
                f"on, '{spec.sources[node].reports_on}')",
            )


def _build(
    data: Any, lines: LineMap, path: Path, file: str, text: str, own: Path | None
) -> Scenario:
    data, lines, texts, bases = resolve_extends(data, lines, path, text=text)
    spec = parse_spec(data, file, lines)
    check = Checker(file, lines)
    timeline = _timeline(spec, check)
    full = with_sources(check, spec)  # the sources' report nodes among the nodes
    nodes = build_nodes(check, full) if full is not None else None
    if timeline is None or nodes is None or full is None:
        raise ScenarioError(_in_file_order(check.problems))
    nodes = tuple(
        dataclasses.replace(n, reports_on=spec.sources[n.name].reports_on)
        if n.name in spec.sources
        else n
        for n in nodes
    )
    _no_questions_on_sources(check, spec)
    questions = build_questions(check, full, timeline)
    reader = EvidenceReader(full, path.parent, timeline, file, lines)
    evidence = reader.read()
    problems = check.problems + reader.problems
    if problems:
        raise ScenarioError(_in_file_order(problems))
    evidence_at = (lines.file(("evidence",), file), "evidence", lines.line(("evidence",)))
    return Scenario(
        spec=spec,
        path=own,
        text="\n".join(texts),
        timeline=timeline,
        nodes=nodes,
        questions=questions,
        evidence=tuple(evidence),
        outcomes=tuple(spec.outcomes),
        evidence_files=reader.files,
        superseded=tuple(reader.superseded),
        bases=tuple(bases),
        evidence_where={"": evidence_at, **reader.where},
    )
