"""Cross-field checks of a scenario: everything pydantic cannot see field by field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math

import numpy as np

from forecast.errors import Problem
from forecast.scenario.schema import NodeSpec, QuestionSpec, ScenarioSpec, TransitionRule
from forecast.scenario.timeline import Timeline
from forecast.scenario.validated import Node, Question, Rule, rule_id
from forecast.scenario.yaml_source import LineMap, Path_, format_field
from forecast.settings import MAX_PARENT_CONFIGURATIONS, PROBABILITY_SUM_TOLERANCE


class Checker:
    """Collects problems with their field paths and lines."""

    def __init__(self, file: str, lines: LineMap) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, allowed: str = "") -> None:
        """Record a problem at ``path``."""
        self.problems.append(
            Problem(
                self.lines.file(path, self.file),
                format_field(path),
                message,
                allowed,
                self.lines.line(path),
            )
        )


def _states_text(states: list[str] | tuple[str, ...]) -> str:
    return ", ".join(states)


def find_month_cycle(spec: ScenarioSpec) -> list[str] | None:
    """Return a cycle of same-month (lag 0) parent edges, or None if there is none."""
    edges = {
        name: [p for p, lag in node.parents.items() if lag == 0 and p in spec.nodes]
        for name, node in spec.nodes.items()
    }
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        colour[name] = 1
        stack.append(name)
        for parent in edges[name]:
            if colour.get(parent) == 1:
                return [*stack[stack.index(parent) :], parent]
            if parent not in colour:
                found = visit(parent)
                if found:
                    return found
        stack.pop()
        colour[name] = 2
        return None

    for name in edges:
        if name not in colour:
            found = visit(name)
            if found:
                return found
    return None


def _check_node_refs(check: Checker, name: str, node: NodeSpec, spec: ScenarioSpec) -> bool:
    ok = True
    base: Path_ = ("nodes", name)
    states = list(node.states)
    for parent in node.parents:
        if parent == name:
            check.add(
                (*base, "parents", parent),
                "a node cannot list itself as a parent: it always depends on its own "
                "state in the month before",
                "other nodes' names",
            )
            ok = False
        elif parent not in spec.nodes:
            check.add(
                (*base, "parents", parent),
                f"unknown parent node '{parent}'",
                f"one of the nodes: {_states_text(list(spec.nodes))}",
            )
            ok = False
    if isinstance(node.initial, str):
        if node.initial not in node.states:
            check.add(
                (*base, "initial"),
                f"unknown initial state '{node.initial}'",
                f"one of: {_states_text(states)}",
            )
            ok = False
    else:
        for state in node.initial:
            if state not in node.states:
                check.add(
                    (*base, "initial", state),
                    f"unknown state '{state}'",
                    f"one of: {_states_text(states)}",
                )
                ok = False
        total = sum(node.initial.values())
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            check.add(
                (*base, "initial"),
                f"initial probabilities add up to {total:.6g}",
                "probabilities over the states that add up to 1",
            )
            ok = False
    for state in node.absorbing:
        if state not in node.states:
            check.add(
                (*base, "absorbing"),
                f"unknown absorbing state '{state}'",
                f"one of: {_states_text(states)}",
            )
            ok = False
    return ok


def memoryless_pivot(rule: TransitionRule, states: list[str]) -> str | None:
    """The state a memoryless rule leaves out of its destinations (None for a rule with from).

    For ``to``, the one state not named (it takes the rest); for ``dirichlet`` and
    ``probabilities``, the first state of the node.
    """
    if not rule.memoryless:
        return None
    if rule.to:
        rest = [s for s in states if s not in rule.to]
        return rest[0] if len(rest) == 1 else None
    return states[0]


def _check_memoryless(check: Checker, name: str, node: NodeSpec, index: int) -> bool:
    """A rule without ``from``: its states are the node's, all named but one for ``to``."""
    rule = node.transitions[index]
    path: Path_ = ("nodes", name, "transitions", index)
    states = list(node.states)
    ok = True
    if node.absorbing:
        check.add(
            ("nodes", name, "absorbing"),
            "a rule without from gives this month's state whatever last month's, so its "
            f"node cannot have absorbing states ({', '.join(node.absorbing)})",
            "from: <state> on every rule of a node with absorbing states, or no absorbing list",
        )
        ok = False
    field = next((f for f in ("dirichlet", "probabilities") if getattr(rule, f) is not None), "to")
    named = list(getattr(rule, field) or {}) if field != "to" else list(rule.to)
    for state in named:
        if state not in node.states:
            check.add(
                (*path, field, state),
                f"unknown state '{state}' of node '{name}'",
                f"one of: {_states_text(states)}",
            )
            ok = False
    if not ok:
        return False
    if field == "to":
        rest = [s for s in states if s not in rule.to]
        if len(rest) != 1:
            left = f"it leaves out {_states_text(rest)}" if rest else "it names every state"
            check.add(
                (*path, "to"),
                f"a rule without from names every state but one in to (the one left takes "
                f"the rest); {left}",
                f"judgements for all but one of: {_states_text(states)}",
            )
            ok = False
    else:
        missing = [s for s in states if s not in named]
        if missing:
            check.add(
                (*path, field),
                f"a rule without from gives its {field} over every state; missing: "
                f"{_states_text(missing)}",
                f"{field} over: {_states_text(states)}",
            )
            ok = False
    if rule.reference_class is not None:
        pivot = memoryless_pivot(rule, states)
        for dest in rule.reference_class.counts:
            if dest == pivot or dest not in states:
                check.add(
                    (*path, "reference_class", "counts", dest),
                    f"'{dest}' is not a state with a count in this rule (the cases not "
                    f"counted are in '{pivot}')",
                    f"one of: {_states_text([s for s in states if s != pivot])}",
                )
                ok = False
    return ok


def _check_given(
    check: Checker,
    name: str,
    node: NodeSpec,
    rule: TransitionRule,
    path: Path_,
    spec: ScenarioSpec,
) -> bool:
    """The rule's ``given`` names parents of the node and their states."""
    ok = True
    for parent, wanted in rule.given.items():
        if parent not in node.parents:
            check.add(
                (*path, "given", parent),
                f"'{parent}' is not a parent of '{name}'",
                f"one of its parents: {_states_text(list(node.parents)) or '(none)'}",
            )
            ok = False
            continue
        parent_states = list(spec.nodes[parent].states) if parent in spec.nodes else []
        for state in [wanted] if isinstance(wanted, str) else wanted:
            if parent_states and state not in parent_states:
                check.add(
                    (*path, "given", parent),
                    f"unknown state '{state}' of '{parent}'",
                    f"one of: {_states_text(parent_states)}",
                )
                ok = False
    return ok


def _check_destinations(
    check: Checker,
    path: Path_,
    destinations: list[str],
    node: NodeSpec,
    rule: TransitionRule,
    listed: list[str],
) -> bool:
    """Destinations are states of the node other than the rule's from-states.

    ``listed``: the states an unknown destination's message offers instead.
    """
    ok = True
    for dest in destinations:
        if dest not in node.states:
            check.add(
                (*path, dest),
                f"unknown destination state '{dest}'",
                f"one of: {_states_text(listed)}",
            )
            ok = False
        elif dest in rule.from_states:
            check.add(
                (*path, dest),
                f"'{dest}' is also a from-state of this rule",
                "destinations other than the from-state(s)",
            )
            ok = False
    return ok


def _check_duration_steps(
    check: Checker, node: NodeSpec, rule: TransitionRule, path: Path_
) -> bool:
    """A rule's ``by_months_in_state`` steps: judged or fixed moves to the rule's destinations.

    A rule that stays (``stays: true``) until its first step lets the steps name the
    destinations (the same in every step): an event that cannot come before a date.
    """
    steps = rule.by_months_in_state
    if not steps:
        return True
    ok = True
    if rule.dirichlet is not None:
        check.add(
            (*path, "by_months_in_state"),
            "steps by months in state need the rule's moves stated as judgements (to:), "
            "fixed probabilities or stays: true",
            "a rule with from and to: {...}, probabilities: {...} or stays: true, not dirichlet",
        )
        return False
    if any(r.memoryless for r in node.transitions):
        check.add(
            (*path, "by_months_in_state"),
            "a node with a rule without from (memoryless) cannot count months in state",
            "rules with from on every state of the node, or no by_months_in_state",
        )
        ok = False
    afters = [s.after for s in steps]
    # the destinations every step moves to: the rule's, or the first step's after a stay
    wanted = rule.destinations if not rule.stays else steps[0].destinations
    whose = "the rule" if not rule.stays else "the first step"
    others = [s for s in node.states if s not in rule.from_states]
    for j, step in enumerate(steps):
        where = (*path, "by_months_in_state", j)
        field = "to" if step.to else "probabilities"
        if j and step.after <= afters[j - 1]:
            check.add(
                (*where, "after"),
                f"after: {step.after} does not come after the step before it ({afters[j - 1]})",
                "steps in increasing months: after: 2, then after: 4, ...",
            )
            ok = False
        if sorted(step.destinations) != sorted(wanted):
            check.add(
                (*where, field),
                f"the step moves to {', '.join(step.destinations) or 'nothing'}; {whose} to "
                f"{', '.join(wanted)}",
                f"a move to each of {whose}'s destinations: {', '.join(wanted)}",
            )
            ok = False
        if rule.stays and not j:
            ok &= _check_destinations(check, (*where, field), step.destinations, node, rule, others)
    return ok


def _check_rule(check: Checker, name: str, node: NodeSpec, index: int, spec: ScenarioSpec) -> bool:
    rule = node.transitions[index]
    path: Path_ = ("nodes", name, "transitions", index)
    ok = True
    states = list(node.states)
    if rule.memoryless:
        return _check_memoryless(check, name, node, index) & _check_given(
            check, name, node, rule, path, spec
        )
    twice = sorted({s for s in rule.from_states if rule.from_states.count(s) > 1})
    if twice:
        check.add(
            (*path, "from"), f"state(s) {', '.join(twice)} listed twice", "each from-state once"
        )
        ok = False
    for state in rule.from_states:
        if state not in node.states:
            check.add(
                (*path, "from"),
                f"unknown state '{state}' of node '{name}'",
                f"one of: {_states_text(states)}",
            )
            ok = False
        elif state in node.absorbing:
            check.add(
                (*path, "from"),
                f"'{state}' is declared absorbing, so it has no transitions",
                "a state not listed under absorbing",
            )
            ok = False
    field = next((f for f in ("dirichlet", "probabilities") if getattr(rule, f) is not None), "to")
    ok &= _check_destinations(check, (*path, field), rule.destinations, node, rule, states)
    ok &= _check_given(check, name, node, rule, path, spec)
    ok &= _check_duration_steps(check, node, rule, path)
    if rule.reference_class is not None:
        for dest in rule.reference_class.counts:
            if dest not in rule.destinations:
                check.add(
                    (*path, "reference_class", "counts", dest),
                    f"'{dest}' is not a destination of this rule",
                    f"one of: {_states_text(rule.destinations)}",
                )
                ok = False
    return ok


def _table_rules(
    check: Checker, name: str, node: NodeSpec, spec: ScenarioSpec
) -> list[TransitionRule] | None:
    """The rules a node's ``cpt`` stands for: per row and state, fixed probabilities from it.

    Row ``k`` (parent states, then one probability per state) becomes, for each state ``s``,
    a rule from ``s`` given the row's parent states with ``probabilities`` ``stay``: the
    row's probability of ``s``, and the others' (those above 0). Every parent configuration
    needs exactly one row.
    """
    assert node.cpt is not None
    parents = list(node.parents)
    parent_states = [list(spec.nodes[p].states) for p in parents]
    states = list(node.states)
    width = len(parents) + len(states)
    shape = " ".join([*(f"<{p}>" for p in parents), *(f"<p({s})>" for s in states)])
    seen: dict[tuple[str, ...], int] = {}
    rules: list[TransitionRule] = []
    ok = True
    for k, row in enumerate(node.cpt.rows):
        path: Path_ = ("nodes", name, "cpt", "rows", k)
        if len(row) != width:
            check.add(
                path,
                f"the row has {len(row)} entries, not {width} ({len(parents)} parent "
                f"state(s) and {len(states)} probabilities)",
                f"rows of the form [{shape}]",
            )
            ok = False
            continue
        config = row[: len(parents)]
        values = row[len(parents) :]
        for j, (parent, value) in enumerate(zip(parents, config, strict=True)):
            if not isinstance(value, str) or value not in parent_states[j]:
                check.add(
                    (*path, j),
                    f"{value!r} is not a state of the parent '{parent}'",
                    f"one of: {_states_text(parent_states[j])}",
                )
                ok = False
        for j, value in enumerate(values, start=len(parents)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                shown = (
                    f"{str(value).lower()} (a boolean)" if isinstance(value, bool) else repr(value)
                )
                check.add(
                    (*path, j),
                    f"{shown} is not a probability",
                    "a number from 0 to 1 (YAML reads true and false as booleans)",
                )
                ok = False
            elif not (math.isfinite(value) and 0.0 <= value <= 1.0):
                check.add((*path, j), f"{value!r} is not a probability", "a number from 0 to 1")
                ok = False
        if not ok:
            continue
        total = math.fsum(values)
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            check.add(
                path,
                f"the probabilities add up to {total:.12g}, not 1",
                "one probability per state, in the order of the node's states, adding up to 1",
            )
            ok = False
            continue
        key = tuple(config)
        if key in seen:
            check.add(
                path,
                f"a second row for {_config_text(parents, key)} (row {seen[key]} is the first)",
                "one row per parent configuration",
            )
            ok = False
            continue
        seen[key] = k
        given = dict(zip(parents, config, strict=True))
        for i, state in enumerate(states):
            moves = {s: float(v) for s, v in zip(states, values, strict=True) if s != state and v}
            if not moves:  # certain to be in this state: from here it stays
                rules.append(
                    TransitionRule(
                        **{"from": state}, given=given, stays=True, rationale=node.cpt.rationale
                    )
                )
                continue
            rules.append(
                TransitionRule(
                    **{"from": state},
                    given=given,
                    probabilities={"stay": float(values[i]), **moves},
                    rationale=node.cpt.rationale,
                )
            )
    if not ok:
        return None
    missing = [c for c in itertools.product(*parent_states) if tuple(c) not in seen]
    if missing:
        shown = "; ".join(_config_text(parents, c) for c in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        check.add(
            ("nodes", name, "cpt", "rows"),
            f"no row for {shown}{more}",
            "one row per parent configuration",
        )
        return None
    return rules


def _config_masks(
    parents: list[str], configs: list[tuple[str, ...]]
) -> dict[tuple[str, str], np.ndarray]:
    """(parent, state) -> which parent configurations have the parent in that state."""
    masks = {}
    for j, parent in enumerate(parents):
        column = np.array([config[j] for config in configs], dtype=object)
        for state in dict.fromkeys(column):
            masks[(parent, state)] = column == state
    return masks


def _cells(
    rule_given: dict[str, tuple[str, ...]],
    n_configs: int,
    masks: dict[tuple[str, str], np.ndarray],
) -> list[int]:
    """The parent configurations a rule's ``given`` selects (``masks``: :func:`_config_masks`)."""
    chosen = np.ones(n_configs, dtype=bool)
    for parent, wanted in rule_given.items():
        any_wanted = np.zeros(n_configs, dtype=bool)
        for state in wanted:
            any_wanted |= masks.get((parent, state), False)
        chosen &= any_wanted
    return np.flatnonzero(chosen).tolist()


def build_nodes(check: Checker, spec: ScenarioSpec) -> tuple[Node, ...] | None:
    """Validate every node and its rules and build the engine-ready nodes."""
    ok = True
    for name, node in spec.nodes.items():
        ok &= _check_node_refs(check, name, node, spec)
    if not ok:
        return None
    cycle = find_month_cycle(spec)
    if cycle:
        check.add(
            ("nodes", cycle[0], "parents", cycle[1]),
            "cycle within a month (lag 0): " + " <- ".join(cycle),
            "same-month parents that form no cycle; use lag 1 for one of these edges",
        )
        return None
    tabled: dict[str, NodeSpec] = {}
    for name, node in spec.nodes.items():
        if node.cpt is not None:
            rules_of_table = _table_rules(check, name, node, spec)
            if rules_of_table is None:
                ok = False
            else:
                tabled[name] = node.model_copy(update={"transitions": rules_of_table})
    if not ok:
        return None
    # a node's table stands for its rules from here on; a rule of it points at its row
    spec = spec.model_copy(update={"nodes": {**spec.nodes, **tabled}})
    for name, node in spec.nodes.items():
        for index in range(len(node.transitions)):
            ok &= _check_rule(check, name, node, index, spec)
    if not ok:
        return None

    for name, node in spec.nodes.items():
        combinations = math.prod(len(spec.nodes[p].states) for p in node.parents)
        if combinations > MAX_PARENT_CONFIGURATIONS:
            check.add(
                ("nodes", name, "parents"),
                f"the parents' states make {combinations:,} combinations (one row of the "
                f"node's table each), more than {MAX_PARENT_CONFIGURATIONS:,}",
                "fewer parents or parent states; group parents into an intermediate node",
            )
            ok = False
    if not ok:
        return None

    built = []
    ids: dict[str, tuple[Path_, bool]] = {}
    for name, node in spec.nodes.items():
        parents = list(node.parents)
        configs = list(itertools.product(*(list(spec.nodes[p].states) for p in parents)))
        masks = _config_masks(parents, configs)
        parent_states = {p: tuple(spec.nodes[p].states) for p in parents}
        rules = []
        covered: dict[tuple[str, int], int] = {}
        for index, raw in enumerate(node.transitions):
            given = {p: (w,) if isinstance(w, str) else tuple(w) for p, w in raw.given.items()}
            pivot = memoryless_pivot(raw, list(node.states))
            from_states = list(node.states) if raw.memoryless else raw.from_states
            rule = Rule(
                name,
                index,
                tuple(from_states),
                given,
                raw.within_months,
                tuple(d for d in raw.destinations if d != pivot),
                raw,
                raw.id or rule_id(name, from_states, given, tuple(node.states), parent_states),
                _where(
                    check,
                    ("nodes", name, "transitions", index)
                    if name not in tabled
                    else ("nodes", name, "cpt", "rows", index // len(node.states)),
                ),
                pivot,
            )
            steps = raw.by_months_in_state
            if steps:
                rule = dataclasses.replace(rule, months_in_state=(1, steps[0].after - 1))
            rules.append(rule)
            ok &= _check_unique_id(check, ("nodes", name, "transitions", index), rule, ids)
            for j, step in enumerate(steps):
                last = steps[j + 1].after - 1 if j + 1 < len(steps) else None
                written = raw.model_copy(
                    update={
                        "to": dict(step.to),
                        "probabilities": step.probabilities,
                        "stays": False,
                        "rationale": step.rationale or raw.rationale,
                        "by_months_in_state": [],
                        "reference_class": None,
                        "id": None,
                    }
                )
                rules.append(
                    dataclasses.replace(
                        rule,
                        spec=written,
                        destinations=tuple(written.destinations),
                        id=f"{rule.id}@{step.after}",
                        where=_where(
                            check, ("nodes", name, "transitions", index, "by_months_in_state", j)
                        ),
                        months_in_state=(step.after, last),
                    )
                )
            for ci in _cells(given, len(configs), masks):
                for state in rule.from_states:
                    if (state, ci) in covered:
                        other = covered[(state, ci)]
                        memoryless = raw.memoryless or node.transitions[other].memoryless
                        check.add(
                            ("nodes", name, "transitions", index, "given"),
                            f"overlaps rule {other} for from-state '{state}' when "
                            f"{_config_text(parents, configs[ci])}",
                            "rules whose 'given' select disjoint parent configurations"
                            + (" (a rule without from covers every state)" if memoryless else ""),
                        )
                        ok = False
                    covered[(state, ci)] = index
        for state in node.states:
            if state in node.absorbing:
                continue
            missing = [ci for ci in range(len(configs)) if (state, ci) not in covered]
            if missing:
                shown = "; ".join(_config_text(parents, configs[ci]) for ci in missing[:3])
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                check.add(
                    ("nodes", name, "transitions"),
                    f"no rule says how '{name}' leaves state '{state}' when {shown}{more}",
                    f"a rule with from: {state} for every parent configuration, "
                    "'stays: true' where it cannot leave, or list the state under absorbing",
                )
                ok = False
        states = tuple(node.states)
        if isinstance(node.initial, str):
            initial = np.array([1.0 if s == node.initial else 0.0 for s in states])
        else:
            initial = np.array([float(node.initial.get(s, 0.0)) for s in states])
        built.append(
            Node(
                name=name,
                label=node.label or name.replace("_", " "),
                description=node.description,
                states=states,
                state_definitions=dict(node.states),
                claims=tuple(node.claims),
                parents=tuple(node.parents.items()),
                initial=initial,
                absorbing=tuple(node.absorbing),
                rules=tuple(rules),
                months_in_state=node.months_in_state,
            )
        )
    return tuple(built) if ok else None


def _where(check: Checker, path: Path_) -> tuple[str | None, int | None]:
    """The file (None: the scenario's own) and line of the field at ``path``."""
    file = check.lines.file(path, "")
    return (file or None, check.lines.line(path))


def _check_unique_id(
    check: Checker, path: Path_, rule: Rule, ids: dict[str, tuple[Path_, bool]]
) -> bool:
    """Record the rule's id in ``ids`` (id -> rule path, written or not); False if taken.

    Two derived ids are equal only for rules with the same ``from`` and ``given``, which the
    overlap check reports, so only a clash involving a written id is reported here.
    """
    written = rule.has_written_id
    if rule.id not in ids:
        ids[rule.id] = (path, written)
        return True
    other, other_written = ids[rule.id]
    if not (written or other_written):
        return True
    how = "" if other_written else " (derived from its node, from and given)"
    check.add(
        (*path, "id") if written else path,
        f"rule id '{rule.id}' is already the id of {format_field(other)}{how}",
        "an id that no other rule of the scenario has: a name of letters, digits and _ that "
        "starts with a letter (a rule without id gets <node>:<from>[<parent>=<states>,...])",
    )
    return False


def _config_text(parents: list[str], config: tuple[str, ...]) -> str:
    if not parents:
        return "(no parents)"
    return ", ".join(f"{p}={s}" for p, s in zip(parents, config, strict=True))


def check_states(
    check: Checker, path: Path_, node: str, states: list[str], spec: ScenarioSpec
) -> bool:
    """Check that ``node`` exists and has every one of ``states``."""
    if node not in spec.nodes:
        check.add(
            (*path, "node"), f"unknown node '{node}'", f"one of: {_states_text(list(spec.nodes))}"
        )
        return False
    known = list(spec.nodes[node].states)
    bad = [s for s in states if s not in known]
    if bad:
        check.add(
            (*path, "state"),
            f"unknown state '{bad[0]}' of node '{node}'",
            f"one of: {_states_text(known)}",
        )
        return False
    return True


def check_date(check: Checker, path: Path_, date: dt.date, timeline: Timeline) -> bool:
    """Check that a date falls inside the scenario's months."""
    if timeline.contains(date):
        return True
    check.add(
        path,
        f"{date} is outside the scenario's timeline",
        f"dates from {timeline.month_label(0)}-01 to "
        f"{timeline.month_end_date(timeline.n_steps - 1)}",
    )
    return False


def build_questions(check: Checker, spec: ScenarioSpec, timeline: Timeline) -> tuple[Question, ...]:
    """Validate the questions and add one per outcome and report date."""
    out: list[Question] = []
    seen: dict[str, int] = {}
    specs: list[tuple[Path_, QuestionSpec, str | None]] = [
        (("questions", i), q, None) for i, q in enumerate(spec.questions)
    ]
    horizon_date = timeline.month_end_date(timeline.n_steps - 1)
    reported = [
        date
        for i, date in enumerate(spec.report_dates)
        if check_date(check, ("report_dates", i), date, timeline)
    ]
    report_dates = sorted({*reported, horizon_date})
    for oi, outcome in enumerate(spec.outcomes):
        if not check_states(
            check,
            ("outcomes", oi),
            outcome.node,
            [outcome.state] if isinstance(outcome.state, str) else list(outcome.state),
            spec,
        ):
            continue
        for date in report_dates:
            specs.append(
                (
                    ("outcomes", oi),
                    QuestionSpec(
                        id=f"{outcome.id}_by_{date:%Y_%m}",
                        text=f"{outcome.label} by {date}",
                        node=outcome.node,
                        state=outcome.state,
                        date=date,
                        kind=outcome.kind,
                    ),
                    outcome.id,
                )
            )
    for path, q, outcome in specs:
        if q.id in seen:
            check.add((*path, "id"), f"question id '{q.id}' is used twice", "unique ids")
            continue
        seen[q.id] = 1
        if not check_states(check, path, q.node, q.states, spec):
            continue
        if not check_date(check, (*path, "date"), q.date, timeline):
            continue
        start = 0
        if q.window_start is not None:
            if not check_date(check, (*path, "window_start"), q.window_start, timeline):
                continue
            start = timeline.step_of(q.window_start)
        res = q.resolution
        out.append(
            Question(
                id=q.id,
                text=q.text,
                node=q.node,
                states=tuple(q.states),
                date=q.date,
                kind=q.kind,
                window_start=q.window_start,
                step=timeline.step_of(q.date),
                window_start_step=start,
                resolution=None if res is None else int(res.outcome),
                resolved_on=None if res is None else res.resolved_on,
                resolution_source="" if res is None else res.source,
                outcome=outcome,
            )
        )
    return tuple(out)
