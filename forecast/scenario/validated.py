"""The validated scenario: the structure every engine builds from (no PyMC, no PreliZ)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from forecast.scenario.schema import (
    Judgement,
    OutcomeSpec,
    ReferenceClass,
    ScenarioSpec,
    TransitionRule,
)
from forecast.scenario.timeline import Timeline


def rule_id(
    node: str,
    from_states: Sequence[str],
    given: Mapping[str, Sequence[str]],
    states: Sequence[str],
    parent_states: Mapping[str, Sequence[str]],
) -> str:
    """The id of a rule that states none, derived from its node, ``from`` and ``given``.

    ``<node>:<from>`` followed by ``[<parent>=<states>,...]`` when the rule has a ``given``,
    e.g. ``talks:none[mediation=active,pressure=high]``; several states are joined by ``|``
    (``pressure:high[occupation=substantial|foothold]``). States are listed in the order of
    their node's states and parents in the order of the node's parents, so the id does not
    depend on how the lists are written, on the rule's position or on the other rules. The
    characters ``:[]=,|`` cannot occur in a name, so a derived id never equals a written one,
    and they all survive as xarray variable, dimension and coordinate names and in netCDF.

    Parameters
    ----------
    node : str
        The rule's node.
    from_states : sequence of str
        The states the rule leaves.
    given : mapping of str to sequence of str
        Parent -> the parent states the rule applies to.
    states : sequence of str
        The node's states, in order.
    parent_states : mapping of str to sequence of str
        The node's parents, in order, each with its states in order.

    Returns
    -------
    str
        The derived id.
    """

    def ordered(chosen: Sequence[str], order: Sequence[str]) -> str:
        return "|".join(sorted(chosen, key=lambda s: order.index(s) if s in order else len(order)))

    text = f"{node}:{ordered(from_states, states)}"
    if given:
        parents = list(parent_states)
        conditions = [
            f"{p}={ordered(given[p], parent_states.get(p, ()))}"
            for p in sorted(given, key=lambda p: parents.index(p) if p in parents else len(parents))
        ]
        text += f"[{','.join(conditions)}]"
    return text


@dataclass(frozen=True)
class Rule:
    """One transition rule of a node, resolved against the node's states and parents.

    The rule's parameter is the probability vector of the N-month outcome over
    ``("stay", *destinations)``.

    Attributes
    ----------
    node : str
        The node.
    index : int
        Position in the node's ``transitions`` list as written (for pointing at the file;
        never a name).
    from_states, given, within_months, destinations
        The rule as written, resolved against the node.
    spec : TransitionRule
        The rule as written.
    id : str
        The rule's stable id, which names its parameter everywhere (PyMC coordinates,
        InferenceData variables, priors, tables, figures): the ``id`` written in the file,
        else the one :func:`rule_id` derives, e.g. ``talks:none[mediation=active,pressure=high]``.
    where : tuple of (str or None, int or None)
        The file the rule is written in (None: the scenario's own) and its line (None where
        unknown), for problems found after loading, such as a prior PreliZ cannot fit.
    pivot : str or None
        For a memoryless rule (no ``from``), the state whose probability takes the place of
        "stay" in the outcome vector ``[pivot, *destinations]`` (None for a rule with
        ``from``); ``from_states`` is then every state of the node.
    months_in_state : tuple of (int, int or None), or None
        For a rule whose moves depend on how long the node has been in its state
        (``by_months_in_state``): the months in state it applies to, ``(first, last)``
        (``last`` None: from ``first`` on). A step's rule has the id ``<rule id>@<after>``.
        None: whatever the months in state.
    """

    node: str
    index: int
    from_states: tuple[str, ...]
    given: dict[str, tuple[str, ...]]
    within_months: int
    destinations: tuple[str, ...]
    spec: TransitionRule
    id: str
    where: tuple[str | None, int | None] = (None, None)
    pivot: str | None = None
    months_in_state: tuple[int, int | None] | None = None

    @property
    def name(self) -> str:
        """The rule's id (:attr:`id`), under the name it has always had."""
        return self.id

    @property
    def has_written_id(self) -> bool:
        """Whether the id was written in the file (else it is derived)."""
        return self.spec.id is not None

    @property
    def is_free(self) -> bool:
        """Whether the rule has a probability parameter (``stays`` and fixed rules do not)."""
        return bool(self.destinations) and self.spec.probabilities is None

    @property
    def fixed_outcome(self) -> np.ndarray | None:
        """The N-month outcome ``[stay, *destinations]`` a rule fixes (None: it has a prior)."""
        written = self.spec.probabilities
        if written is None:
            return None
        first = written.get("stay", 0.0) if self.pivot is None else written[self.pivot]
        return np.array([first, *(written[d] for d in self.destinations)])

    @property
    def first_outcome(self) -> str:
        """What the first entry of the outcome vector stands for: ``"stay"``, or the pivot."""
        return "stay" if self.pivot is None else self.pivot

    @property
    def judgements(self) -> dict[str, Judgement]:
        """Destination -> judgement, for rules stated as judgements."""
        return dict(self.spec.to)

    @property
    def reference_class(self) -> ReferenceClass | None:
        """Historical counts attached to the rule, if any."""
        return self.spec.reference_class

    def describe(self) -> str:
        """One line in plain words: from, given, to, within N months (or stays)."""
        given = ", ".join(f"{p}={'|'.join(s)}" for p, s in self.given.items()) or "any parents"
        if self.pivot is not None:
            states = (self.pivot, *self.destinations)
            fixed = self.fixed_outcome
            if fixed is not None:
                shown = ", ".join(f"{s} {p:g}" for s, p in zip(states, fixed, strict=True))
                return f"{self.node} this month: {shown} (fixed, memoryless), given {given}"
            return f"{self.node} this month: one of {', '.join(states)} (memoryless), given {given}"
        if not self.destinations:
            return f"{self.node}: {'|'.join(self.from_states)} stays, given {given}"
        fixed = self.fixed_outcome
        if fixed is not None:
            pairs = zip(self.destinations, fixed[1:], strict=True)
            moves = ", ".join(f"{d} {p:g}" for d, p in pairs)
            return (
                f"{self.node}: {'|'.join(self.from_states)} -> {moves} (fixed) "
                f"within {self.within_months} month(s), given {given}"
            )
        return (
            f"{self.node}: {'|'.join(self.from_states)} -> {', '.join(self.destinations)} "
            f"within {self.within_months} month(s), given {given}"
        )


@dataclass(frozen=True)
class Node:
    """A validated node."""

    name: str
    label: str
    description: str
    states: tuple[str, ...]
    state_definitions: dict[str, str]
    claims: tuple[str, ...]
    parents: tuple[tuple[str, int], ...]
    initial: np.ndarray
    absorbing: tuple[str, ...]
    rules: tuple[Rule, ...]
    reports_on: str | None = None
    months_in_state: int = 1

    @property
    def state_duration_caps(self) -> tuple[int, ...]:
        """Per state, the months in it that its rules tell apart (1: they ignore them).

        A state stepped at ``after: K`` counts to ``K``, whatever the node's other states do.
        """
        caps = [1] * len(self.states)
        for rule in self.rules:
            if rule.months_in_state:
                for state in rule.from_states:
                    i = self.state_index(state)
                    caps[i] = max(caps[i], rule.months_in_state[0])
        return tuple(caps)

    @property
    def duration_cap(self) -> int:
        """Months in state the engine counts for this node (1: its rules ignore them)."""
        return max(self.state_duration_caps)

    @property
    def is_source(self) -> bool:
        """Whether the node is a declared evidence source's report (``sources:``)."""
        return self.reports_on is not None

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.states)

    def state_index(self, state: str) -> int:
        """Index of a state."""
        return self.states.index(state)


@dataclass(frozen=True)
class Question:
    """A validated question, on the timeline."""

    id: str
    text: str
    node: str
    states: tuple[str, ...]
    date: dt.date
    kind: str
    window_start: dt.date | None
    step: int
    window_start_step: int
    resolution: int | None
    resolved_on: dt.date | None
    resolution_source: str
    outcome: str | None = None


@dataclass(frozen=True)
class EvidenceItem:
    """One observation on the timeline (from the scenario, a table or a series).

    ``superseded_on`` is set on a series reading that stands for its month only until a later
    reading of the month becomes known on that date. Soft evidence carries ``likelihood``,
    ``(state, weight)`` for every state of the node (``states`` are then the states of
    positive weight); hard evidence has None there.
    """

    node: str
    date: dt.date
    known_on: dt.date
    states: tuple[str, ...]
    source: str
    origin: str
    note: str = ""
    superseded_on: dt.date | None = None
    likelihood: tuple[tuple[str, float], ...] | None = None

    @property
    def shown(self) -> str:
        """The observation in short: ``a|b``, or ``a=0.8|b=0.2|c=0`` for soft evidence."""
        if self.likelihood is None:
            return "|".join(self.states)
        return "|".join(f"{s}={w:g}" for s, w in self.likelihood)


@dataclass(frozen=True)
class Scenario:
    """A scenario that passed every check, ready for the engines.

    Attributes
    ----------
    spec : ScenarioSpec
        The file as written.
    path : Path or None
        Where it was loaded from.
    text : str
        The file's text (and the texts of the scenarios it extends), for the hash.
    superseded : tuple of EvidenceItem
        Series readings replaced later in their month (see :meth:`evidence_as_of`).
    bases : tuple of Path
        The scenarios the file extends, nearest first (empty for a self-contained file).
    evidence_where : dict
        ``(file, field, line)`` of each evidence item by origin, and of the evidence section
        under ``""``, for problems found after loading.
    """

    spec: ScenarioSpec
    path: Path | None
    text: str
    timeline: Timeline
    nodes: tuple[Node, ...]
    questions: tuple[Question, ...]
    evidence: tuple[EvidenceItem, ...] = field(default=())
    outcomes: tuple[OutcomeSpec, ...] = field(default=())
    evidence_files: dict[str, str] = field(default_factory=dict)
    superseded: tuple[EvidenceItem, ...] = field(default=())
    bases: tuple[Path, ...] = field(default=())
    evidence_where: dict[str, tuple[str, str, int | None]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Scenario id."""
        return self.spec.id

    @cached_property
    def node_index(self) -> dict[str, int]:
        """Node name -> position."""
        return {n.name: i for i, n in enumerate(self.nodes)}

    def node(self, name: str) -> Node:
        """Node by name."""
        return self.nodes[self.node_index[name]]

    @property
    def rules(self) -> list[Rule]:
        """All rules with a probability parameter, node by node."""
        return [r for n in self.nodes for r in n.rules if r.is_free]

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the scenario text and of every evidence file it reads."""
        digest = hashlib.sha256(self.text.encode())
        for name in sorted(self.evidence_files):
            digest.update(name.encode())
            digest.update(self.evidence_files[name].encode())
        return digest.hexdigest()

    def evidence_as_of(self, as_of: dt.date | None) -> tuple[EvidenceItem, ...]:
        """Evidence known on or before ``as_of`` (all of it when ``as_of`` is None).

        A series reading superseded later in its month stands for the month while it is the
        last reading known (``known_on <= as_of < superseded_on``).
        """
        if as_of is None:
            return self.evidence
        return tuple(
            e
            for e in (*self.evidence, *self.superseded)
            if e.known_on <= as_of and (e.superseded_on is None or as_of < e.superseded_on)
        )

    def to_json(self) -> str:
        """The scenario as written, as JSON (for InferenceData attributes)."""
        return json.dumps(self.spec.model_dump(mode="json", by_alias=True), sort_keys=True)


def parent_configurations(node: Node, nodes: dict[str, Node]) -> list[tuple[str, ...]]:
    """Every assignment of states to a node's parents, in C order of the parents."""
    spaces = [nodes[p].states for p, _ in node.parents]
    return list(itertools.product(*spaces))
