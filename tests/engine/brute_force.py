"""Brute-force reference for the exact engine: sum over every joint trajectory.

Independent of :mod:`forecast.engine` (no tables, no plan, no forward pass): the monthly
probability of each node's move is worked out here, straight from the scenario's ``Rule``
objects, and every joint trajectory (every node's state in every month) is enumerated and
weighed. Only for small scenarios.

Semantics encoded here (as documented in the engine):

* just before month 0 (month -1): nodes are independent, each drawn from ``node.initial``;
* month t >= 0: each node moves from its own state at t - 1 given its parents' states at
  t - 1 (lag 1) or at t (lag 0), by the unique rule whose ``from_states`` holds its old state
  and whose ``given`` matches the parents; absorbing states, ``stays: true`` rules and cells no
  rule covers never move;
* a rule's N-month outcome vector ``q = [stay, *destinations]`` becomes the monthly
  ``p_stay = q_stay ** (1 / N)`` and ``p_dest = (1 - p_stay) * q_dest / (1 - q_stay)``;
* evidence multiplies by 1 where the node's state is in the observed set and 0 otherwise;
  soft evidence by its weight of the node's state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecast.scenario.validated import EvidenceItem, Node, Question, Rule, Scenario

MAX_TRAJECTORIES = 200_000


@dataclass
class BruteResult:
    """Evidence likelihood, smoothed marginals and question probabilities."""

    likelihood: float
    loglik: float
    marginals: dict[str, np.ndarray]  # node -> (months, states)
    questions: dict[str, float]


def monthly_move(rule: Rule, q: np.ndarray, node: Node, old: int) -> np.ndarray:
    """Distribution of the new state after one month under ``rule`` from state ``old``."""
    q = np.asarray(q, dtype=float)
    assert q.shape == (len(rule.destinations) + 1,), (rule.name, q.shape)
    months = rule.within_months
    q_stay = float(q[0])
    p_stay = q_stay ** (1.0 / months)
    out = np.zeros(node.n_states)
    out[old] += p_stay
    for dest, q_dest in zip(rule.destinations, q[1:], strict=True):
        out[node.states.index(dest)] += (1.0 - p_stay) * float(q_dest) / (1.0 - q_stay)
    return out


def matching_rule(node: Node, old_state: str, parent_states: dict[str, str]) -> Rule | None:
    """The rule of ``node`` that applies to ``old_state`` with these parent states."""
    found = [
        r
        for r in node.rules
        if old_state in r.from_states
        and all(parent_states[p] in wanted for p, wanted in r.given.items())
    ]
    if len(found) > 1:
        raise AssertionError(f"rules {[r.name for r in found]} overlap for {node.name}")
    return found[0] if found else None


def node_move(
    scenario: Scenario,
    params: dict[str, np.ndarray],
    node: Node,
    old: int,
    parent_states: dict[str, str],
) -> np.ndarray:
    """Distribution of the node's new state given its old state and its parents' states."""
    stay = np.zeros(node.n_states)
    stay[old] = 1.0
    state = node.states[old]
    if state in node.absorbing:
        return stay
    rule = matching_rule(node, state, parent_states)
    if rule is None or not rule.destinations:  # uncovered cell or 'stays: true'
        return stay
    q = rule.fixed_outcome if rule.fixed_outcome is not None else params[rule.name]
    if rule.pivot is not None:  # memoryless: this month's distribution, the pivot first
        out = np.zeros(node.n_states)
        for state, p in zip((rule.pivot, *rule.destinations), q, strict=True):
            out[node.states.index(state)] = p
        return out
    if q[0] >= 1.0:  # a fixed certain stay
        return stay
    return monthly_move(rule, q, node, old)


def joint_transition(scenario: Scenario, params: list[np.ndarray]) -> np.ndarray:
    """Dense ``(J, J)`` one-month transition matrix over joint states (C order over nodes).

    ``M[x, y] = prod_n P(y_n | x_n, parents from x (lag 1) or y (lag 0))``.
    """
    rules = scenario.rules
    assert len(params) == len(rules)
    by_name = {r.name: np.asarray(p, dtype=float) for r, p in zip(rules, params, strict=True)}
    nodes = scenario.nodes
    sizes = [n.n_states for n in nodes]
    joint = list(itertools.product(*(range(k) for k in sizes)))
    pos = {n.name: i for i, n in enumerate(nodes)}
    cache: dict[tuple, np.ndarray] = {}
    out = np.zeros((len(joint), len(joint)))
    for a, x in enumerate(joint):
        for b, y in enumerate(joint):
            prob = 1.0
            for i, node in enumerate(nodes):
                parent_states = {}
                for parent, lag in node.parents:
                    j = pos[parent]
                    value = y[j] if lag == 0 else x[j]
                    assert lag in (0, 1)
                    parent_states[parent] = nodes[j].states[value]
                key = (i, x[i], tuple(sorted(parent_states.items())))
                if key not in cache:
                    cache[key] = node_move(scenario, by_name, node, x[i], parent_states)
                prob *= cache[key][y[i]]
                if prob == 0.0:
                    break
            out[a, b] = prob
    return out


def evidence_weights(
    scenario: Scenario, joint: list[tuple[int, ...]], items: Sequence[EvidenceItem]
) -> np.ndarray:
    """``(months, J)`` evidence likelihood of every joint state in every month."""
    steps = scenario.timeline.n_steps
    w = np.ones((steps, len(joint)))
    pos = {n.name: i for i, n in enumerate(scenario.nodes)}
    for item in items:
        t = scenario.timeline.step_of(item.date)
        i = pos[item.node]
        node = scenario.nodes[i]
        weight = dict(item.likelihood) if item.likelihood is not None else None
        for s, x in enumerate(joint):
            if weight is not None:
                w[t, s] *= weight[node.states[x[i]]]
            elif node.states[x[i]] not in item.states:
                w[t, s] = 0.0
    return w


def question_indicator(scenario: Scenario, q: Question, states: np.ndarray) -> np.ndarray:
    """Per trajectory, whether the question's event happens. ``states``: (traj, months, nodes)."""
    i = [n.name for n in scenario.nodes].index(q.node)
    node = scenario.nodes[i]
    target = np.array([s in q.states for s in node.states])
    hit = target[states[:, :, i]]  # (traj, months)
    if q.kind == "in_state":
        return hit[:, q.step]
    if q.kind == "reached":
        return hit[:, q.window_start_step : q.step + 1].any(axis=1)
    raise ValueError(f"unknown question kind {q.kind}")


def brute_force(
    scenario: Scenario,
    params: list[np.ndarray],
    evidence: Sequence[EvidenceItem] | None = None,
    questions: Sequence[Question] | None = None,
) -> BruteResult:
    """Enumerate every joint trajectory and sum.

    Parameters
    ----------
    scenario : Scenario
        A small scenario (at most ``MAX_TRAJECTORIES`` joint trajectories).
    params : list of ndarray
        One N-month outcome vector per rule of ``scenario.rules`` (no batch axis).
    evidence : sequence of EvidenceItem, optional
        Defaults to all of the scenario's evidence; ``()`` means none.
    questions : sequence of Question, optional
        Defaults to the scenario's questions.
    """
    nodes = scenario.nodes
    sizes = [n.n_states for n in nodes]
    steps = scenario.timeline.n_steps
    n_joint = math.prod(sizes)
    n_traj = n_joint**steps
    if n_traj > MAX_TRAJECTORIES:
        raise ValueError(f"{n_traj} trajectories is too many for brute force")
    joint = list(itertools.product(*(range(k) for k in sizes)))
    joint_arr = np.array(joint, dtype=int).reshape(n_joint, len(nodes))
    init = np.array([math.prod(float(n.initial[x[i]]) for i, n in enumerate(nodes)) for x in joint])
    move = joint_transition(scenario, params)
    ev = evidence_weights(scenario, joint, scenario.evidence if evidence is None else evidence)
    # every trajectory: (traj, months) of joint-state indices
    traj = np.indices((n_joint,) * steps).reshape(steps, -1).T
    weight = (init @ move)[traj[:, 0]] * ev[0, traj[:, 0]]
    for t in range(1, steps):
        weight = weight * move[traj[:, t - 1], traj[:, t]] * ev[t, traj[:, t]]
    total = float(weight.sum())
    states = joint_arr[traj]  # (traj, months, nodes)
    marginals = {}
    answers = {}
    wanted = scenario.questions if questions is None else questions
    if total > 0:
        post = weight / total
        for i, node in enumerate(nodes):
            m = np.zeros((steps, node.n_states))
            for t in range(steps):
                m[t] = np.bincount(states[:, t, i], weights=post, minlength=node.n_states)
            marginals[node.name] = m
        for q in wanted:
            answers[q.id] = float(post[question_indicator(scenario, q, states)].sum())
    loglik = math.log(total) if total > 0 else -math.inf
    return BruteResult(total, loglik, marginals, answers)
