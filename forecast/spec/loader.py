"""Load a scenario file: YAML, schema, cross-field checks, evidence, and a dry run of the
evidence through the exact engine. Every problem is reported with file, field and line."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from forecast.errors import Problem, ScenarioError
from forecast.evidence import EvidenceReader
from forecast.spec.scenario import Scenario
from forecast.spec.schema import ScenarioSpec
from forecast.spec.semantics import Checker, build_nodes, build_questions
from forecast.spec.yaml_source import LineMap, format_field, load_yaml
from forecast.timeline import Timeline, parse_month

_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list", "tuple", "constrained-str", "date"}


def _is_tag(part: object) -> bool:
    return isinstance(part, str) and (part in _TYPE_TAGS or "[" in part or "-" in part)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that the field path ``loc`` points into."""
    current: Any = ScenarioSpec
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items()
                          if part in (n, f.alias)), None)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list, tuple):
            args = typing.get_args(current)
            current = args[-1] if args else Any
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _unwrap(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
        return typing.get_args(annotation)[0]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _allowed_fields(model: type[BaseModel]) -> str:
    names = [f.alias or n for n, f in model.model_fields.items()]
    return "fields " + ", ".join(names)


def pydantic_problems(exc: ValidationError, file: str, lines: LineMap) -> list[Problem]:
    """Turn pydantic's errors into problems with field paths, lines and what is allowed."""
    merged: dict[tuple, Problem] = {}
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not _is_tag(p))
        message = error["msg"].removeprefix("Value error, ")
        allowed = ""
        if error["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            message = f"unknown field '{loc[-1]}'"
            allowed = _allowed_fields(parent) if parent else ""
        elif error["type"] == "missing":
            message = "required field is missing"
            parent = _model_at(loc[:-1])
            allowed = _allowed_fields(parent) if parent else ""
        elif "input" in error and not isinstance(error["input"], dict | list):
            message = f"{message} (got {error['input']!r})"
        key = loc
        if key in merged:
            old = merged[key]
            if message not in old.message:
                merged[key] = Problem(old.file, old.field, f"{old.message}; or {message}",
                                      old.allowed, old.line)
            continue
        merged[key] = Problem(file, format_field(loc), message, allowed, lines.line(loc))
    return list(merged.values())


def parse_spec(data: Any, file: str, lines: LineMap) -> ScenarioSpec:
    """Validate the YAML data against the schema."""
    if not isinstance(data, dict):
        raise ScenarioError.single(file, "", "the file must hold a mapping of scenario fields",
                                   _allowed_fields(ScenarioSpec), 1)
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(pydantic_problems(exc, file, lines)) from None


def _timeline(spec: ScenarioSpec, check: Checker) -> Timeline | None:
    start, horizon = parse_month(spec.start), parse_month(spec.horizon)
    if horizon < start:
        check.add(("horizon",), f"horizon {spec.horizon} is before start {spec.start}",
                  "a horizon month on or after the start month")
        return None
    return Timeline(start, horizon)


def zero_probability_problems(scenario: Scenario, lines: LineMap, file: str) -> list[Problem]:
    """Evidence that no parameter values can explain (impossible under the scenario).

    Transition probabilities allowed by a rule are strictly between 0 and 1 for every
    parameter value, so the evidence has probability zero everywhere exactly when it has
    probability zero at one interior point.
    """
    from forecast.engine.exact import ExactEngine, central_params

    engine = ExactEngine(scenario)
    result = engine.run(central_params(scenario), engine.evidence(), questions=())
    zero = np.flatnonzero(result.norms == 0)
    if not zero.size:
        return []
    step = int(zero[0])
    month = scenario.timeline.month_label(step)
    here = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) == step]
    earlier = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) < step]
    shown = "; ".join(f"{e.node} in {'|'.join(e.states)} ({e.origin})" for e in here)
    context = (f"given the initial states and {len(earlier)} earlier observation(s)"
               if earlier else "given the initial states")
    return [Problem(file, "evidence", f"the evidence of {month} has probability zero under "
                    f"the scenario {context}: {shown}",
                    "evidence that some path allowed by the transition rules can produce "
                    "(check absorbing states, 'stays' rules and initial states)",
                    lines.line(("evidence",)))]


def load_scenario(path: str | Path) -> Scenario:
    """Load, validate and resolve a scenario file.

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
    file = str(path)
    data, lines = load_yaml(path)
    spec = parse_spec(data, file, lines)
    check = Checker(file, lines)
    timeline = _timeline(spec, check)
    nodes = build_nodes(check, spec)
    if timeline is None or nodes is None:
        raise ScenarioError(check.problems)
    questions = build_questions(check, spec, timeline)
    reader = EvidenceReader(spec, path.parent, timeline, file, lines.line)
    evidence = reader.read()
    problems = check.problems + reader.problems
    if problems:
        raise ScenarioError(problems)
    scenario = Scenario(spec=spec, path=path, text=path.read_text(encoding="utf-8"),
                        timeline=timeline, nodes=nodes, questions=questions,
                        evidence=tuple(evidence), outcomes=tuple(spec.outcomes),
                        evidence_files=reader.files)
    zero = zero_probability_problems(scenario, lines, file)
    if zero:
        raise ScenarioError(zero)
    return scenario
