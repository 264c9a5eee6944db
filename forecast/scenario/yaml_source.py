"""Safe YAML loading that remembers the line of every field and refuses duplicate keys."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from forecast.errors import Problem, ScenarioError
from forecast.settings import MAX_SCENARIO_BYTES, MAX_YAML_ALIASES, MAX_YAML_DEPTH, MAX_YAML_NODES

Path_ = tuple[str | int, ...]


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML file beyond a limit of :mod:`forecast.settings`.

    Raised while composing (aliases, size once expanded, nesting), before anything is built,
    with the field path where the limit was passed.
    """

    def __init__(self, problem: str, mark: yaml.Mark, allowed: str, path: Path_ = ()) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.allowed = allowed
        self.path = path


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, and limits on what a file may cost.

    States named yes/no/on/off stay strings (the default binary states are ``no``, ``yes``).
    Composing counts aliases, the values the document holds once every alias is expanded and
    the nesting depth, and refuses an alias to a value that contains it (a recursive alias),
    so a billion-laughs file or ``[[[[...]]]]`` is refused before it costs memory or recursion.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._open: list[str] = []
        self._weight: dict[int, int] = {}
        self._height: dict[int, int] = {}
        self._path: list[str | int] = []

    def _too_many(self, node: yaml.Node) -> None:
        if self._height[id(node)] > MAX_YAML_DEPTH:
            raise YAMLLimitError(
                f"values nested more than {MAX_YAML_DEPTH} levels deep once its aliases are "
                "expanded",
                node.start_mark,
                f"mappings and lists nested at most {MAX_YAML_DEPTH} levels deep",
            )
        if self._weight[id(node)] > MAX_YAML_NODES:
            raise YAMLLimitError(
                f"the file holds more than {MAX_YAML_NODES} values once its aliases are expanded",
                node.start_mark,
                f"at most {MAX_YAML_NODES} values (write values out instead of nesting aliases)",
            )

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        """Compose one value, counting aliases, depth and expanded size against the limits."""
        part = index.value if isinstance(index, yaml.ScalarNode) else index
        if isinstance(part, str | int):
            self._path.append(part)
        try:
            return self._compose_counted(parent, index)
        except YAMLLimitError as exc:
            if not exc.path:
                exc.path = tuple(self._path)
            raise
        finally:
            if isinstance(part, str | int):
                self._path.pop()

    def _compose_counted(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise YAMLLimitError(
                    f"more than {MAX_YAML_ALIASES} aliases (the last one read is *{event.anchor})",
                    event.start_mark,
                    f"at most {MAX_YAML_ALIASES} aliases in a scenario file",
                )
            if event.anchor in self._open:
                raise YAMLLimitError(
                    f"the alias *{event.anchor} refers to a value that contains it "
                    "(a recursive alias)",
                    event.start_mark,
                    "aliases only to values defined completely before them",
                )
            return super().compose_node(parent, index)
        self._depth += 1
        anchor = getattr(event, "anchor", None)
        self._open.append(anchor)
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YAMLLimitError(
                    f"values nested more than {MAX_YAML_DEPTH} levels deep",
                    event.start_mark,
                    f"mappings and lists nested at most {MAX_YAML_DEPTH} levels deep",
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.pop()
        if node.tag == "tag:yaml.org,2002:int" and len(str(node.value)) > _INT_DIGITS:
            _construct_int(self, node)  # raises where Python cannot read the number
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        self._weight[id(node)] = 1 + sum(self._weight.get(id(c), 1) for c in children)
        self._height[id(node)] = 1 + max((self._height.get(id(c), 1) for c in children), default=0)
        self._too_many(node)
        return node


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


_INT_DIGITS = 4000
"""Integers longer than this are tried while composing, where the field is known."""


def _construct_int(loader: ScenarioLoader, node: yaml.ScalarNode) -> object:
    """Construct a YAML integer, refusing one too long for Python to read (4300 digits)."""
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        digits = sum(c.isdigit() for c in str(node.value))
        raise YAMLLimitError(
            f"a number of {digits} digits, too long to be read",
            node.start_mark,
            "a number of at most a few hundred digits",
        ) from None


ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


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


def read_yaml_text(path: str | Path) -> str:
    """The text of a YAML file, read to at most :data:`~forecast.settings.MAX_SCENARIO_BYTES`.

    Raises
    ------
    ScenarioError
        If the file is missing, unreadable, not UTF-8 or larger than the limit (an endless
        file such as ``/dev/zero`` is refused after the limit's bytes).
    """
    file = str(path)
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = 0  # reported by open() below
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise ScenarioError.single(
            file, "", "is a pipe or socket, not a file (reading it could wait forever)", "a file"
        )
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_SCENARIO_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError.single(file, "", "file not found", "a path to a YAML file") from None
    except OSError as exc:
        raise ScenarioError.single(
            file, "", f"cannot be read: {exc.strerror or exc}", "a UTF-8 text file"
        ) from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError.single(
            file,
            "",
            f"the file is larger than the limit of {MAX_SCENARIO_BYTES} bytes",
            f"a scenario file of at most {MAX_SCENARIO_BYTES} bytes",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError.single(
            file, "", f"cannot be read: {exc}", "a UTF-8 text file"
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ScenarioError.single(
            file, "", "the file holds a NUL byte (binary data)", "a UTF-8 text file", line
        )
    return text


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, LineMap]:
    """Safe-load a YAML file, returning its data and a map of field lines.

    Parameters
    ----------
    path : str or Path
        The file, named in problems.
    text : str, optional
        Its text, if already read (:func:`read_yaml_text`); else it is read.

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not valid YAML, repeats a key in a mapping or exceeds a
        limit of :mod:`forecast.settings` (size, aliases, nesting).
    """
    file = str(path)
    if text is None:
        text = read_yaml_text(path)
    try:
        loader = ScenarioLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except YAMLLimitError as exc:
        mark = exc.problem_mark
        raise ScenarioError.single(
            file,
            format_field(exc.path),
            f"YAML beyond a limit: {exc.problem}",
            exc.allowed,
            mark.line + 1 if mark is not None else None,
        ) from None
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
    except (ValueError, TypeError, OverflowError) as exc:
        raise ScenarioError.single(
            file,
            "",
            f"a YAML value cannot be read: {exc}",
            "valid YAML values (quote text that looks like a number or a date)",
        ) from None
    except RecursionError:
        raise ScenarioError.single(
            file,
            "",
            "YAML beyond a limit: values nested too deeply",
            f"mappings and lists nested at most {MAX_YAML_DEPTH} levels deep",
        ) from None
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), lines, problems, file)
    if problems:
        raise ScenarioError(problems)
    return data, LineMap(lines)
