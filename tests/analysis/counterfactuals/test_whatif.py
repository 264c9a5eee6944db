"""What-if scenarios: do() against observe(), by hand, by brute force and on the engines."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
import yaml
from numpy.testing import assert_allclose

import forecast
from forecast.analysis.counterfactuals.whatif import (
    Intervention,
    Observation,
    case_draws,
    curve_questions,
    weighted_summary,
    what_if,
    what_if_table,
)
from forecast.analysis.summaries.outcomes import rule_parameters
from forecast.engine.exact import ExactEngine, TableOverride, evidence_matrices, forced_state
from forecast.engine.synthetic import random_scenario
from forecast.plots.whatif import plot_what_if
from forecast.scenario.validated import EvidenceItem, Scenario
from tests.engine.brute_force import node_move, question_indicator
from tests.engine.test_exact_vs_brute_force import extra_questions

ATOL = 1e-12

# a -> b one month later; b = yes is absorbing. Rules: a:no a no->yes (p), a:yes a yes->no (q),
# b:no[a=yes] b no->yes given a=yes (r1), b:no[a=no] b no->yes given a=no (r0); all within one
# month.
CHAIN = """
id: chain_do
title: Two-node chain for do() by hand
source: {citation: "Test fixture"}
author: tests
priors_set_on: 2024-01-01
start: 2024-01
horizon: 2024-04
nodes:
  a:
    description: the cause
    initial: no
    transitions:
      - {from: no, to: {yes: {beta: [2, 8]}}, within_months: 1, rationale: r}
      - {from: yes, to: {no: {beta: [3, 7]}}, within_months: 1, rationale: r}
  b:
    description: the effect, one month later
    parents: {a: 1}
    initial: no
    absorbing: [yes]
    transitions:
      - {from: no, given: {a: yes}, to: {yes: {beta: [5, 5]}}, within_months: 1, rationale: r}
      - {from: no, given: {a: no}, to: {yes: {beta: [1, 9]}}, within_months: 1, rationale: r}
outcomes:
  - {id: b_yes, label: b has happened, node: b, state: yes, kind: reached}
  - {id: a_yes, label: a is yes, node: a, state: yes, kind: in_state}
"""
P, Q, R1, R0 = 0.2, 0.3, 0.5, 0.1

# One month (an ordinary Bayesian network): c -> a, c -> b, a -> b, all in the same month.
CONFOUNDED = """
id: confounded
title: A cause of both the treated node and the outcome
source: {citation: "Test fixture"}
author: tests
priors_set_on: 2024-01-01
start: 2024-01
horizon: 2024-01
nodes:
  c:
    description: the common cause
    initial: no
    absorbing: [yes]
    transitions:
      - {from: no, to: {yes: {beta: [3, 7]}}, within_months: 1, rationale: r}
  a:
    description: the node set or seen
    parents: {c: 0}
    initial: no
    absorbing: [yes]
    transitions:
      - {from: no, given: {c: no}, to: {yes: {beta: [2, 8]}}, within_months: 1, rationale: r}
      - {from: no, given: {c: yes}, to: {yes: {beta: [8, 2]}}, within_months: 1, rationale: r}
  b:
    description: the outcome
    parents: {a: 0, c: 0}
    initial: no
    absorbing: [yes]
    transitions:
      - {from: no, given: {a: no, c: no}, to: {yes: {beta: [1, 9]}}, within_months: 1,
         rationale: r}
      - {from: no, given: {a: no, c: yes}, to: {yes: {beta: [5, 5]}}, within_months: 1,
         rationale: r}
      - {from: no, given: {a: yes, c: no}, to: {yes: {beta: [4, 6]}}, within_months: 1,
         rationale: r}
      - {from: no, given: {a: yes, c: yes}, to: {yes: {beta: [9, 1]}}, within_months: 1,
         rationale: r}
outcomes:
  - {id: b_yes, label: b is yes, node: b, state: yes, kind: in_state}
  - {id: c_yes, label: c is yes, node: c, state: yes, kind: in_state}
"""
GAMMA, ALPHA, BETA = (
    0.3,
    {"no": 0.2, "yes": 0.8},
    {("no", "no"): 0.1, ("no", "yes"): 0.5, ("yes", "no"): 0.4, ("yes", "yes"): 0.9},
)


def load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return forecast.load_scenario(path)


def point_fit(draws: dict[str, list[float]], as_of: dt.date | None = None) -> az.InferenceData:
    """A 'fit' whose posterior holds the given draws of each rule's move probability."""
    post = xr.Dataset(
        {
            name: (("chain", "draw"), np.asarray(values, dtype=float)[None, :])
            for name, values in draws.items()
        }
    )
    post.attrs["as_of"] = as_of.isoformat() if as_of else "all evidence"
    return az.InferenceData(posterior=post)


def chain_fit(p=(P,), q=(Q,), r1=(R1,), r0=(R0,)) -> az.InferenceData:
    return point_fit(
        {"a:no": list(p), "a:yes": list(q), "b:no[a=yes]": list(r1), "b:no[a=no]": list(r0)}
    )


def curve(result, contrast: str, case: str, outcome: str, column: str = "mean") -> np.ndarray:
    c = result.curves
    rows = c[(c["contrast"] == contrast) & (c["case"] == case) & (c["outcome"] == outcome)]
    return rows[column].to_numpy()


# -------------------------------------------------------------------- hand computations


def chain_by_hand(p: float, q: float, r1: float, r0: float) -> dict[str, np.ndarray]:
    """b's 'reached yes' curve and a's marginal by month for the chain, worked out by hand.

    Month -1 (initial) has a = b = no; b at month t moves with a at month t - 1.
    ``u[a]`` is P(a_t = a, b no in every month so far).
    """
    stay = {"no": 1 - r0, "yes": 1 - r1}
    move = {"no": {"no": 1 - p, "yes": p}, "yes": {"no": q, "yes": 1 - q}}
    # baseline: a is a Markov chain
    u = {"no": stay["no"] * (1 - p), "yes": stay["no"] * p}  # month 0: b used a_-1 = no
    base = [1 - sum(u.values())]
    for _ in range(3):
        u = {new: sum(u[old] * stay[old] * move[old][new] for old in u) for new in u}
        base.append(1 - sum(u.values()))
    # do(a = yes from month 1): a_0 is natural, a_1 = a_2 = a_3 = yes
    none0 = 1 - r0
    none1 = none0 * ((1 - p) * (1 - r0) + p * (1 - r1))
    do = [1 - none0, 1 - none1, 1 - none1 * (1 - r1), 1 - none1 * (1 - r1) ** 2]
    # observe(a = yes from month 1): a_0 is updated by a_1 = yes (Bayes), b does not feed a
    a0_yes = p * (1 - q) / (p * (1 - q) + (1 - p) * p)
    seen1 = none0 * ((1 - a0_yes) * (1 - r0) + a0_yes * (1 - r1))
    observe = [1 - none0, 1 - seen1, 1 - seen1 * (1 - r1), 1 - seen1 * (1 - r1) ** 2]
    a_base = [p]
    for _ in range(3):
        a_base.append(a_base[-1] * (1 - q) + (1 - a_base[-1]) * p)
    return {
        "base": np.array(base),
        "do": np.array(do),
        "observe": np.array(observe),
        "a_base": np.array(a_base),
        "a0_observe": a0_yes,
        # P(a_1 = a_2 = a_3 = yes): the observation's likelihood
        "likelihood": (p * (1 - q) + (1 - p) * p) * (1 - q) ** 2,
    }


def test_chain_do_matches_hand_computation(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    result = what_if(chain_fit(), scenario, {"a set": Intervention("a", "yes", "2024-02")})
    hand = chain_by_hand(P, Q, R1, R0)
    assert_allclose(curve(result, "a set", "baseline", "b_yes"), hand["base"], atol=ATOL)
    assert_allclose(curve(result, "a set", "do", "b_yes"), hand["do"], atol=ATOL)
    assert_allclose(curve(result, "a set", "observe", "b_yes"), hand["observe"], atol=ATOL)
    # the numbers themselves, so that a slip in the formulas above cannot hide
    assert_allclose(hand["do"], [0.1, 0.262, 0.631, 0.8155], atol=1e-12)
    assert_allclose(hand["base"], [0.1, 0.262, 0.41284, 0.5377888], atol=1e-12)
    # a itself: natural in month 0, forced afterwards; seen yes from month 1, its month-0
    # state (the cause of both a_1 and b_1) is updated by the observation, not by do()
    assert_allclose(curve(result, "a set", "do", "a_yes"), [P, 1, 1, 1], atol=ATOL)
    assert_allclose(curve(result, "a set", "baseline", "a_yes"), hand["a_base"], atol=ATOL)
    assert_allclose(
        curve(result, "a set", "observe", "a_yes"), [hand["a0_observe"], 1, 1, 1], atol=ATOL
    )
    # one draw: bands collapse on the mean; no re-weighting to speak of
    for case in ("baseline", "do", "observe"):
        for column in ("low50", "high50", "low90", "high90"):
            assert_allclose(
                curve(result, "a set", case, "b_yes", column),
                curve(result, "a set", case, "b_yes"),
                atol=ATOL,
            )
    assert result.ess["ess"].tolist() == [1.0, 1.0, 1.0]


def test_chain_do_until_releases_the_node(tmp_path) -> None:
    """do(a = yes) in month 1 only: from month 2 on a follows its own rule again."""
    scenario = load(tmp_path, CHAIN)
    result = what_if(
        chain_fit(), scenario, {"one month": Intervention("a", "yes", "2024-02", until="2024-02")}
    )
    a = curve(result, "one month", "do", "a_yes")
    assert_allclose(a, [P, 1, 1 - Q, (1 - Q) ** 2 + Q * P], atol=ATOL)


def test_do_and_observe_differ_with_a_confounder(tmp_path) -> None:
    scenario = load(tmp_path, CONFOUNDED)
    names = {"c:no": GAMMA, "a:no[c=no]": ALPHA["no"], "a:no[c=yes]": ALPHA["yes"]}
    names |= {f"b:no[a={a},c={c}]": BETA[a, c] for a, c in BETA}
    fit = point_fit({k: [v] for k, v in names.items()})
    result = what_if(fit, scenario, {"a": Intervention("a", "yes", "2024-01")})
    # do: the arrow c -> a is cut, c keeps its own distribution
    do_b = (1 - GAMMA) * BETA["yes", "no"] + GAMMA * BETA["yes", "yes"]
    # observe: seeing a = yes makes its cause c = yes more likely, which raises b too
    c_seen = GAMMA * ALPHA["yes"] / (GAMMA * ALPHA["yes"] + (1 - GAMMA) * ALPHA["no"])
    seen_b = (1 - c_seen) * BETA["yes", "no"] + c_seen * BETA["yes", "yes"]
    base_b = sum(
        (GAMMA if c == "yes" else 1 - GAMMA)
        * (ALPHA[c] if a == "yes" else 1 - ALPHA[c])
        * BETA[a, c]
        for a, c in itertools.product(("no", "yes"), repeat=2)
    )
    assert_allclose(
        [do_b, seen_b, c_seen], [0.55, 0.7157894736842105, 0.631578947368421], atol=1e-12
    )
    assert_allclose(curve(result, "a", "do", "b_yes"), [do_b], atol=ATOL)
    assert_allclose(curve(result, "a", "observe", "b_yes"), [seen_b], atol=ATOL)
    assert_allclose(curve(result, "a", "baseline", "b_yes"), [base_b], atol=ATOL)
    # the ancestor c: unchanged by do(), changed by observe()
    assert_allclose(curve(result, "a", "do", "c_yes"), [GAMMA], atol=ATOL)
    assert_allclose(curve(result, "a", "baseline", "c_yes"), [GAMMA], atol=ATOL)
    assert_allclose(curve(result, "a", "observe", "c_yes"), [c_seen], atol=ATOL)
    table = what_if_table(result)
    assert table.loc[("a", "b is yes"), "do - observe"] == round(do_b - seen_b, 2)


def test_observation_reweights_draws(tmp_path) -> None:
    """Two draws of a's hazard: the observation's likelihood re-weights them."""
    scenario = load(tmp_path, CHAIN)
    ps = (0.2, 0.5)
    fit = chain_fit(p=ps, q=(Q, Q), r1=(R1, R1), r0=(R0, R0))
    result = what_if(fit, scenario, {"a set": Intervention("a", "yes", "2024-02")})
    hands = [chain_by_hand(p, Q, R1, R0) for p in ps]
    likelihood = np.array([h["likelihood"] for h in hands])
    assert_allclose(likelihood, [0.147, 0.294], atol=1e-12)
    w = likelihood / likelihood.sum()  # 1/3, 2/3
    assert_allclose(result.weights["a set", "observe"], w, atol=ATOL)
    assert_allclose(result.weights["a set", "do"], [0.5, 0.5], atol=0)
    ess = result.ess.set_index("case")["ess"]
    assert ess["observe"] == pytest.approx(1 / np.sum(w**2)) == pytest.approx(1.8)
    assert ess["do"] == ess["baseline"] == 2
    observe = sum(wi * h["observe"] for wi, h in zip(w, hands, strict=True))
    do = np.mean([h["do"] for h in hands], axis=0)
    assert_allclose(curve(result, "a set", "observe", "b_yes"), observe, atol=ATOL)
    assert_allclose(curve(result, "a set", "do", "b_yes"), do, atol=ATOL)
    # re-weighting moves the mean towards the draw that makes the observation likelier; the
    # unweighted mean of the per-draw conditionals would be wrong
    unweighted = np.mean([h["observe"] for h in hands], axis=0)
    assert abs(curve(result, "a set", "observe", "b_yes")[1] - unweighted[1]) > 1e-3
    # weighted quantiles: the lower draw holds 1/3 of the mass, so the draws sit at cumulative
    # midpoints 1/6 and 2/3; the 25% quantile interpolates, the 75% one is the upper draw
    low, high = sorted(h["observe"][1] for h in hands)
    assert curve(result, "a set", "observe", "b_yes", "low50")[1] == pytest.approx(
        low + (0.25 - 1 / 6) / (2 / 3 - 1 / 6) * (high - low)
    )
    assert curve(result, "a set", "observe", "b_yes", "high50")[1] == pytest.approx(high)


# -------------------------------------------------------------------- brute force


def transition_with(
    scenario: Scenario, params: list[np.ndarray], forced: dict[str, int]
) -> np.ndarray:
    """Dense joint transition matrix with the forced nodes' factors replaced by indicators.

    Mirrors :func:`tests.engine.brute_force.joint_transition` (independent of the engine).
    """
    by_name = {
        r.name: np.asarray(p, dtype=float) for r, p in zip(scenario.rules, params, strict=True)
    }
    nodes = scenario.nodes
    joint = list(itertools.product(*(range(n.n_states) for n in nodes)))
    pos = {n.name: i for i, n in enumerate(nodes)}
    out = np.zeros((len(joint), len(joint)))
    for a, x in enumerate(joint):
        for b, y in enumerate(joint):
            prob = 1.0
            for i, node in enumerate(nodes):
                if node.name in forced:
                    prob *= float(y[i] == forced[node.name])
                    continue
                parents = {
                    p: nodes[pos[p]].states[y[pos[p]] if lag == 0 else x[pos[p]]]
                    for p, lag in node.parents
                }
                prob *= node_move(scenario, by_name, node, x[i], parents)[y[i]]
            out[a, b] = prob
    return out


def brute_force_do(
    scenario: Scenario,
    params: list[np.ndarray],
    items,
    questions,
    forced_by_month: list[dict[str, int]],
):
    """Every joint trajectory, month t moved by the transition with that month's forcing."""
    nodes = scenario.nodes
    steps = scenario.timeline.n_steps
    joint = np.array(list(itertools.product(*(range(n.n_states) for n in nodes))))
    n_joint = len(joint)
    init = np.array([math.prod(float(n.initial[x[i]]) for i, n in enumerate(nodes)) for x in joint])
    moves = [transition_with(scenario, params, f) for f in forced_by_month]
    ev = np.ones((steps, n_joint))
    for item in items:
        i = scenario.node_index[item.node]
        ok = np.array([nodes[i].states[x[i]] in item.states for x in joint])
        ev[scenario.timeline.step_of(item.date)] *= ok
    traj = np.indices((n_joint,) * steps).reshape(steps, -1).T
    weight = (init @ moves[0])[traj[:, 0]] * ev[0, traj[:, 0]]
    for t in range(1, steps):
        weight = weight * moves[t][traj[:, t - 1], traj[:, t]] * ev[t, traj[:, t]]
    total = weight.sum()
    if total == 0:
        return total, {}, {}
    post = weight / total
    states = joint[traj]
    marginals = {
        n.name: np.array(
            [np.bincount(states[:, t, i], weights=post, minlength=n.n_states) for t in range(steps)]
        )
        for i, n in enumerate(nodes)
    }
    answers = {q.id: float(post[question_indicator(scenario, q, states)].sum()) for q in questions}
    return total, marginals, answers


def seen(scenario: Scenario, node: str, state: str, months) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            node=node,
            date=scenario.timeline.month_end_date(t),
            known_on=scenario.timeline.month_end_date(t),
            states=(state,),
            source="test",
            origin="test",
        )
        for t in months
    ]


@pytest.mark.parametrize("seed", range(6))
def test_random_scenario_do_and_observe_match_brute_force(tmp_path, seed) -> None:
    rng = np.random.default_rng(300 + seed)
    scenario = random_scenario(
        rng, folder=tmp_path, n_nodes=3, max_states=3, n_months=3, evidence_rate=0.15
    )
    engine = ExactEngine(scenario)
    steps = scenario.timeline.n_steps
    draws = 3
    params = [rng.dirichlet(np.ones(len(r.destinations) + 1), size=draws) for r in scenario.rules]
    first = int(rng.integers(1, steps))
    months = range(first, steps)
    # evidence only before the intervention (the forecast's vantage point)
    items = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) < first]
    evidence = evidence_matrices(scenario, items)
    # a node and state, at random among those whose observation is possible (brute force)
    candidates = [(n, s) for n in scenario.nodes for s in n.states]
    no_force = [{} for _ in range(steps)]
    for k in rng.permutation(len(candidates)):
        node, state = candidates[k]
        if all(
            brute_force_do(
                scenario,
                [p[d] for p in params],
                items + seen(scenario, node.name, state, months),
                (),
                no_force,
            )[0]
            > 0
            for d in range(draws)
        ):
            break
    intervention = Intervention(node.name, state, scenario.timeline.labels[first])
    assert list(intervention.months(scenario)) == list(months)
    questions = scenario.questions + extra_questions(scenario, rng)
    forced = [{node.name: node.state_index(state)} if t >= first else {} for t in range(steps)]
    do = case_draws(engine, params, evidence, [intervention], questions=questions)
    numpy_do = engine.run(
        params, evidence, questions=questions, overrides=[intervention.override(scenario)]
    )
    observation = Observation.of(intervention)
    base = case_draws(engine, params, evidence, questions=questions)
    observe = case_draws(engine, params, evidence, observations=[observation], questions=questions)
    likelihoods = []
    for d in range(draws):
        one = [p[d] for p in params]
        total, marginals, answers = brute_force_do(scenario, one, items, questions, forced)
        for name, m in marginals.items():
            assert_allclose(do.result.marginals[name][d], m, atol=ATOL, err_msg=name)
            assert_allclose(numpy_do.marginals[name][d], m, atol=ATOL, err_msg=name)
        for qid, prob in answers.items():
            assert_allclose(do.result.questions[qid][d], prob, atol=ATOL, err_msg=qid)
            assert_allclose(numpy_do.questions[qid][d], prob, atol=ATOL, err_msg=qid)
        assert_allclose(do.result.loglik[d], math.log(total), atol=ATOL)
        # observe: evidence plus the observation, in the natural world
        total_base, _, _ = brute_force_do(scenario, one, items, questions, no_force)
        total_seen, marginals, answers = brute_force_do(
            scenario, one, items + seen(scenario, node.name, state, months), questions, no_force
        )
        for name, m in marginals.items():
            assert_allclose(observe.result.marginals[name][d], m, atol=ATOL, err_msg=name)
        likelihoods.append(total_seen / total_base)
        # before the intervention, do() leaves every node's marginals as they were
        for name in marginals:
            assert_allclose(
                do.result.marginals[name][d][:first],
                base.result.marginals[name][d][:first],
                atol=ATOL,
            )
    assert_allclose(observe.weights, np.array(likelihoods) / sum(likelihoods), atol=ATOL)
    assert_allclose(np.exp(observe.log_weights), likelihoods, rtol=1e-10)


# -------------------------------------------------------------------- the engines


@pytest.mark.parametrize("seed", range(4))
def test_curve_questions_by_compiled_pass_equal_numpy(tmp_path, seed) -> None:
    """The compiled pass re-uses one masked pass for a curve; numpy runs one per month."""
    rng = np.random.default_rng(400 + seed)
    scenario = random_scenario(rng, folder=tmp_path, n_nodes=4, max_states=3, n_months=8)
    outcomes = [
        {"id": f"o{i}", "label": f"o{i}", "node": n.name, "state": n.states[-1], "kind": "reached"}
        for i, n in enumerate(scenario.nodes)
    ]
    spec = yaml.safe_load(Path(scenario.path).read_text()) | {"outcomes": outcomes}
    path = tmp_path / "with_outcomes.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    scenario = forecast.load_scenario(path)
    engine = ExactEngine(scenario)
    questions = curve_questions(scenario)
    params = [rng.dirichlet(np.ones(len(r.destinations) + 1), size=3) for r in scenario.rules]
    override = forced_state(
        scenario, scenario.nodes[0].name, scenario.nodes[0].states[0], range(3, 6)
    )
    # the evidence before the override, which it cannot contradict
    evidence = evidence_matrices(
        scenario, [e for e in scenario.evidence if scenario.timeline.step_of(e.date) < 3]
    )
    for overrides in ([], [override]):
        compiled = engine.run_draws(params, evidence, questions=questions, overrides=overrides)
        plain = engine.run(params, evidence, questions=questions, overrides=overrides)
        assert np.all(np.isfinite(compiled.loglik))
        assert_allclose(compiled.loglik, plain.loglik, atol=ATOL)
        assert_allclose(
            engine.loglik(params, evidence, overrides=overrides), plain.loglik, atol=ATOL
        )
        for q in questions:
            assert_allclose(
                compiled.questions[q.id], plain.questions[q.id], atol=ATOL, err_msg=q.id
            )


def test_overrides_are_checked(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    engine = ExactEngine(scenario)
    params = [np.array([0.5, 0.5])] * len(scenario.rules)
    good = forced_state(scenario, "b", "yes", [2])
    assert good.node == 1 and good.table.shape == (2, 2, 2)
    assert_allclose(good.table[..., 1], 1.0)
    assert_allclose(good.table[..., 0], 0.0)
    with pytest.raises(ValueError, match="outside the timeline"):
        engine.run(params, overrides=[forced_state(scenario, "a", "yes", [4])])
    with pytest.raises(ValueError, match="two overrides"):
        engine.run_draws([p[None] for p in params], overrides=[good, good])
    with pytest.raises(ValueError, match="shaped"):
        engine.run(params, overrides=[TableOverride(0, (1,), np.ones((2, 2, 2)))])
    with pytest.raises(ValueError, match="no state"):
        forced_state(scenario, "a", "maybe", [1])
    # no override: the default path is untouched
    assert_allclose(engine.run(params, overrides=[]).norms, engine.run(params).norms, atol=0)


def test_settings_are_validated(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    assert list(Intervention("a", "yes", "2024-02", "2024-03").months(scenario)) == [1, 2]
    assert list(Observation("a", "yes", dt.date(2024, 3, 10)).months(scenario)) == [2, 3]
    assert Intervention("a", "yes", "2024-02").describe() == "do(a = yes, 2024-02 on)"
    assert Observation("a", "no", "2024-02", "2024-03").describe() == (
        "observe(a = no, 2024-02 to 2024-03)"
    )
    for bad, match in (
        (Intervention("z", "yes", "2024-02"), "unknown node"),
        (Intervention("a", "maybe", "2024-02"), "no state"),
        (Intervention("a", "yes", "2025-02"), "outside the timeline"),
        (Intervention("a", "yes", "2024-03", "2024-02"), "before"),
    ):
        with pytest.raises(ValueError, match=match):
            bad.months(scenario)


def test_impossible_cases_raise(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    engine = ExactEngine(scenario)
    params = [np.array([[0.5, 0.5]])] * len(scenario.rules)
    # b = yes is absorbing: seeing it and then seeing it no is impossible
    evidence = Observation("b", "yes", "2024-02", "2024-02").apply(
        scenario, evidence_matrices(scenario, ())
    )
    with pytest.raises(ValueError, match="impossible under every draw"):
        case_draws(engine, params, evidence, observations=[Observation("b", "no", "2024-03")])
    # forcing a state the evidence contradicts
    with pytest.raises(ValueError, match="evidence is impossible"):
        case_draws(engine, params, evidence, [Intervention("b", "no", "2024-02")])


def test_late_evidence_is_reported(tmp_path, caplog) -> None:
    text = (
        CHAIN + "evidence:\n  observations:\n    - {node: a, date: 2024-03-15, state: yes, "
        "source: s}\n"
    )
    scenario = load(tmp_path, text)
    with caplog.at_level("WARNING", logger="forecast.analysis.counterfactuals.whatif"):
        what_if(chain_fit(), scenario, {"late": Intervention("b", "yes", "2024-02")})
    assert "1 evidence item(s) dated from 2024-02 on" in caplog.text


# -------------------------------------------------------------------- helpers and the figure


def test_weighted_summary_bands_are_weighted_hazen_quantiles() -> None:
    prob = np.array([[0.1], [0.2], [0.3], [0.4]])
    plain = weighted_summary(prob, bands=(0.5,))
    assert_allclose(plain["mean"], [0.25])
    # draws at cumulative midpoints 1/8, 3/8, 5/8, 7/8: the 25% and 75% quantiles interpolate
    assert_allclose([plain["low50"], plain["high50"]], [[0.15], [0.35]])
    weighted = weighted_summary(prob, np.array([0.0, 0.0, 0.5, 0.5]), bands=(0.9,))
    assert_allclose(weighted["mean"], [0.35])
    assert_allclose([weighted["low90"], weighted["high90"]], [[0.3], [0.4]])


def test_what_if_table_and_figure(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    fit = chain_fit(p=(0.2, 0.5), q=(Q, Q), r1=(R1, R1), r0=(R0, R0))
    contrasts = {
        "a set": Intervention("a", "yes", "2024-02"),
        "b set": Intervention("b", "yes", "2024-03", "2024-03"),
    }
    result = what_if(fit, scenario, contrasts, outcomes=["b_yes"])
    assert result.outcomes == ["b_yes"]
    assert set(result.curves["case"]) == {"baseline", "do", "observe"}
    table = what_if_table(result, "2024-02")
    assert list(table.columns) == ["baseline", "do", "observe", "do - observe", "observe ESS"]
    assert table.loc[("a set", "b has happened"), "do"] == round(
        float(curve(result, "a set", "do", "b_yes")[1]), 2
    )
    assert table.loc[("b set", "b has happened"), "observe ESS"] == round(
        float(result.ess.set_index(["contrast", "case"]).loc[("b set", "observe"), "ess"])
    )
    with pytest.raises(ValueError, match="not on the timeline"):
        what_if_table(result, "2030-01")
    with pytest.raises(ValueError, match="not in the result"):
        what_if_table(result, outcomes=["a_yes"])
    both = what_if(fit, scenario, contrasts)
    picked = what_if_table(both, outcomes=["a_yes", "b_yes"])
    assert list(picked.index) == [(c, o) for c in contrasts for o in ("a is yes", "b has happened")]
    assert picked.loc[("b set", "a is yes"), "do"] == round(
        float(curve(both, "b set", "do", "a_yes")[-1]), 2
    )
    fig = plot_what_if(result, scenario, title="test")
    axes = fig.axes
    assert len(axes) == 2
    assert axes[0].get_title().startswith("a set\na = yes, 2024-02 on\nobserve: ESS")
    # three means, three 50% bands, two 90% band edges each, window shaded in each panel
    assert len(axes[0].lines) == 3 * 3
    assert len(axes[1].collections) >= 3
    assert axes[0].get_ylim()[1] == axes[1].get_ylim()[1]
    with pytest.raises(ValueError, match="not in the result"):
        plot_what_if(result, scenario, outcomes=["a_yes"])
    plt.close(fig)


# -------------------------------------------------------------------- combined contrasts


@pytest.mark.parametrize("seed", range(4))
def test_combined_contrast_matches_brute_force(tmp_path, seed) -> None:
    """Two nodes forced together (do) or seen together (observe), against every trajectory."""
    rng = np.random.default_rng(700 + seed)
    scenario = random_scenario(
        rng, folder=tmp_path, n_nodes=3, max_states=3, n_months=3, evidence_rate=0.0
    )
    steps = scenario.timeline.n_steps
    draws = 3
    params = [rng.dirichlet(np.ones(len(r.destinations) + 1), size=draws) for r in scenario.rules]
    first_node, second_node = rng.choice(len(scenario.nodes), size=2, replace=False)
    settings = []
    for index, start in ((first_node, 1), (second_node, int(rng.integers(0, steps)))):
        node = scenario.nodes[index]
        settings.append(
            Intervention(
                node.name,
                node.states[int(rng.integers(node.n_states))],
                scenario.timeline.labels[start],
            )
        )
    forced = [
        {
            i.node: scenario.node(i.node).state_index(i.state)
            for i in settings
            if t in i.months(scenario)
        }
        for t in range(steps)
    ]
    items = [item for i in settings for item in seen(scenario, i.node, i.state, i.months(scenario))]
    no_force = [{} for _ in range(steps)]
    possible = [
        brute_force_do(scenario, [p[d] for p in params], items, (), no_force)[0] > 0
        for d in range(draws)
    ]
    engine = ExactEngine(scenario)
    questions = scenario.questions + extra_questions(scenario, rng)
    evidence = evidence_matrices(scenario, ())
    do = case_draws(engine, params, evidence, settings, questions=questions)
    if not any(possible):
        with pytest.raises(ValueError, match="impossible under every draw"):
            case_draws(
                engine,
                params,
                evidence,
                observations=[Observation.of(i) for i in settings],
                questions=questions,
            )
    else:
        observe = case_draws(
            engine,
            params,
            evidence,
            observations=[Observation.of(i) for i in settings],
            questions=questions,
        )
    likelihoods = []
    for d in range(draws):
        one = [p[d] for p in params]
        _, marginals, answers = brute_force_do(scenario, one, (), questions, forced)
        for name, m in marginals.items():
            assert_allclose(do.result.marginals[name][d], m, atol=ATOL, err_msg=name)
        for qid, prob in answers.items():
            assert_allclose(do.result.questions[qid][d], prob, atol=ATOL, err_msg=qid)
        total, marginals, _ = brute_force_do(scenario, one, items, questions, no_force)
        likelihoods.append(total)
        if possible[d]:
            for name, m in marginals.items():
                assert_allclose(observe.result.marginals[name][d], m, atol=ATOL, err_msg=name)
    if any(possible):
        assert_allclose(observe.weights, np.array(likelihoods) / sum(likelihoods), atol=ATOL)


def test_what_if_takes_several_interventions_per_contrast(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    fit = chain_fit(p=(0.2, 0.5), q=(Q, Q), r1=(R1, R1), r0=(R0, R0))
    pair = [Intervention("a", "yes", "2024-02", "2024-02"), Intervention("b", "yes", "2024-04")]
    result = what_if(fit, scenario, {"both": pair, "a only": pair[0]})
    assert result.contrasts == {"both": tuple(pair), "a only": (pair[0],)}
    settings = result.curves.set_index(["contrast", "case"])["setting"]
    assert settings.loc[("both", "do")].iloc[0] == (
        "do(a = yes, 2024-02 to 2024-02) and do(b = yes, 2024-04 on)"
    )
    assert settings.loc[("both", "observe")].iloc[0].count("observe(") == 2
    # b is forced to yes in the last month; before it the pair acts as a alone
    both = curve(result, "both", "do", "b_yes")
    alone = curve(result, "a only", "do", "b_yes")
    assert_allclose(both[:3], alone[:3], atol=ATOL)
    assert_allclose(both[3], 1.0, atol=ATOL)
    # seeing both: the draws are re-weighted by the joint likelihood of the two observations
    engine = ExactEngine(scenario)
    params = rule_parameters(fit, scenario, "posterior")
    evidence = evidence_matrices(scenario, ())
    seen_both = case_draws(engine, params, evidence, observations=[Observation.of(i) for i in pair])
    assert_allclose(result.weights["both", "observe"], seen_both.weights, atol=ATOL)
    fig = plot_what_if(result, scenario)
    assert (
        fig.axes[0]
        .get_title()
        .startswith("both\na = yes, 2024-02 to 2024-02\nb = yes, 2024-04 on\nobserve: ESS")
    )
    plt.close(fig)


def test_contrasts_are_checked(tmp_path) -> None:
    scenario = load(tmp_path, CHAIN)
    fit = chain_fit()
    early = Intervention("a", "yes", "2024-02", "2024-03")
    for contrast, match in (
        ([], "no intervention"),
        ([early, "a = yes"], "is not an Intervention"),
        ([early, Intervention("a", "no", "2024-03")], "both force 'a' in 2024-03"),
    ):
        with pytest.raises(ValueError, match=match):
            what_if(fit, scenario, {"bad": contrast})
    # the same node in months that do not overlap is one contrast
    result = what_if(fit, scenario, {"a yes then no": [early, Intervention("a", "no", "2024-04")]})
    a_yes = curve(result, "a yes then no", "do", "a_yes")
    assert_allclose(a_yes[1:], [1.0, 1.0, 0.0], atol=ATOL)
