"""Write edited priors back to scenario files, keeping everything else as the forecaster wrote it.

An edit of a rule is known as the rule's spec dump before and after the edit
(:class:`TransitionEdit`). Only the difference between the two is applied, with ruamel.yaml, to
the rule as the file writes it, so the defaults a dump adds are not written and comments, key
order, quotes, flow mappings, folded text and blank lines stay as they were.
:func:`save_in_place` changes the file a model was loaded from (restating an inherited node in a
variant); :func:`save_variant` writes a new variant that ``extends`` the scenario.

The text of the result is the original text with only the lines that the edits change replaced:
ruamel.yaml's dump of the edited document is compared line by line with its dump of the
unedited one, and the lines that differ are put into the original text. A part that ruamel.yaml
would lay out otherwise (a flow mapping broken over two lines) keeps its layout unless an edit
falls into it. Every write is atomic (a temporary file in the same folder, ``fsync``,
``os.replace``) and is checked by reading the scenario back with
:func:`forecast.scenario.read_scenario`: when that fails, or the edited rules do not read back
as edited, the original file is restored (a new variant is removed) and the error is raised.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import difflib
import io
import logging
import math
import os
import re
import secrets
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.emitter import RoundTripEmitter
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from forecast.errors import ScenarioError
from forecast.scenario.extends import EXTENDS, VARIANT_FIELDS
from forecast.scenario.loader import read_scenario
from forecast.scenario.schema import TransitionRule
from forecast.scenario.validated import Scenario
from forecast.scenario.yaml_source import ScenarioLoader, format_field

__all__ = ["TransitionEdit", "save_in_place", "save_variant"]

logger = logging.getLogger(__name__)

_WIDTH = 100
"""Column at which new folded text (``>-``) is wrapped, and beyond which new text is folded."""

_RULE_COLUMN = 8
"""Column of a rule's keys in ``nodes.<node>.transitions`` (mapping indent 2, ``- `` at 6)."""

_BLOCK_KEYS = frozenset({"reference_class"})
"""Keys whose new mappings are written in block style, as the scenario files write them."""

_VARIANT_ORDER = (EXTENDS, *VARIANT_FIELDS, "nodes")
"""Order of the top-level fields of a variant, for placing a field that it did not write."""

_Key = str | int
_Op = tuple[str, tuple[_Key, ...], Any]
"""A change to a rule: ``("set", path, value)`` or ``("del", path, None)``."""


@dataclass(frozen=True)
class TransitionEdit:
    """One edited rule of a scenario, as its spec dump before and after the edit.

    Parameters
    ----------
    node : str
        The rule's node.
    index : int
        Position of the rule in the node's ``transitions`` list (as the scenario resolves it:
        a variant's restated list, else the list of the scenario it extends).
    before : mapping
        The rule's dump as loaded from the file,
        ``scenario.spec.model_dump(mode="json", by_alias=True, exclude_none=True)["nodes"]
        [node]["transitions"][index]``.
    after : mapping
        The edited dump.
    """

    node: str
    index: int
    before: Mapping[str, Any]
    after: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.node, str):
            raise TypeError(f"TransitionEdit.node must be a node name, not {self.node!r}")
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise TypeError(f"TransitionEdit.index must be an int, not {self.index!r}")
        for name in ("before", "after"):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(f"TransitionEdit.{name} must be a mapping (a rule's spec dump)")


# -- the YAML round trip ---------------------------------------------------------------------


def _represent_float(representer: RoundTripRepresenter, value: float) -> Any:
    """A new float as plain decimals (``0.00001``): PyYAML reads ``1e-05`` as text."""
    if not math.isfinite(value):
        return RoundTripRepresenter.represent_float(representer, value)
    if value.is_integer():
        return representer.represent_int(int(value))
    text = format(Decimal(repr(value)), "f")
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


class _Representer(RoundTripRepresenter):
    """ruamel.yaml's round-trip representer, with new floats written as the loader reads them."""


_Representer.add_representer(float, _represent_float)


class _Emitter(RoundTripEmitter):
    """ruamel.yaml's round-trip emitter, with two spaces before a comment that a line reaches.

    ruamel.yaml writes a comment at its column, or one space after a line that grew past it.
    """

    def write_comment(self, comment: Any, pre: bool = False) -> None:
        value = comment.value
        if not pre and self.column and value.startswith("#") and comment.column <= self.column:
            comment = CommentToken(value, CommentMark(self.column + 2))
        super().write_comment(comment, pre=pre)


def _yaml() -> YAML:
    """A round-trip YAML in the scenario files' layout, never re-wrapping a line."""
    handler = YAML(typ="rt")
    handler.Representer = _Representer
    handler.Emitter = _Emitter
    handler.preserve_quotes = True
    handler.width = 4096
    handler.indent(mapping=2, sequence=4, offset=2)
    return handler


def _dump(document: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


@dataclass
class _File:
    """A scenario file read for editing: its bytes, its text and its ruamel document."""

    path: Path
    raw: bytes
    text: str
    document: CommentedMap
    crlf: bool
    bom: bool

    @classmethod
    def read(cls, path: Path) -> _File:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        bom = text.startswith("\ufeff")
        text = text.removeprefix("\ufeff")
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        return cls(path, raw, text, _load(text, path), crlf, bom)

    @property
    def is_variant(self) -> bool:
        return EXTENDS in self.document

    def render(self) -> bytes:
        """The edited document: the original text with the lines the edits change replaced."""
        text = _merge(self.text, _dump(_load(self.text, self.path)), _dump(self.document))
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (("\ufeff" if self.bom else "") + text).encode("utf-8")


def _load(text: str, path: Path) -> CommentedMap:
    try:
        document = _yaml().load(text)
    except YAMLError as exc:
        raise ScenarioError.single(
            path, "", f"ruamel.yaml cannot read the file for editing: {exc}", "valid YAML"
        ) from None
    if not isinstance(document, CommentedMap):
        raise ScenarioError.single(
            path, "", "the file must hold a mapping of scenario fields", "a scenario file"
        )
    return document


_Hunk = tuple[int, int, list[str], str]
"""Lines ``[start, stop)`` of the unedited dump, their replacement, and ``"edit"`` or
``"layout"``."""


def _hunks(old: list[str], new: list[str], kind: str) -> list[_Hunk]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [
        (i1, i2, new[j1:j2], kind)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _clusters(hunks: list[_Hunk]) -> list[list[_Hunk]]:
    """Group hunks that overlap, or insert at the same line."""
    clusters: list[list[_Hunk]] = []
    end = -1
    for hunk in sorted(hunks, key=lambda h: (h[0], h[1])):
        start, stop = hunk[0], hunk[1]
        last = clusters[-1][-1] if clusters else None
        inserts_together = (
            last is not None and start == end and (start == stop or last[0] == last[1])
        )
        if last is not None and (start < end or inserts_together):
            clusters[-1].append(hunk)
            end = max(end, stop)
        else:
            clusters.append([hunk])
            end = stop
    return clusters


def _merge(original: str, unedited: str, edited: str) -> str:
    """Apply the line changes from ``unedited`` to ``edited`` to ``original``.

    ``unedited`` is ruamel.yaml's dump of ``original``, usually identical to it. Where it is
    not (a layout ruamel.yaml does not keep), the original's lines are kept, unless an edit
    changes some of the same lines: the edited dump's lines are taken there. The result is
    checked to read as ``edited``; if it does not, ``edited`` is returned.
    """
    if unedited == edited:
        return original
    if unedited == original:
        return edited
    old, new, kept = (t.splitlines(keepends=True) for t in (unedited, edited, original))
    out: list[str] = []
    position = 0
    for cluster in _clusters(_hunks(old, kept, "layout") + _hunks(old, new, "edit")):
        start, stop = cluster[0][0], max(h[1] for h in cluster)
        kind = "edit" if any(h[3] == "edit" for h in cluster) else "layout"
        out += old[position:start]
        at = start
        for i1, i2, lines, hunk_kind in cluster:
            if hunk_kind == kind:
                out += old[at:i1] + lines
                at = i2
        out += old[at:stop]
        position = stop
    merged = "".join(out + old[position:])
    try:
        same = yaml.load(merged, Loader=ScenarioLoader) == yaml.load(edited, Loader=ScenarioLoader)
    except (yaml.YAMLError, ValueError, TypeError):
        same = False
    if not same:
        logger.debug("the merged text does not read as the edited dump; writing the dump")
        return edited
    return merged


# -- comments that follow an entry -----------------------------------------------------------


@dataclass
class _Tail:
    """The comment that follows an entry: an end-of-line comment and the lines after it."""

    inline: str | None = None
    column: int = 0
    rest: str = ""


def _is_block(node: Any) -> bool:
    return (
        isinstance(node, CommentedMap | CommentedSeq) and not node.fa.flow_style() and len(node) > 0
    )


def _is_block_scalar(node: Any) -> bool:
    return isinstance(node, FoldedScalarString | LiteralScalarString)


def _last(container: CommentedMap | CommentedSeq) -> _Key:
    return next(reversed(container)) if isinstance(container, CommentedMap) else len(container) - 1


def _slot(container: CommentedMap | CommentedSeq) -> int:
    """Where ruamel.yaml keeps the comment after an entry: 2 in a mapping, 0 in a sequence."""
    return 2 if isinstance(container, CommentedMap) else 0


def _deepest(container: CommentedMap | CommentedSeq, key: _Key) -> tuple[Any, _Key]:
    """The entry whose comment holds what follows ``container[key]``."""
    while _is_block(container[key]):
        container, key = container[key], _last(container[key])
    return container, key


def _take_tail(container: Any, key: _Key) -> _Tail | None:
    """Remove and return the comment that follows the entry (none in flow style)."""
    if not isinstance(container, CommentedMap | CommentedSeq) or container.fa.flow_style():
        return None
    holder, at = _deepest(container, key)
    entry = holder.ca.items.get(at)
    slot = _slot(holder)
    if not entry or entry[slot] is None:
        return None
    token = entry[slot]
    entry[slot] = None
    value, column = token.value, token.column
    if _is_block_scalar(holder[at]):
        return _Tail(rest=(" " * column + value) if value.startswith("#") else value)
    if value.startswith("#"):
        cut = value.find("\n") + 1 or len(value)
        return _Tail(value[:cut].rstrip("\n") + "\n", column, value[cut:])
    return _Tail(rest=value.removeprefix("\n"))


def _put_tail(container: Any, key: _Key, tail: _Tail | None) -> None:
    """Attach ``tail`` after the entry, as ruamel.yaml writes it after that kind of value."""
    if tail is None or not (tail.inline or tail.rest):
        return
    if not isinstance(container, CommentedMap | CommentedSeq) or container.fa.flow_style():
        return
    holder, at = _deepest(container, key)
    if _is_block_scalar(holder[at]):
        inline = " " * tail.column + tail.inline if tail.inline else ""
        value, column = inline + tail.rest, 0
    elif tail.inline:
        value, column = tail.inline + tail.rest, tail.column
    else:
        value, column = "\n" + tail.rest, 0
    entry = holder.ca.items.setdefault(at, [None, None, None, None])
    entry[_slot(holder)] = CommentToken(value, CommentMark(column))


def _set_entry(container: Any, key: _Key, value: Any) -> None:
    """Replace a value, keeping the comment that follows it in place."""
    tail = _take_tail(container, key)
    container[key] = value
    _put_tail(container, key, tail)


def _insert_entry(container: CommentedMap, position: int, key: str, value: Any) -> None:
    """Insert a key; what followed the entry before it (but its own comment) now follows it."""
    if position == 0 or not len(container):
        container.insert(position, key, value)
        return
    previous = list(container)[position - 1]
    tail = _take_tail(container, previous)
    container.insert(position, key, value)
    if tail is not None:
        _put_tail(container, previous, _Tail(tail.inline, tail.column))
        _put_tail(container, key, _Tail(rest=tail.rest))


def _delete_entry(container: CommentedMap, key: str) -> None:
    """Delete a key; the comment lines that followed it now follow the entry before it."""
    if key not in container:
        return
    keys = list(container)
    tail = _take_tail(container, key)
    del container[key]
    position = keys.index(key)
    if tail is not None and tail.rest and position > 0:
        previous = keys[position - 1]
        before = _take_tail(container, previous) or _Tail()
        _put_tail(container, previous, _Tail(before.inline, before.column, before.rest + tail.rest))


def _insert_in_order(container: CommentedMap, key: str, value: Any, order: Sequence[str]) -> None:
    """Insert a new key where ``order`` puts it among the keys the mapping has.

    After the nearest key that ``order`` puts before it, else before the nearest it puts after
    it, else at the end.
    """
    keys = list(container)
    index = order.index(key) if key in order else len(order)
    earlier = [k for k in order[:index] if k in container]
    later = [k for k in order[index + 1 :] if k in container]
    if earlier:
        position = keys.index(earlier[-1]) + 1
    elif later:
        position = keys.index(later[0])
    else:
        position = len(keys)
    _insert_entry(container, position, key, value)


def _clean_tail(rules: CommentedSeq) -> None:
    """Drop the blank lines and comments after a copied list (they belong to the next field)."""
    if rules:
        tail = _take_tail(rules, len(rules) - 1)
        if tail is not None and tail.inline:
            _put_tail(rules, len(rules) - 1, _Tail(tail.inline, tail.column))


# -- new values in the file's style ----------------------------------------------------------


def _needs_quotes(text: str) -> bool:
    """Whether the scenario loader would read ``text`` written plain as something else."""
    loader = ScenarioLoader("")
    try:
        tag = loader.resolve(yaml.ScalarNode, text, (True, False))
    finally:
        loader.dispose()
    return tag != "tag:yaml.org,2002:str"


def _plain_text(text: str) -> str:
    return DoubleQuotedScalarString(text) if _needs_quotes(text) else text


def _fold_positions(text: str, column: int) -> list[int]:
    """Spaces of ``text`` at which to break it so that lines starting at ``column`` fit."""
    spaces = [
        i
        for i, char in enumerate(text)
        if char == " " and 0 < i < len(text) - 1 and text[i - 1] != " " and text[i + 1] != " "
    ]
    folds: list[int] = []
    start, previous = 0, None
    for space in [*spaces, len(text)]:
        if column + space - start > _WIDTH and previous is not None and previous > start:
            folds.append(previous)
            start = previous + 1
        previous = space
    return folds


def _folded(text: str, column: int) -> FoldedScalarString:
    folded = FoldedScalarString(text)
    if "\n" not in text:
        folded.fold_pos = _fold_positions(text, column)
    return folded


def _text(old: Any, text: str, key: _Key, column: int, flow: bool) -> str:
    """New text in the style of the text it replaces (folded stays folded, quotes stay)."""
    if flow:
        if isinstance(old, SingleQuotedScalarString | DoubleQuotedScalarString):
            return type(old)(text)
        return _plain_text(text)
    if isinstance(old, FoldedScalarString):
        return _folded(text, column + 2)
    if isinstance(old, LiteralScalarString):
        return LiteralScalarString(text)
    if isinstance(old, SingleQuotedScalarString | DoubleQuotedScalarString):
        return type(old)(text)
    if "\n" not in text and column + len(str(key)) + 2 + len(text) > _WIDTH:
        return _folded(text, column + 2)
    return _plain_text(text)


def _flow_length(value: Any) -> int:
    """Length of ``value`` written in flow style (about)."""
    if isinstance(value, Mapping):
        return 2 + sum(len(str(k)) + 2 + _flow_length(v) + 2 for k, v in value.items())
    if isinstance(value, list):
        return 2 + sum(_flow_length(v) + 2 for v in value)
    return len(str(value))


def _fits_flow(value: Any) -> bool:
    """Whether a new mapping or list is short enough to be written in flow style."""

    def leaves(node: Any) -> Iterable[Any]:
        if isinstance(node, Mapping):
            for child in node.values():
                yield from leaves(child)
        elif isinstance(node, list):
            for child in node:
                yield from leaves(child)
        else:
            yield node

    short = all(not isinstance(leaf, str) or len(leaf) <= 30 for leaf in leaves(value))
    return short and _flow_length(value) <= 60


def _number(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _build(value: Any, key: _Key, column: int, flow: bool) -> Any:
    """A new ruamel node for ``value``: flow style where it is short, folded long text."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        flow = flow or (key not in _BLOCK_KEYS and _fits_flow(value))
        if flow:
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        for child_key, child in value.items():
            node[child_key] = _build(child, child_key, column + 2, flow)
        return node
    if isinstance(value, list):
        seq = CommentedSeq()
        flow = flow or _fits_flow(value)
        if flow:
            seq.fa.set_flow_style()
        else:
            seq.fa.set_block_style()
        seq.extend(_build(child, key, column + 2, flow) for child in value)
        return seq
    if isinstance(value, str):
        return _text(None, value, key, column, flow)
    return _number(value)


# -- differences between two dumps of a rule, applied to the file -----------------------------


def _empty(value: Any) -> bool:
    """Values that the file does not write: an empty mapping or list, ``stays: false``."""
    return value is False or (isinstance(value, Mapping | list) and not value)


def _diff(before: Any, after: Any, path: tuple[_Key, ...] = ()) -> list[_Op]:
    """The leaf paths changed, added or removed from ``before`` to ``after``."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        common_before = [k for k in before if k in after]
        common_after = [k for k in after if k in before]
        if common_before != common_after and path:
            return [("set", path, after)]
        ops: list[_Op] = []
        removed: list[_Op] = []  # last, so that a new key takes the place of a removed one
        for key, value in after.items():
            if key not in before:
                if not _empty(value):
                    ops.append(("set", (*path, key), value))
            elif before[key] != value or type(before[key]) is not type(value):
                if _empty(value):
                    removed.append(("del", (*path, key), None))
                else:
                    ops += _diff(before[key], value, (*path, key))
        removed += [("del", (*path, key), None) for key in before if key not in after]
        return ops + removed
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        ops = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            if old != new or type(old) is not type(new):
                ops += _diff(old, new, (*path, index))
        return ops
    if before == after and type(before) is type(after):
        return []
    return [("set", path, after)]


def _at(tree: Any, path: Sequence[_Key]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _has(container: Any, key: _Key) -> bool:
    if isinstance(container, CommentedMap):
        return key in container
    return isinstance(container, CommentedSeq) and isinstance(key, int) and key < len(container)


def _flow(node: Any) -> bool:
    return isinstance(node, CommentedMap | CommentedSeq) and bool(node.fa.flow_style())


def _replace(container: Any, key: _Key, value: Any, column: int) -> None:
    """Set an existing entry to ``value``, in place for mappings and lists (keeping the style)."""
    old = container[key]
    flow = _flow(container)
    if isinstance(value, Mapping) and isinstance(old, CommentedMap):
        tail = _take_tail(container, key)
        for child in list(old):
            del old[child]
        for child_key, child in value.items():
            old[child_key] = _build(child, child_key, column + 2, _flow(old))
        _put_tail(container, key, tail)
    elif isinstance(value, list) and isinstance(old, CommentedSeq):
        tail = _take_tail(container, key)
        list.__delitem__(old, slice(None))
        old.ca.items.clear()
        old.extend(_build(child, key, column + 2, _flow(old)) for child in value)
        _put_tail(container, key, tail)
    elif isinstance(value, str) and isinstance(old, str):
        _set_entry(container, key, _text(old, value, key, column, flow))
    else:
        _set_entry(container, key, _build(value, key, column, flow))


def _apply(rule: CommentedMap, ops: list[_Op], after: Mapping[str, Any]) -> None:
    """Apply the changes of :func:`_diff` to a rule as the file writes it."""
    for kind, path, value in ops:
        container: Any = rule
        column = _RULE_COLUMN
        for depth, key in enumerate(path[:-1]):
            if not _has(container, key):
                path, value = path[: depth + 1], _at(after, path[: depth + 1])
                break
            container = container[key]
            column += 2  # a mapping's keys, or a list's items after "- "
        key = path[-1]
        if kind == "del":
            if _has(container, key) and isinstance(container, CommentedMap):
                _delete_entry(container, str(key))
        elif _has(container, key):
            _replace(container, key, value, column)
        else:
            order = list(_at(after, path[:-1]))
            _insert_in_order(
                container, str(key), _build(value, key, column, _flow(container)), order
            )


# -- checking the edits against the scenario --------------------------------------------------


def _dump_spec(scenario: Scenario) -> dict[str, Any]:
    return scenario.spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def _rule_name(scenario: Scenario, node: str, index: int) -> str:
    rule = next((r for r in scenario.node(node).rules if r.index == index), None)
    return f"nodes.{node}.transitions[{index}]" + (f" (rule {rule.id})" if rule else "")


def _normalise(
    rule: Mapping[str, Any], which: str, file: Path, scenario: Scenario, edit: TransitionEdit
) -> dict[str, Any]:
    """A rule dump as the schema dumps it (defaults filled in, tuples as lists)."""
    try:
        spec = TransitionRule.model_validate(dict(rule))
    except ValidationError as exc:
        details = "; ".join(
            f"{format_field(tuple(e['loc'])) or '(rule)'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(
            f"{file}: {_rule_name(scenario, edit.node, edit.index)}: the edit's '{which}' is "
            f"not a valid rule: {details}"
        ) from None
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def _describe(ops: list[_Op], ours: Any, theirs: Any) -> str:
    parts = []
    for _, path, _ in ops[:3]:
        field = format_field(path) or "(rule)"
        try:
            mine = repr(_at(ours, path))
        except (KeyError, IndexError, TypeError):
            mine = "not set"
        try:
            other = repr(_at(theirs, path))
        except (KeyError, IndexError, TypeError):
            other = "not set"
        parts.append(f"{field} is {mine} in the file, {other} in 'before'")
    return "; ".join(parts) + ("; ..." if len(ops) > 3 else "")


def _checked_edits(
    edits: Iterable[TransitionEdit], scenario: Scenario, file: Path, data: dict[str, Any]
) -> list[tuple[TransitionEdit, dict[str, Any], list[_Op]]]:
    """Each edit with its normalised ``after`` and its changes, ``data`` updated to match.

    Raises
    ------
    ValueError
        For an unknown node or index, or a ``before`` that is not the scenario's rule.
    """
    checked = []
    for edit in edits:
        if not isinstance(edit, TransitionEdit):
            raise TypeError(f"edits must be TransitionEdit objects, not {edit!r}")
        nodes = data["nodes"]
        if edit.node not in nodes:
            raise ValueError(
                f"{file}: no node '{edit.node}' in the scenario; its nodes: {', '.join(nodes)}"
            )
        rules = nodes[edit.node].get("transitions", [])
        if not 0 <= edit.index < len(rules):
            raise ValueError(
                f"{file}: nodes.{edit.node}.transitions has {len(rules)} rule(s); "
                f"there is no rule at index {edit.index}"
            )
        before = _normalise(edit.before, "before", file, scenario, edit)
        after = _normalise(edit.after, "after", file, scenario, edit)
        current = rules[edit.index]
        if current != before:
            raise ValueError(
                f"{file}: {_rule_name(scenario, edit.node, edit.index)}: the edit's 'before' "
                "is not the rule as the file states it: "
                f"{_describe(_diff(current, before), current, before)}"
            )
        rules[edit.index] = after
        ops = _diff(before, after)
        if ops:
            checked.append((edit, after, ops))
    return checked


def _check_date(priors_set_on: dt.date | None) -> None:
    if priors_set_on is not None and (
        not isinstance(priors_set_on, dt.date) or isinstance(priors_set_on, dt.datetime)
    ):
        raise TypeError(f"priors_set_on must be a datetime.date, not {priors_set_on!r}")


# -- the chain of files -----------------------------------------------------------------------


def _defining(
    start: _File, node: str, cache: dict[Path, _File]
) -> tuple[_File, CommentedSeq | None]:
    """The file of the chain ``start`` extends that writes the node's transitions, and them."""
    current = start
    seen = {start.path.resolve()}
    while True:
        document = current.document
        nodes = document.get("nodes")
        if current.is_variant:
            if isinstance(nodes, Mapping) and node in nodes:
                return current, nodes[node]["transitions"]
            base = (current.path.parent / str(document[EXTENDS])).resolve()
            if base in seen:  # read_scenario refuses loops; be safe all the same
                raise ValueError(f"{start.path}: the scenarios extend one another in a loop")
            seen.add(base)
            if base not in cache:
                cache[base] = _File.read(base)
            current = cache[base]
            continue
        entry = nodes.get(node) if isinstance(nodes, Mapping) else None
        rules = entry.get("transitions") if isinstance(entry, Mapping) else None
        return current, rules if isinstance(rules, CommentedSeq) else None


def _copied_rules(rules: CommentedSeq | None) -> CommentedSeq:
    copied = copy.deepcopy(rules) if rules is not None else CommentedSeq()
    _clean_tail(copied)
    return copied


def _restate(variant: _File, node: str, rules: CommentedSeq, order: Sequence[str]) -> None:
    """Add ``nodes.<node>.transitions`` to a variant, in the node order of its base."""
    document = variant.document
    if not isinstance(document.get("nodes"), CommentedMap):
        nodes = CommentedMap()
        if "nodes" in document:
            _set_entry(document, "nodes", nodes)
        else:
            _insert_in_order(document, "nodes", nodes, _VARIANT_ORDER)
    entry = CommentedMap()
    entry["transitions"] = rules
    _insert_in_order(document["nodes"], node, entry, order)


def _set_priors_date(document: CommentedMap, when: dt.date, variant: bool) -> None:
    if "priors_set_on" in document:
        _set_entry(document, "priors_set_on", when)
    else:
        order = _VARIANT_ORDER if variant else ("title", "source", "author", "priors_set_on")
        _insert_in_order(document, "priors_set_on", when, order)


# -- writing ---------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes, mode: int | None, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    With ``exclusive``, a file that appears at ``path`` meanwhile is not replaced
    (:class:`FileExistsError`).
    """
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 and the user's umask, as for any new file; an existing file's mode is kept
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        if exclusive:
            _link_new(temporary, path)
        else:
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # not every system can fsync a folder
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _link_new(temporary: Path, path: Path) -> None:
    """Move ``temporary`` to ``path`` unless ``path`` exists (a hard link refuses to replace)."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists; it was not replaced") from None
    except OSError:  # no hard links on this file system
        if path.exists():
            raise FileExistsError(f"{path} exists; it was not replaced") from None
        os.replace(temporary, path)
    else:
        os.unlink(temporary)


def _comparable(data: dict[str, Any], variant: bool) -> dict[str, Any]:
    """The parts of a spec dump that a write must reproduce.

    A variant's evidence paths are rebased to its folder, so they are left out.
    """
    return {k: v for k, v in data.items() if not (variant and k == "evidence")}


def _write_checked(
    path: Path, data: bytes, previous: bytes | None, mode: int | None, expected: dict[str, Any]
) -> None:
    """Write ``data``, read the scenario back, and undo the write if it is not ``expected``."""
    _write_atomic(path, data, mode, exclusive=previous is None)
    try:
        scenario = read_scenario(path)
        variant = bool(scenario.bases)
        got, wanted = _comparable(_dump_spec(scenario), variant), _comparable(expected, variant)
        if got != wanted:
            field = next(
                (
                    f"nodes.{name}"
                    for name in wanted.get("nodes", {})
                    if got.get("nodes", {}).get(name) != wanted["nodes"][name]
                ),
                next((k for k in wanted if got.get(k) != wanted[k]), "(file)"),
            )
            raise ScenarioError.single(
                path,
                field,
                "the saved file does not read back as edited; the previous file was restored",
                "this is a fault of forecast's writer: please report it with the edit",
            )
    except BaseException:
        if previous is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            _write_atomic(path, previous, mode)
        raise


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def save_in_place(
    path: str | Path,
    edits: Iterable[TransitionEdit],
    *,
    priors_set_on: dt.date | None = None,
) -> Path:
    """Write edited rules back into the scenario file they were loaded from.

    A rule that the file writes is changed there; a rule of a variant (a file with
    ``extends``) whose node it inherits makes the variant restate the node: its
    ``nodes.<node>.transitions`` becomes the base's list (with its comments) with the edits
    applied. The files it extends are never changed. Only the difference between each edit's
    ``before`` and ``after`` is written; the rest of the file is kept byte for byte.

    Parameters
    ----------
    path : str or Path
        The scenario file the model was loaded from.
    edits : iterable of TransitionEdit
        The edited rules, applied in order (an edit of a rule edited before starts from the
        earlier edit's ``after``).
    priors_set_on : datetime.date, optional
        New date of the priors (default: keep the file's; a variant that does not state it
        keeps the base's).

    Returns
    -------
    Path
        ``path``. The file is not touched when nothing changes.

    Raises
    ------
    ValueError
        For an unknown node or rule index, an invalid ``after``, or a ``before`` that is not the
        rule as the file states it (naming the file, node and rule).
    ScenarioError
        If the scenario does not load before the edit, or the edited file does not load (the
        original is then restored).
    """
    path = Path(path)
    _check_date(priors_set_on)
    scenario = read_scenario(path)
    expected = _dump_spec(scenario)
    checked = _checked_edits(edits, scenario, path, expected)
    if priors_set_on is not None:
        expected["priors_set_on"] = priors_set_on.isoformat()
    target = _File.read(path)
    cache: dict[Path, _File] = {path.resolve(): target}
    order = list(scenario.spec.nodes)
    for edit, after, ops in checked:
        holder, rules = _defining(target, edit.node, cache)
        if holder is not target:
            rules = _copied_rules(rules)
            _restate(target, edit.node, rules, order)
        if rules is None:  # cannot be: the index was checked against the resolved list
            raise ValueError(f"{path}: no transitions of node '{edit.node}' in {holder.path}")
        _apply(rules[edit.index], ops, after)
    if priors_set_on is not None:
        _set_priors_date(target.document, priors_set_on, target.is_variant)
    data = target.render()
    if data == target.raw:
        return path
    _write_checked(path, data, target.raw, _mode(path), expected)
    logger.info("saved %d edited rule(s) to %s", len(checked), path)
    return path


def _relative(target: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(base.resolve(), target.parent.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return base.resolve().as_posix()


def _header(base: Path, extends: str, scenario_id: str) -> str:
    text = (
        f"{scenario_id}: a variant of the scenario in {base.name} with edited priors, written by "
        f"forecast on {dt.date.today().isoformat()}. It extends {extends}: nodes, states, "
        "parents, evidence, questions and outcomes are read from there, and only the metadata "
        "below and the transitions of the nodes listed are restated."
    )
    return textwrap.fill(text, _WIDTH - 2, initial_indent="# ", subsequent_indent="# ") + "\n"


def save_variant(
    base: str | Path,
    target: str | Path,
    edits: Iterable[TransitionEdit],
    *,
    id: str,
    author: str | None = None,
    title: str | None = None,
    priors_set_on: dt.date | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the edited rules as a new variant of a scenario (a file that ``extends`` it).

    The variant holds a header comment, ``extends`` (the base's path relative to the target's
    folder), ``id``, ``title``, ``author``, ``priors_set_on`` and, for each edited node only,
    the base's whole ``transitions`` list (with its comments) with the edits applied. Every
    other node comes from the base.

    Parameters
    ----------
    base : str or Path
        The scenario the edits were made on (itself possibly a variant: a node it restates
        is copied from it, other nodes from the scenario it extends).
    target : str or Path
        The new file.
    edits : iterable of TransitionEdit
        The edited rules, with ``index`` in the base's resolved lists.
    id : str
        The variant's scenario id.
    author : str, optional
        Who holds these priors (default: not restated, the base's).
    title : str, optional
        Default: the base's title followed by ``" (<id>)"``.
    priors_set_on : datetime.date, optional
        Default: the base's.
    overwrite : bool
        Replace an existing ``target`` (default: refuse).

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    FileExistsError
        If ``target`` exists and ``overwrite`` is false.
    ValueError
        For an unknown node or rule index, an invalid ``after``, a ``before`` that is not the
        base's rule, or a target that is the base itself.
    ScenarioError
        If the base does not load, or the variant does not (it is then removed, or the file it
        replaced restored).
    """
    base, target = Path(base), Path(target)
    _check_date(priors_set_on)
    if not isinstance(id, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", id):
        raise ValueError(
            f"{target}: the variant's id {id!r} must be a name of letters, digits and _ that "
            "starts with a letter"
        )
    for name, value in (("author", author), ("title", title)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{target}: the variant's {name} must be non-empty text")
    if target.resolve() == base.resolve():
        raise ValueError(f"{target}: a variant cannot replace the scenario it extends")
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} exists; pass overwrite=True to replace it, or choose another file"
        )
    scenario = read_scenario(base)
    expected = _dump_spec(scenario)
    checked = _checked_edits(edits, scenario, base, expected)
    title = title if title is not None else f"{scenario.spec.title} ({id})"
    when = priors_set_on if priors_set_on is not None else scenario.spec.priors_set_on
    expected.update(id=id, title=title, priors_set_on=when.isoformat())
    if author is not None:
        expected["author"] = author
    source = _File.read(base)
    cache: dict[Path, _File] = {base.resolve(): source}
    restated: dict[str, CommentedSeq] = {}
    for edit, after, ops in checked:
        if edit.node not in restated:
            restated[edit.node] = _copied_rules(_defining(source, edit.node, cache)[1])
        _apply(restated[edit.node][edit.index], ops, after)
    extends = _relative(target, base)
    head = CommentedMap()
    head[EXTENDS] = _plain_text(extends)
    for key, value in (("id", id), ("title", title), ("author", author)):
        if value is not None:
            head[key] = _text(None, str(value), key, 0, flow=False)
    head["priors_set_on"] = when
    text = _header(base, extends, id) + "\n" + _dump(head)
    if restated:
        nodes = CommentedMap()
        for name in scenario.spec.nodes:
            if name in restated:
                entry = CommentedMap()
                entry["transitions"] = restated[name]
                nodes[name] = entry
        text += "\n" + _dump(CommentedMap(nodes=nodes))
    previous = target.read_bytes() if target.exists() else None
    mode = _mode(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_checked(target, text.encode("utf-8"), previous, mode, expected)
    logger.info("saved a variant with %d edited rule(s) to %s", len(checked), target)
    return target
