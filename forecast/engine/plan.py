"""The factored monthly update: which einsum updates which node, planned once per scenario.

The joint state of all nodes is one tensor with an axis per node. A month's transition is
applied node by node: each node's conditional probability table (parents, own old state,
own new state) is contracted into the tensor, and a node's old axis is summed out as soon as
nothing else needs it. No dense joint transition matrix is ever formed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

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


@dataclass(frozen=True)
class StepPlan:
    """The contractions of one monthly step, and the joint tensor's axis letters."""

    axes: str
    contractions: tuple[Contraction, ...]
    update_order: tuple[int, ...]


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


def make_plan(parents: list[list[tuple[int, int]]]) -> StepPlan:
    """Plan one monthly step for nodes whose parents are ``[(parent, lag), ...]``.

    Letters ``old[i]`` and ``new[i]`` name node ``i``'s axis in the month before and now.
    """
    n = len(parents)
    if n > MAX_NODES:
        raise ValueError(f"at most {MAX_NODES} nodes are supported, got {n}")
    old = [c for c in LETTERS if c != BATCH][:n]
    new = [c for c in LETTERS if c != BATCH][n : 2 * n]
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


def scenario_plan(scenario: Scenario) -> StepPlan:
    """Plan the monthly step of a scenario."""
    index = scenario.node_index
    return make_plan([[(index[p], lag) for p, lag in node.parents] for node in scenario.nodes])
