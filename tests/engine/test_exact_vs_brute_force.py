"""The exact engine against brute-force enumeration of every joint trajectory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

from forecast import load_scenario
from forecast.engine import ExactEngine, central_params
from forecast.engine.synthetic import random_scenario
from forecast.scenario.validated import EvidenceItem, Question, Scenario
from tests.engine.brute_force import brute_force
from tests.paths import SCENARIOS

ATOL = 1e-12
RANDOM_SEEDS = list(range(15))


def random_params(
    scenario: Scenario,
    rng: np.random.Generator,
    concentration: float = 1.0,
    draws: int | None = None,
) -> list[np.ndarray]:
    """Random interior N-month outcome vectors, one per free rule (batched when ``draws``)."""
    size = None if draws is None else (draws,)
    return [
        rng.dirichlet(np.full(len(r.destinations) + 1, concentration), size=size)
        for r in scenario.rules
    ]


def extra_questions(scenario: Scenario, rng: np.random.Generator) -> tuple[Question, ...]:
    """Questions of every kind: random target sets, dates and windows, on every node."""
    steps = scenario.timeline.n_steps
    out = []
    for node in scenario.nodes:
        for kind in ("in_state", "reached", "reached"):
            k = int(rng.integers(1, node.n_states))
            states = tuple(str(s) for s in rng.choice(node.states, size=k, replace=False))
            step = int(rng.integers(0, steps))
            start = int(rng.integers(0, step + 1)) if kind == "reached" else 0
            out.append(_question(scenario, f"x{len(out)}", node.name, states, kind, start, step))
        if node.absorbing:  # target set that cannot be left
            step = int(rng.integers(0, steps))
            out.append(
                _question(
                    scenario,
                    f"x{len(out)}",
                    node.name,
                    node.absorbing,
                    "reached",
                    int(rng.integers(0, step + 1)),
                    step,
                )
            )
    return tuple(out)


def _question(
    scenario: Scenario,
    qid: str,
    node: str,
    states: tuple[str, ...],
    kind: str,
    start: int,
    step: int,
) -> Question:
    tl = scenario.timeline
    return Question(
        id=qid,
        text=qid,
        node=node,
        states=states,
        date=tl.month_end_date(step),
        kind=kind,
        window_start=tl.month_end_date(start) if start else None,
        step=step,
        window_start_step=start,
        resolution=None,
        resolved_on=None,
        resolution_source="",
    )


def assert_matches(
    scenario: Scenario,
    engine: ExactEngine,
    params: list[np.ndarray],
    questions: tuple[Question, ...] | None = None,
    no_evidence: bool = False,
) -> None:
    """Loglik, every question and every smoothed marginal equal brute force."""
    evidence = None if no_evidence else engine.evidence()
    brute = brute_force(scenario, params, evidence=() if no_evidence else None, questions=questions)
    assert brute.likelihood > 0
    result = engine.run(params, evidence, questions=questions)
    assert_allclose(result.loglik, brute.loglik, rtol=0, atol=ATOL)
    assert_allclose(np.sum(np.log(result.norms)), brute.loglik, rtol=0, atol=ATOL)
    wanted = scenario.questions if questions is None else questions
    assert set(result.questions) == {q.id for q in wanted} == set(brute.questions)
    for qid, prob in brute.questions.items():
        assert_allclose(result.questions[qid], prob, rtol=0, atol=ATOL, err_msg=qid)
    assert set(result.marginals) == {n.name for n in scenario.nodes}
    for name, marginal in brute.marginals.items():
        assert result.marginals[name].shape == marginal.shape
        assert_allclose(result.marginals[name], marginal, rtol=0, atol=ATOL, err_msg=name)


def write_scenario(tmp_path: Path, spec: dict) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_scenario(path)


# (a) the tiny chain fixture ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return load_scenario(SCENARIOS / "tiny_chain.yaml")


@pytest.mark.parametrize("point", range(6))
def test_tiny_chain_matches_brute_force(tiny: Scenario, point: int) -> None:
    rng = np.random.default_rng(100 + point)
    if point == 0:
        params = central_params(tiny)
    else:  # later points more extreme (small Dirichlet concentration)
        params = random_params(tiny, rng, concentration=[1.0, 2.0, 0.5, 0.3, 0.2][point - 1])
    engine = ExactEngine(tiny)
    assert_matches(tiny, engine, params)
    assert_matches(tiny, engine, params, questions=extra_questions(tiny, rng))
    assert_matches(tiny, engine, params, no_evidence=True)


def test_tiny_chain_brute_force_sanity(tiny: Scenario) -> None:
    """The reference itself: a_yes_jan given a=yes in Feb is not its prior; a is observed."""
    rng = np.random.default_rng(7)
    params = random_params(tiny, rng)
    brute = brute_force(tiny, params)
    assert_allclose(brute.marginals["a"][1], [0.0, 1.0], atol=0)
    assert_allclose([m.sum(axis=1) for m in brute.marginals.values()], 1.0, atol=1e-14)
    prior = brute_force(tiny, params, evidence=())
    assert prior.likelihood == pytest.approx(1.0, abs=1e-13)
    # b is low just before month 0; month 0 is one transition later, so it may have moved
    assert 0.0 < brute.marginals["b"][0][0] < 1.0


# (b) random scenarios ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_scenarios(tmp_path_factory) -> dict[int, Scenario]:
    out = {}
    for seed in RANDOM_SEEDS:
        folder = tmp_path_factory.mktemp(f"random{seed}")
        out[seed] = random_scenario(
            np.random.default_rng(seed), folder=folder, n_nodes=3, max_states=3, n_months=3
        )
    return out


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_scenario_matches_brute_force(random_scenarios, seed: int) -> None:
    scenario = random_scenarios[seed]
    rng = np.random.default_rng(1000 + seed)
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng)
    assert_matches(scenario, engine, params)
    assert_matches(scenario, engine, params, questions=extra_questions(scenario, rng))
    assert_matches(scenario, engine, random_params(scenario, rng, concentration=0.3))
    assert_matches(scenario, engine, params, no_evidence=True)


# (c) batched parameters ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [*RANDOM_SEEDS[:5], "tiny"])
def test_batched_equals_one_at_a_time(random_scenarios, tiny, seed) -> None:
    scenario = tiny if seed == "tiny" else random_scenarios[seed]
    rng = np.random.default_rng(2000 + (0 if seed == "tiny" else seed))
    engine = ExactEngine(scenario)
    draws = 4
    params = random_params(scenario, rng, draws=draws)
    questions = scenario.questions + extra_questions(scenario, rng)
    batched = engine.run(params, engine.evidence(), questions=questions)
    assert np.shape(batched.loglik) == (draws,)
    assert batched.norms.shape == (draws, scenario.timeline.n_steps)
    loglik_only = engine.loglik(params, engine.evidence())
    for d in range(draws):
        one = [p[d] for p in params]
        single = engine.run(one, engine.evidence(), questions=questions)
        brute = brute_force(scenario, one, questions=questions)
        assert_allclose(batched.loglik[d], single.loglik, rtol=0, atol=ATOL)
        assert_allclose(batched.loglik[d], brute.loglik, rtol=0, atol=ATOL)
        assert_allclose(loglik_only[d], brute.loglik, rtol=0, atol=ATOL)
        assert_allclose(batched.norms[d], single.norms, rtol=0, atol=ATOL)
        for q in questions:
            assert np.shape(batched.questions[q.id]) == (draws,)
            assert_allclose(
                batched.questions[q.id][d], single.questions[q.id], rtol=0, atol=ATOL, err_msg=q.id
            )
            assert_allclose(
                batched.questions[q.id][d], brute.questions[q.id], rtol=0, atol=ATOL, err_msg=q.id
            )
        for node in scenario.nodes:
            m = batched.marginals[node.name]
            assert m.shape == (draws, scenario.timeline.n_steps, node.n_states)
            assert_allclose(m[d], single.marginals[node.name], rtol=0, atol=ATOL)
            assert_allclose(m[d], brute.marginals[node.name], rtol=0, atol=ATOL)


# (d) a single month ------------------------------------------------------------------------

SINGLE_MONTH = {
    "id": "single_month",
    "title": "One month only",
    "source": {"citation": "Test fixture"},
    "author": "tests",
    "priors_set_on": "2024-01-01",
    "start": "2024-03",
    "horizon": "2024-03",
    "nodes": {
        "a": {
            "description": "root",
            "initial": {"no": 0.6, "yes": 0.4},
            "transitions": [
                {
                    "from": "no",
                    "to": {"yes": {"best": 0.3, "interval": [0.1, 0.6]}},
                    "rationale": "r",
                },
                {"from": "yes", "to": {"no": {"beta": [2, 5]}}, "rationale": "r"},
            ],
        },
        "b": {
            "description": "same-month child",
            "states": ["low", "mid", "high"],
            "parents": {"a": 0},
            "initial": {"low": 0.5, "mid": 0.3, "high": 0.2},
            "absorbing": ["high"],
            "transitions": [
                {
                    "from": ["low", "mid"],
                    "given": {"a": "yes"},
                    "to": {"high": {"best": 0.4, "interval": [0.2, 0.6]}},
                    "rationale": "r",
                },
                {"from": ["low", "mid"], "given": {"a": "no"}, "stays": True, "rationale": "r"},
            ],
        },
        "c": {
            "description": "child of both",
            "parents": {"a": 0, "b": 0},
            "initial": {"no": 0.9, "yes": 0.1},
            "transitions": [
                {
                    "from": "no",
                    "given": {"b": "high"},
                    "to": {"yes": {"best": 0.5, "interval": [0.2, 0.8]}},
                    "rationale": "r",
                },
                {"from": "no", "given": {"b": ["low", "mid"]}, "stays": True, "rationale": "r"},
                {
                    "from": "yes",
                    "to": {"no": {"best": 0.1, "interval": [0.05, 0.3]}},
                    "rationale": "r",
                },
            ],
        },
    },
    "evidence": {
        "observations": [
            {"node": "b", "date": "2024-03-20", "state": ["mid", "high"], "source": "s"}
        ]
    },
    "questions": [
        {"id": "a_yes", "text": "a yes", "node": "a", "state": "yes", "date": "2024-03-31"},
        {
            "id": "b_high",
            "text": "b high",
            "node": "b",
            "state": "high",
            "date": "2024-03-31",
            "kind": "reached",
        },
        {
            "id": "b_low_or_mid",
            "text": "b low or mid",
            "node": "b",
            "state": ["low", "mid"],
            "date": "2024-03-31",
            "kind": "reached",
            "window_start": "2024-03-01",
        },
        {"id": "c_yes", "text": "c yes", "node": "c", "state": "yes", "date": "2024-03-31"},
    ],
}


def test_single_month_matches_brute_force(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, SINGLE_MONTH)
    assert scenario.timeline.n_steps == 1
    engine = ExactEngine(scenario)
    rng = np.random.default_rng(3)
    for params in (
        central_params(scenario),
        random_params(scenario, rng),
        random_params(scenario, rng, concentration=0.3),
    ):
        assert_matches(scenario, engine, params)
        assert_matches(scenario, engine, params, questions=extra_questions(scenario, rng))
        assert_matches(scenario, engine, params, no_evidence=True)
    # batched too
    params = random_params(scenario, rng, draws=3)
    batched = engine.run(params, engine.evidence())
    for d in range(3):
        brute = brute_force(scenario, [p[d] for p in params])
        assert_allclose(batched.loglik[d], brute.loglik, rtol=0, atol=ATOL)
        for qid, prob in brute.questions.items():
            assert_allclose(batched.questions[qid][d], prob, rtol=0, atol=ATOL)
    # month 0 is one transition from the initial states, so a one-month scenario is a
    # Bayesian network: by hand at the central point (every N-month outcome 1/2, N = 1),
    # a is yes with 0.6 * 0.5 + 0.4 * 0.5 = 0.5; b (same month) moves to high with 0.5 if a=yes
    result = engine.run(central_params(scenario), engine.evidence())
    p_b_high = 0.2 + 0.8 * 0.5 * 0.5
    p_b_mid = 0.3 * (1 - 0.5 * 0.5)
    assert_allclose(result.loglik, np.log(p_b_high + p_b_mid), rtol=0, atol=ATOL)
    assert_allclose(result.questions["b_high"], p_b_high / (p_b_high + p_b_mid), rtol=0, atol=ATOL)


@pytest.mark.parametrize("seed", range(5))
def test_random_single_month_matches_brute_force(tmp_path: Path, seed: int) -> None:
    scenario = random_scenario(
        np.random.default_rng(500 + seed), folder=tmp_path, n_nodes=4, max_states=3, n_months=1
    )
    assert scenario.timeline.n_steps == 1
    rng = np.random.default_rng(seed)
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng)
    assert_matches(scenario, engine, params)
    assert_matches(scenario, engine, params, questions=extra_questions(scenario, rng))


# (e) smoothed marginals, on longer small scenarios --------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_marginals_match_brute_force_longer(tmp_path: Path, seed: int) -> None:
    """Two or three nodes over five or six months: every node's marginal in every month."""
    rng = np.random.default_rng(700 + seed)
    scenario = random_scenario(
        rng,
        folder=tmp_path,
        n_nodes=2 + seed % 2,
        max_states=2,
        n_months=6 - seed % 2,
        evidence_rate=0.3,
    )
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng)
    brute = brute_force(scenario, params)
    result = engine.run(params, engine.evidence())
    for node in scenario.nodes:
        assert_allclose(
            result.marginals[node.name],
            brute.marginals[node.name],
            rtol=0,
            atol=ATOL,
            err_msg=node.name,
        )
        assert_allclose(result.marginals[node.name].sum(axis=-1), 1.0, rtol=0, atol=1e-13)
    assert_matches(scenario, engine, params, questions=extra_questions(scenario, rng))


# impossible evidence ---------------------------------------------------------------------------


@pytest.mark.parametrize("month", [0, 1, 3])
def test_impossible_evidence_gives_minus_infinity(tiny: Scenario, month: int) -> None:
    """Evidence of probability zero: log-likelihood -inf (not NaN), single and batched."""
    engine = ExactEngine(tiny)
    evidence = engine.evidence()
    b = tiny.node_index["b"]
    # "no state at all" is impossible in any month
    evidence[b][month] = [0.0, 0.0, 0.0]
    rng = np.random.default_rng(month)
    params = random_params(tiny, rng)
    items = list(tiny.evidence)
    # brute force sees the same evidence through its own evidence items
    tl = tiny.timeline
    items.append(
        EvidenceItem("b", tl.month_end_date(month), tl.month_end_date(month), (), "test", "test")
    )
    brute = brute_force(tiny, params, evidence=items)
    assert brute.likelihood == 0.0 and brute.loglik == -np.inf
    result = engine.run(params, evidence)
    assert result.loglik == -np.inf
    assert result.norms[month] == 0.0
    assert result.questions == {} and result.marginals == {}
    assert engine.loglik(params, evidence) == -np.inf
    batched = random_params(tiny, rng, draws=3)
    assert np.all(engine.run(batched, evidence).loglik == -np.inf)
    assert np.all(engine.loglik(batched, evidence) == -np.inf)
