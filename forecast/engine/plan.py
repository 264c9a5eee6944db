"""The factored monthly update: which einsum updates which node, planned once per scenario.

The joint state of all nodes is one tensor with an axis per node. A month's transition is
applied node by node: each node's conditional probability table (parents, own old state,
own new state) is contracted into the tensor, and a node's old axis is summed out as soon as
nothing else needs it. No dense joint transition matrix is ever formed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from forecast import settings
from forecast.scenario.validated import Scenario

LETTERS = string.ascii_letters
BATCH = "Z"
MAX_NODES = (len(LETTERS) - 1) // 2


@dataclass(frozen=True)
class Contraction:
    """One einsum of the month update: ``out = einsum(joint[inputs], cpt[table])``."""

    node: int
    inputs: str
    table: str
    output: str
    folded: bool = False


@dataclass(frozen=True)
class StepPlan:
    """The contractions of one monthly step, and the joint tensor's axis letters.

    ``factors`` are the folded nodes' contractions (:func:`make_plan`): each multiplies the
    joint after the month by its node's table summed against the node's evidence, and adds no
    axis. ``axes`` are the other nodes' (the first ``len(axes)`` nodes).
    """

    axes: str
    contractions: tuple[Contraction, ...]
    update_order: tuple[int, ...]
    factors: tuple[Contraction, ...] = ()

    @property
    def operations(self) -> tuple[Contraction, ...]:
        """Every contraction of the month, the factors last (as the compiled passes run them)."""
        return self.contractions + self.factors


def same_month_order(parents: list[list[tuple[int, int]]]) -> list[int]:
    """Order of the node updates within a month.

    Same-month (lag 0) parents must be updated before their children. Among the nodes that
    may go next, the one with the fewest children still waiting for its old (lag 1) value
    goes first, so old axes are summed out early and the joint tensor stays small.
    """
    n = len(parents)
    lag1_children = [
        {c for c in range(n) for p, lag in parents[c] if p == m and lag == 1} for m in range(n)
    ]
    done: set[int] = set()
    order: list[int] = []
    while len(order) < n:
        ready = [
            i
            for i in range(n)
            if i not in done and all(lag == 1 or p in done for p, lag in parents[i])
        ]
        if not ready:  # pragma: no cover - the spec rejects same-month cycles first
            raise ValueError("same-month parents form a cycle")
        best = min(ready, key=lambda i: (len(lag1_children[i] - done - {i}), i))
        order.append(best)
        done.add(best)
    return order


def make_plan(parents: list[list[tuple[int, int]]], folded: int = 0) -> StepPlan:
    """Plan one monthly step for nodes whose parents are ``[(parent, lag), ...]``.

    Letters ``old[i]`` and ``new[i]`` name node ``i``'s axis in the month before and now.

    The last ``folded`` nodes are *folded*: childless nodes whose parents are all in the same
    month and whose table ignores their own old state (an evidence source's reports). Such a
    node is summed out in the month it forms, against its evidence, so it adds no axis to the
    joint: its contraction (a factor of :attr:`StepPlan.factors`) multiplies the joint after
    the month by ``sum_k table[parents, 0, k] * evidence[k]``. This is exact: nothing later
    depends on the node's state.
    """
    n = len(parents)
    if n > MAX_NODES:
        raise ValueError(f"at most {MAX_NODES} nodes are supported, got {n}")
    letters = [c for c in LETTERS if c != BATCH]
    kept = n - folded
    for i in range(kept, n):
        if any(lag != 0 or p >= kept for p, lag in parents[i]):
            raise ValueError(f"folded node {i} needs same-month parents among the kept nodes")
    for i in range(kept):
        if any(p >= kept for p, _ in parents[i]):
            raise ValueError(f"node {i} has a folded parent; a folded node has no children")
    plan = _state_plan(parents[:kept], letters[:kept], letters[kept : 2 * kept])
    if not folded:
        return plan
    new_kept = letters[kept : 2 * kept]
    spare = letters[2 * kept :]
    factors = []
    for j, i in enumerate(range(kept, n)):
        table = "".join(new_kept[p] for p, _ in parents[i]) + spare[2 * j] + spare[2 * j + 1]
        factors.append(Contraction(i, "".join(new_kept), table, "".join(new_kept), folded=True))
    return StepPlan(plan.axes, plan.contractions, plan.update_order, tuple(factors))


def _state_plan(parents: list[list[tuple[int, int]]], old: list[str], new: list[str]) -> StepPlan:
    """The contractions of the nodes that keep an axis in the joint."""
    n = len(parents)
    lag1_children = [
        {c for c in range(n) for p, lag in parents[c] if p == m and lag == 1} for m in range(n)
    ]
    order = same_month_order(parents)
    updated: set[int] = set()
    current = list(old)
    ops: list[Contraction] = []
    for k, i in enumerate(order):
        table = "".join(new[p] if lag == 0 else old[p] for p, lag in parents[i]) + old[i] + new[i]
        updated.add(i)
        out = [*current, new[i]]
        for m in range(n):
            if old[m] in out and m in updated and lag1_children[m] <= updated:
                out.remove(old[m])
        if k == len(order) - 1:
            out = list(new)
        ops.append(Contraction(i, "".join(current), table, "".join(out)))
        current = out
    return StepPlan("".join(old), tuple(ops), tuple(order))


def folded_count(scenario: Scenario) -> int:
    """How many of the scenario's last nodes are folded (its sources' report nodes)."""
    return sum(1 for node in scenario.nodes if node.is_source)


def scenario_plan(scenario: Scenario) -> StepPlan:
    """Plan the monthly step of a scenario (its sources' report nodes folded)."""
    index = scenario.node_index
    return make_plan(
        [[(index[p], lag) for p, lag in node.parents] for node in scenario.nodes],
        folded_count(scenario),
    )


DRAWS_PER_BLOCK = 64
"""Draws the compiled passes hold at once per thread (``forecast.engine.smoothing.BLOCK``;
restated here so that a scenario's size is checked without importing numba, and tested
equal to it)."""


def draws_per_block(
    per_draw_bytes: int,
    threads: int,
    budget: int | None = None,
    most: int = DRAWS_PER_BLOCK,
) -> int:
    """Draws a summary pass holds at once per thread, so that all threads fit ``budget``.

    At most ``most`` (the vectorised width), at least one draw; ``budget`` defaults to
    ``settings.SMOOTHING_MEMORY_BYTES``.
    """
    budget = settings.SMOOTHING_MEMORY_BYTES if budget is None else budget
    fits = budget // max(1, threads * per_draw_bytes)
    return int(max(1, min(most, fits)))


@dataclass(frozen=True)
class SizeEstimate:
    """How large a scenario's engine is, and an upper bound of the memory it needs.

    Attributes
    ----------
    nodes, months : int
        Nodes and monthly steps.
    joint : int
        Entries of the joint state (the product of the nodes' state counts).
    largest : int
        Entries of the largest tensor a contraction of the monthly update ranges over (its
        inputs, the node's table and its output together; 0 beyond :data:`MAX_NODES`).
    nbytes : int
        Memory estimate in bytes (see :func:`size_estimate`).
    """

    nodes: int
    months: int
    joint: int
    largest: int
    nbytes: int


def size_estimate(
    n_states: list[int],
    parents: list[list[tuple[int, int]]],
    months: int,
    draws: int,
    threads: int,
    block: int | None = None,
    folded: int = 0,
) -> SizeEstimate:
    """An upper bound of the memory a fit of a scenario needs, from its contraction plan.

    With ``J`` the joint entries, ``in_c``, ``out_c``, ``full_c`` and ``table_c`` the entries
    of contraction ``c``'s input, output, full index range and table, and 8 bytes a number:

    - the compiled passes hold, per thread and block of ``block`` draws, the forward and
      backward joints of every month and a month's work: ``8 * block * (2 * (months + 1) * J
      + sum_c (in_c + out_c))``, times ``threads``; by default ``block`` is
      :func:`draws_per_block` of that per-draw memory, as the passes choose it;
    - their work lists hold five numbers per (input, table cell, output) triple of every
      month: ``40 * months * sum_c full_c``;
    - the transition tables of every draw: ``8 * draws * sum_c table_c``.

    The last ``folded`` nodes add no axis to the joint (see :func:`make_plan`).

    Only the joint entries that can hold mass are kept (on Kursk about one in eight), so the
    engine needs less; the bound is what a scenario is refused on. Beyond :data:`MAX_NODES`
    nodes there is no plan, and the estimate counts the joints alone.
    """
    kept = len(n_states) - folded
    joint = 1
    for n in n_states[:kept]:
        joint *= n
    passes = 2 * (months + 1) * joint
    if len(n_states) > MAX_NODES:
        held = block or draws_per_block(8 * passes, threads)
        return SizeEstimate(len(n_states), months, joint, 0, 8 * held * threads * passes)
    plan = make_plan(parents, folded)
    new = plan.contractions[-1].output  # the new axes, in node order
    kept_states = n_states[:kept]
    size = dict(zip(plan.axes, kept_states, strict=True)) | dict(zip(new, kept_states, strict=True))
    for op in plan.factors:
        size[op.table[-2]] = size[op.table[-1]] = n_states[op.node]

    def entries(letters: str) -> int:
        total = 1
        for letter in set(letters):
            total *= size[letter]
        return total

    work = sum(entries(op.inputs) + entries(op.output) for op in plan.operations)
    # a factor reads one old-state row of its table (it ignores the old state)
    full = [
        entries(op.inputs + (op.table[-1] if op.folded else op.table)) for op in plan.operations
    ]
    tables = sum(entries(op.table) for op in plan.operations)
    held = block or draws_per_block(8 * (passes + work), threads)
    nbytes = 8 * held * threads * (passes + work) + 40 * months * sum(full) + 8 * draws * tables
    return SizeEstimate(len(n_states), months, joint, max(full, default=joint), nbytes)


def scenario_size(scenario: Scenario, draws: int, threads: int) -> SizeEstimate:
    """:func:`size_estimate` of a scenario."""
    index = scenario.node_index
    return size_estimate(
        [node.n_states * node.duration_cap for node in scenario.nodes],
        [[(index[p], lag) for p, lag in node.parents] for node in scenario.nodes],
        scenario.timeline.n_steps,
        draws,
        threads,
        folded=folded_count(scenario),
    )
