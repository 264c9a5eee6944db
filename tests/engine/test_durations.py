"""Hazards that depend on months in state: the engine's duration counter against enumeration.

The reference here walks every trajectory of every node (month -1 to the horizon), counts
each node's months in its state along the path, and picks the rule whose
``months_in_state`` holds that count: no tables, no cap, no plan.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.elicitation import elicit
from forecast.engine import ExactEngine, central_params
from forecast.engine.exact import forced_state
from forecast.engine.plan import scenario_size
from tests.engine.brute_force import monthly_move
from tests.paths import SCENARIOS

PATH = SCENARIOS / "duration_chain.yaml"
SCHEDULED = SCENARIOS / "scheduled_event.yaml"


@pytest.fixture(scope="module")
def scenario():
    return forecast.load_scenario(PATH)


def _rule(node, state: str, parents: dict[str, str], months: int):
    found = [
        r
        for r in node.rules
        if state in r.from_states
        and all(parents[p] in w for p, w in r.given.items())
        and (
            r.months_in_state is None
            or (
                months >= r.months_in_state[0]
                and (r.months_in_state[1] is None or months <= r.months_in_state[1])
            )
        )
    ]
    assert len(found) <= 1, [r.name for r in found]
    return found[0] if found else None


def enumerate_paths(scenario, params, evidence=None, forced=None):
    """Loglik, marginals and question answers by summing over every trajectory.

    ``forced``: (node, state, months) — the node is put in the state in those months,
    whatever its rule, as ``do()`` does.
    """
    by_name = dict(zip((r.name for r in scenario.rules), params, strict=True))
    nodes = scenario.nodes
    steps = scenario.timeline.n_steps
    items = scenario.evidence if evidence is None else evidence
    seen = {}
    for item in items:
        seen.setdefault((item.node, scenario.timeline.step_of(item.date)), []).append(item)
    total = 0.0
    marginals = {n.name: np.zeros((steps, n.n_states)) for n in nodes}
    answers = {q.id: 0.0 for q in scenario.questions}
    ranges = [range(n.n_states) for n in nodes]
    joint = list(itertools.product(*ranges))
    for path in itertools.product(joint, repeat=steps + 1):
        start = path[0]
        p = math.prod(float(n.initial[start[i]]) for i, n in enumerate(nodes))
        if p == 0.0:
            continue
        months = [n.months_in_state for n in nodes]
        for t in range(steps):
            before, after = path[t], path[t + 1]
            for i, node in enumerate(nodes):
                state = node.states[before[i]]
                parents = {
                    q: nodes[scenario.node_index[q]].states[
                        (after if lag == 0 else before)[scenario.node_index[q]]
                    ]
                    for q, lag in node.parents
                }
                if forced and forced[0] == node.name and t in forced[2]:
                    move = np.eye(node.n_states)[node.state_index(forced[1])]
                else:
                    rule = _rule(node, state, parents, months[i])
                    if rule is None or state in node.absorbing or not rule.destinations:
                        move = np.eye(node.n_states)[before[i]]
                    else:
                        q = by_name[rule.name] if rule.is_free else rule.fixed_outcome
                        move = monthly_move(rule, q, node, before[i])
                p *= move[after[i]]
                for item in seen.get((node.name, t), ()):
                    p *= 1.0 if node.states[after[i]] in item.states else 0.0
                if p == 0.0:
                    break
            if p == 0.0:
                break
            months = [m + 1 if a == b else 1 for m, a, b in zip(months, before, after, strict=True)]
        if p == 0.0:
            continue
        total += p
        for i, node in enumerate(nodes):
            for t in range(steps):
                marginals[node.name][t, path[t + 1][i]] += p
        for q in scenario.questions:
            i = scenario.node_index[q.node]
            hits = [nodes[i].states[path[t + 1][i]] in q.states for t in range(steps)]
            hit = (
                hits[q.step]
                if q.kind == "in_state"
                else any(hits[q.window_start_step : q.step + 1])
            )
            answers[q.id] += p * hit
    return (
        math.log(total),
        {k: v / total for k, v in marginals.items()},
        {k: v / total for k, v in answers.items()},
    )


def _points(scenario):
    rng = np.random.default_rng(3)
    priors = elicit(scenario)
    yield central_params(scenario)
    yield priors.means()
    yield [rng.dirichlet(np.ones(len(r.destinations) + 1)) for r in scenario.rules]


def test_a_step_is_its_own_rule_over_its_months(scenario) -> None:
    months = {r.name: r.months_in_state for r in scenario.rules}
    assert months["hold:held"] == (1, 1)
    assert months["hold:held@2"] == (2, 3)
    assert months["hold:held@4"] == (4, None)
    assert months["hold:lost"] is None
    assert [n.duration_cap for n in scenario.nodes] == [4, 3]


def test_the_joint_grows_by_the_caps(scenario) -> None:
    engine = ExactEngine(scenario)
    assert engine.lowered.n_joint == (2 * 4) * (2 * 3)
    assert scenario_size(scenario, draws=10, threads=1).joint == 48


def _equals_enumeration(scenario, params) -> None:
    loglik, marginals, answers = enumerate_paths(scenario, params)
    engine = ExactEngine(scenario)
    for result, pick in (
        (engine.run(params, engine.evidence()), lambda v: v),
        (engine.run_draws([p[None] for p in params], engine.evidence()), lambda v: v[0]),
    ):
        assert_allclose(pick(result.loglik), loglik, rtol=0, atol=1e-12)
        for name, marginal in marginals.items():
            assert_allclose(pick(result.marginals[name]), marginal, rtol=0, atol=1e-12)
        for qid, p in answers.items():
            assert_allclose(pick(result.questions[qid]), p, rtol=0, atol=1e-12, err_msg=qid)


@pytest.mark.parametrize("point", range(3))
def test_a_duration_hazard_equals_enumeration(scenario, point) -> None:
    _equals_enumeration(scenario, list(_points(scenario))[point])


@pytest.fixture(scope="module")
def scheduled():
    return forecast.load_scenario(SCHEDULED)


def test_a_scheduled_event_stays_until_its_step(scheduled) -> None:
    rules = {r.name: r for n in scheduled.nodes for r in n.rules}
    assert rules["vote:pending"].destinations == () and rules["vote:pending"].months_in_state == (
        1,
        2,
    )
    assert rules["vote:pending@3"].destinations == ("won", "lost")
    assert rules["vote:pending@3"].is_free
    assert not rules["vote:won@2"].is_free
    assert list(rules["vote:won@2"].fixed_outcome) == [0.0, 1.0]
    assert [r.name for r in scheduled.rules if r.node == "vote"] == ["vote:pending@3"]


def test_the_joint_holds_only_the_months_a_rule_tells_apart(scheduled) -> None:
    """vote counts to 3 for pending (its step is at after 3) but only to 2 for won and not
    at all for the absorbing lost and seated: the engine never holds those counts."""
    from forecast.engine.slots import entry_pairs

    engine = ExactEngine(scheduled)
    vote = scheduled.node("vote")
    assert vote.state_duration_caps == (3, 2, 1, 1)
    lowered = engine.lowered
    months = scheduled.timeline.n_steps
    pairs = entry_pairs(
        lowered, np.ones((months, int(lowered.state_start[-1]))), engine.initial_flat
    )
    held = set()
    for entry in pairs.slot_entry:  # the joint is (vote, push) in C order
        vote_entry = int(entry) // engine.layout[1].shape[-1]
        held.add(divmod(vote_entry, vote.duration_cap))
    assert held == {(0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (3, 0)}


@pytest.mark.parametrize("point", range(3))
def test_a_scheduled_event_equals_enumeration(scheduled, point) -> None:
    _equals_enumeration(scheduled, list(_points(scheduled))[point])


def test_the_winner_is_seated_on_the_date_and_not_before(scheduled) -> None:
    """Pending for 2 months at the start: no count in January, the count in February (its
    third month), and a winner seated exactly two months after the win, never earlier."""
    engine = ExactEngine(scheduled)
    means = elicit(scheduled).means()
    result = engine.run(means, engine.evidence())
    vote = dict(zip(scheduled.node("vote").states, result.marginals["vote"].T, strict=True))
    count = dict(zip(("stay", "won", "lost"), means[0], strict=True))
    assert_allclose(vote["pending"][0], 1.0, atol=1e-12)
    assert_allclose([vote["won"][1], vote["lost"][1]], [count["won"], count["lost"]], atol=1e-12)
    assert_allclose(vote["seated"][:3], 0.0, atol=0)
    assert_allclose(vote["seated"][3], vote["won"][1], atol=1e-12)
    late = count["stay"] * count["won"]
    assert_allclose(vote["seated"][4], vote["won"][1] + late, atol=1e-12)


def test_forcing_a_counted_node_equals_enumeration(scenario) -> None:
    params = elicit(scenario).means()
    forced = ("hold", "held", (1, 2))
    _, marginals, answers = enumerate_paths(scenario, params, evidence=(), forced=forced)
    engine = ExactEngine(scenario)
    override = forced_state(scenario, "hold", "held", [1, 2])
    result = engine.run_draws([p[None] for p in params], None, overrides=[override])
    for name, marginal in marginals.items():
        assert_allclose(result.marginals[name][0], marginal, rtol=0, atol=1e-12, err_msg=name)
    for qid, p in answers.items():
        assert_allclose(result.questions[qid][0], p, rtol=0, atol=1e-12, err_msg=qid)


def test_holding_longer_raises_the_hazard(scenario) -> None:
    params = elicit(scenario).means()
    by_name = dict(zip((r.name for r in scenario.rules), params, strict=True))
    stays = [by_name[r][0] for r in ("hold:held", "hold:held@2", "hold:held@4")]
    assert stays[0] > stays[1] > stays[2]


def test_a_step_and_its_rule_are_edited_and_saved_together(tmp_path) -> None:
    """A step shares its rule's entry of the file: both edits land in it, nothing else moves."""
    import shutil

    path = tmp_path / PATH.name
    shutil.copy(PATH, path)
    model = forecast.ScenarioModel.from_file(path)
    edited = model.with_judgement("hold:held@2", "lost", best=0.3, interval=(0.15, 0.5))
    edited = edited.with_judgement("hold:held", "lost", best=0.05, interval=(0.01, 0.2))
    assert set(edited.edits) == {"hold:held@2", "hold:held"}
    before = path.read_text(encoding="utf-8").splitlines()
    edited.save_in_place()
    after = path.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 2, changed
    reloaded = forecast.load_scenario(path)
    judged = {
        r.name: r.judgements["lost"] for r in reloaded.rules if r.name.startswith("hold:held")
    }
    assert (judged["hold:held"].best, judged["hold:held@2"].best, judged["hold:held@4"].best) == (
        0.05,
        0.3,
        0.5,
    )


def test_the_kursk_election_is_counted_in_november_and_sworn_in_in_january(kursk) -> None:
    """Month 0 is September 2024: no winner before November (month 2), and Trump in office
    from January 2025 (month 4) exactly as often as he won in November, never before."""
    engine = ExactEngine(kursk)
    params = elicit(kursk).means()
    result = engine.run(params, engine.evidence(dt.date(2024, 9, 30)))
    states = kursk.node("us_president").states
    president = dict(zip(states, result.marginals["us_president"].T, strict=True))
    assert_allclose(president["undecided"][:2], 1.0, atol=1e-12)
    won = president["trump_elect"][2]
    assert 0.3 < won < 0.7
    assert_allclose(president["trump_in_office"][:4], 0.0, atol=0)
    assert_allclose(president["trump_in_office"][4], won, atol=1e-12)
    # a contested count that runs past November leaves a little mass for December, whose
    # winner waits a month longer
    late = president["undecided"][2]
    assert 0 < late < 0.1
    assert won < president["trump_elect"][3] <= won + late
    assert_allclose(president["trump_in_office"][5], president["trump_elect"][3], atol=1e-12)
