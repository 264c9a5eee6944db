"""Scenario variants: a file that ``extends`` another and restates only some priors.

A forecaster who shares a scenario's structure but not its priors writes a short file::

    extends: ../kursk_2024.yaml
    id: kursk_2024_hawk
    author: forecaster 'hawk'
    nodes:
      occupation:
        transitions:
          - {from: substantial, to: {...}, within_months: 6, rationale: ...}

The variant may restate the metadata (:data:`VARIANT_FIELDS`) and, node by node, the whole
``transitions`` list, which replaces the base's for that node. Everything else (nodes, states,
parents, initial states, evidence, questions, outcomes, timeline) is the base's, so variants of
one scenario always share its structure. Relative evidence paths of the base keep pointing at
the same files. Every field keeps its own file and line, so a problem in an inherited field is
reported in the base file and one in a restated field in the variant. A base may itself extend
another scenario.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from forecast.errors import Problem, ScenarioError
from forecast.scenario.yaml_source import LineMap, Path_, format_field, load_yaml, read_yaml_text

EXTENDS = "extends"
VARIANT_FIELDS = ("id", "title", "source", "author", "priors_set_on", "report_dates")
"""Top-level fields a variant may restate, besides ``nodes.<node>.transitions``."""

_ALLOWED_TOP = (
    f"{EXTENDS}, {', '.join(VARIANT_FIELDS)} and nodes.<node>.transitions; the "
    "structure, evidence and questions come from the extended scenario"
)


def _problem(file: str, lines: LineMap, path: Path_, message: str, allowed: str) -> Problem:
    return Problem(file, format_field(path) or "(file)", message, allowed, lines.line(path))


def _rebase(value: Any, base_dir: Path, own_dir: Path) -> Any:
    """A relative path of the base, relative to the variant's folder instead."""
    if not isinstance(value, str) or os.path.isabs(value):
        return value
    return os.path.relpath(base_dir / value, own_dir)


def _rebase_evidence(data: dict, base_dir: Path, own_dir: Path) -> None:
    evidence = data.get("evidence")
    if not isinstance(evidence, dict):
        return
    tables = evidence.get("tables")
    if isinstance(tables, list):
        evidence["tables"] = [_rebase(t, base_dir, own_dir) for t in tables]
    series = evidence.get("series")
    if isinstance(series, list):
        for item in series:
            if isinstance(item, dict) and "file" in item:
                item["file"] = _rebase(item["file"], base_dir, own_dir)


def _variant_problems(data: dict, base: dict, file: str, lines: LineMap) -> list[Problem]:
    problems = []
    base_nodes = base.get("nodes") if isinstance(base.get("nodes"), dict) else {}
    for key in data:
        if key == EXTENDS or key in VARIANT_FIELDS:
            continue
        if key != "nodes":
            problems.append(
                _problem(
                    file,
                    lines,
                    (key,),
                    f"a scenario that extends another cannot change '{key}'",
                    _ALLOWED_TOP,
                )
            )
            continue
        nodes = data["nodes"]
        if not isinstance(nodes, dict):
            problems.append(
                _problem(
                    file,
                    lines,
                    ("nodes",),
                    "must map node names to their restated transitions",
                    "nodes.<node>.transitions",
                )
            )
            continue
        for name, node in nodes.items():
            if name not in base_nodes:
                problems.append(
                    _problem(
                        file,
                        lines,
                        ("nodes", name),
                        f"no node '{name}' in the extended scenario",
                        f"one of: {', '.join(map(str, base_nodes))}",
                    )
                )
            elif not isinstance(node, dict) or set(node) != {"transitions"}:
                extra = sorted(set(node) - {"transitions"}) if isinstance(node, dict) else []
                path = ("nodes", name, extra[0]) if extra else ("nodes", name)
                problems.append(
                    _problem(
                        file,
                        lines,
                        path,
                        "a scenario that extends another can change only the transitions of a node",
                        f"nodes.{name}.transitions (a list of rules)",
                    )
                )
    return problems


def resolve_extends(
    data: Any,
    lines: LineMap,
    path: Path,
    chain: tuple[Path, ...] = (),
    text: str | None = None,
) -> tuple[Any, LineMap, list[str], list[Path]]:
    """Merge a variant with the scenario it extends (a no-op for other files).

    Parameters
    ----------
    data, lines : Any, LineMap
        The file's YAML data and lines (:func:`forecast.scenario.yaml_source.load_yaml`).
    path : Path
        The file.
    chain : tuple of Path
        Files already being resolved (to refuse a cycle).
    text : str, optional
        The document's text, for the hash (default: read from ``path``).

    Returns
    -------
    data, lines : Any, LineMap
        The merged document; ``lines`` names each field's own file.
    texts : list of str
        The texts of the file and of every scenario it extends, for the scenario's hash.
    bases : list of Path
        The scenarios it extends, nearest first.

    Raises
    ------
    ScenarioError
        For a base that cannot be found or read, a cycle, or a variant field that may not be
        restated (with the variant's file, field and line).
    """
    file = str(path)
    if text is None:
        text = read_yaml_text(path)
    if not isinstance(data, dict) or EXTENDS not in data:
        return data, lines, [text], []
    target = data[EXTENDS]
    allowed = "a path to a scenario file, relative to this file's folder"
    if not isinstance(target, str) or not target.strip():
        raise ScenarioError([_problem(file, lines, (EXTENDS,), "must be a path", allowed)])
    base_path = (path.parent / target).resolve()
    if base_path in (*chain, path.resolve()):
        loop = " -> ".join(p.name for p in (*chain, path.resolve(), base_path))
        raise ScenarioError(
            [
                _problem(
                    file,
                    lines,
                    (EXTENDS,),
                    f"the scenarios extend one another in a loop ({loop})",
                    "a chain of extended scenarios that ends",
                )
            ]
        )
    if not base_path.is_file():
        raise ScenarioError(
            [_problem(file, lines, (EXTENDS,), f"no scenario file at {base_path}", allowed)]
        )
    base_text = read_yaml_text(base_path)
    base_data, base_lines = load_yaml(base_path, base_text)
    base_data, base_lines, texts, bases = resolve_extends(
        base_data, base_lines, base_path, (*chain, path.resolve()), text=base_text
    )
    if not isinstance(base_data, dict):
        raise ScenarioError(
            [
                Problem(
                    str(base_path),
                    "(file)",
                    "the file must hold a mapping of scenario fields",
                    "a scenario file",
                    base_lines.line(()) or 1,
                )
            ]
        )
    problems = _variant_problems(data, base_data, file, lines)
    if problems:
        raise ScenarioError(problems)
    merged = copy.deepcopy(base_data)
    _rebase_evidence(merged, base_path.parent, path.parent)
    line_of, file_of = base_lines.items()
    for key in list(line_of):
        file_of.setdefault(key, str(base_path))
    own_lines, _ = lines.items()

    def restate(prefix: Path_) -> None:
        for key in [k for k in line_of if k[: len(prefix)] == prefix]:
            del line_of[key]
            file_of.pop(key, None)
        for key, line in own_lines.items():
            if key[: len(prefix)] == prefix:
                line_of[key] = line
                file_of[key] = file

    for key, value in data.items():
        if key in VARIANT_FIELDS:
            merged[key] = value
            restate((key,))
    for name, node in data.get("nodes", {}).items():
        if isinstance(merged["nodes"][name], dict):  # else the base's own problem is reported
            merged["nodes"][name]["transitions"] = node["transitions"]
            restate(("nodes", name, "transitions"))
    file_of[()] = file
    line_of[(EXTENDS,)] = lines.line((EXTENDS,)) or 1
    file_of[(EXTENDS,)] = file
    return merged, LineMap(line_of, file_of), [text, *texts], [base_path, *bases]
