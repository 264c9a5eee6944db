"""Safe YAML loading that remembers the line of every field and refuses duplicate keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from forecast.errors import Problem, ScenarioError

Path_ = tuple[str | int, ...]


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false.

    States named yes/no/on/off stay strings (the default binary states are ``no``, ``yes``).
    """


ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_timestamp(loader: ScenarioLoader, node: yaml.ScalarNode) -> object:
    """Construct a YAML date, or keep its text where it names no real day (``2024-02-30``).

    The schema then reports the field with its line, instead of the YAML parser failing.
    """
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def format_field(path: Path_) -> str:
    """Render a field path as ``nodes.occupation.transitions[0].to``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class LineMap:
    """Lines of the fields of a YAML document, looked up by field path.

    A scenario that extends another is one document made of two files: ``files`` then names
    the file each field comes from (a field not listed is in the scenario's own file).
    """

    def __init__(self, lines: dict[Path_, int], files: dict[Path_, str] | None = None) -> None:
        self._lines = lines
        self._files = files or {}

    def _nearest(self, table: dict, path: Path_):
        path = tuple(path)
        while True:
            if path in table:
                return table[path]
            if not path:
                return None
            path = path[:-1]

    def line(self, path: Path_) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        return self._nearest(self._lines, path)

    def file(self, path: Path_, default: str) -> str:
        """File that ``path`` comes from (``default``: the scenario's own file)."""
        return self._nearest(self._files, path) or default

    def items(self) -> tuple[dict[Path_, int], dict[Path_, str]]:
        """Copies of the line and file tables, for building a merged map."""
        return dict(self._lines), dict(self._files)


def _walk(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem], file: str
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        format_field((*path, key)),
                        f"'{key}' is defined twice (first on line {seen[key]})",
                        "each key once per mapping",
                        line,
                    )
                )
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, problems, file)
            lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, file)


def load_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Safe-load a YAML file, returning its data and a map of field lines.

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not valid YAML, or repeats a key in a mapping.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError.single(file, "", "file not found", "a path to a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single(
            file, "", f"cannot be read: {exc}", "a UTF-8 text file"
        ) from None
    try:
        root = yaml.compose(text, Loader=ScenarioLoader)
        data = yaml.load(text, Loader=ScenarioLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        context = exc.context
        if context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            context = f"{context} that starts on line {exc.context_mark.line + 1},"
        reason = " ".join(str(part) for part in (context, exc.problem) if part)
        raise ScenarioError.single(
            file,
            "",
            f"YAML syntax error: {reason}",
            "valid YAML (check indentation and colons)",
            line,
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError.single(file, "", f"YAML error: {exc}", "valid YAML") from None
    except (ValueError, TypeError) as exc:
        raise ScenarioError.single(
            file,
            "",
            f"a YAML value cannot be read: {exc}",
            "valid YAML values (quote text that looks like a number or a date)",
        ) from None
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), lines, problems, file)
    if problems:
        raise ScenarioError(problems)
    return data, LineMap(lines)
