"""Property tests of the exact engine on random small scenarios and evidence (hypothesis).

Every example is a random valid scenario of :mod:`forecast.engine.synthetic` (1-3 nodes of
2-3 states, 1-3 months, random parents, absorbing states, Dirichlet and reference-class
rules, evidence and questions), with random parameters. The engine must equal brute-force
enumeration of every joint path, and keep its invariants: marginals sum to one, absorbing
states stay absorbed, "reached" never falls below "in state" and never decreases with the
date, and an as-of cut never uses later evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from forecast.engine import ExactEngine
from forecast.engine.exact import evidence_matrices, monthly_questions
from forecast.engine.synthetic import random_scenario
from forecast.scenario.validated import EvidenceItem, Scenario
from tests.engine.brute_force import MAX_TRAJECTORIES, brute_force
from tests.engine.test_exact_vs_brute_force import extra_questions, random_params

ATOL = 1e-11
FOLDER = Path(tempfile.mkdtemp(prefix="forecast-properties-"))

PROPERTIES = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def cases(draw) -> tuple[Scenario, np.random.Generator]:
    """A random small scenario (few enough paths to enumerate) and a generator for the rest."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_nodes = draw(st.integers(1, 3))
    max_states = draw(st.integers(2, 3))
    n_months = draw(st.integers(1, 3))
    rate = draw(st.sampled_from([0.0, 0.2, 0.5]))
    rng = np.random.default_rng(seed)
    folder = FOLDER / f"{seed}-{n_nodes}-{max_states}-{n_months}-{rate}"
    folder.mkdir(exist_ok=True)
    scenario = random_scenario(
        rng,
        folder,
        n_nodes=n_nodes,
        max_states=max_states,
        n_months=n_months,
        max_parents=2,
        evidence_rate=rate,
    )
    paths = math.prod(n.n_states for n in scenario.nodes) ** scenario.timeline.n_steps
    assume(paths <= MAX_TRAJECTORIES)
    return scenario, rng


concentrations = st.sampled_from([1.0, 0.3, 3.0])


@PROPERTIES
@given(cases(), concentrations)
def test_engine_equals_brute_force(case, concentration) -> None:
    scenario, rng = case
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng, concentration=concentration)
    questions = scenario.questions + extra_questions(scenario, rng)
    brute = brute_force(scenario, params, questions=questions)
    assert brute.likelihood > 0
    result = engine.run(params, engine.evidence(), questions=questions)
    assert_allclose(result.loglik, brute.loglik, rtol=0, atol=ATOL)
    assert_allclose(engine.loglik(params, engine.evidence()), brute.loglik, rtol=0, atol=ATOL)
    for q in questions:
        assert_allclose(result.questions[q.id], brute.questions[q.id], atol=ATOL, err_msg=q.id)
    for name, marginal in brute.marginals.items():
        assert_allclose(result.marginals[name], marginal, rtol=0, atol=ATOL, err_msg=name)


@PROPERTIES
@given(cases())
def test_compiled_draws_equal_the_numpy_engine(case) -> None:
    scenario, rng = case
    # with no free rule there is no batch axis: run_draws takes the draws' count from the
    # parameters, so a scenario of fixed rules only has nothing to batch
    assume(scenario.rules)
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng, draws=3)
    questions = scenario.questions + extra_questions(scenario, rng)
    numpy_result = engine.run(params, engine.evidence(), questions=questions)
    compiled = engine.run_draws(params, engine.evidence(), questions=questions)
    assert_allclose(compiled.loglik, numpy_result.loglik, rtol=0, atol=1e-10)
    for q in questions:
        assert_allclose(compiled.questions[q.id], numpy_result.questions[q.id], atol=1e-10)
    for name, marginal in numpy_result.marginals.items():
        assert_allclose(compiled.marginals[name], marginal, atol=1e-10)


@PROPERTIES
@given(cases(), st.booleans())
def test_marginals_sum_to_one_and_questions_are_probabilities(case, with_evidence) -> None:
    scenario, rng = case
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng, concentration=0.3, draws=2)
    evidence = engine.evidence() if with_evidence else None
    result = engine.run(params, evidence, questions=extra_questions(scenario, rng))
    for marginal in result.marginals.values():
        assert np.all(marginal >= -1e-15)
        assert_allclose(marginal.sum(axis=-1), 1.0, atol=1e-12)
    for prob in result.questions.values():
        assert np.all((prob >= 0) & (prob <= 1))
    if not with_evidence:
        assert_allclose(result.loglik, 0.0, atol=1e-12)


@PROPERTIES
@given(cases(), st.data())
def test_absorbing_states_stay_absorbed(case, data) -> None:
    scenario, rng = case
    absorbing = [(n, s) for n in scenario.nodes for s in n.absorbing]
    assume(absorbing)
    node, state = data.draw(st.sampled_from(absorbing))
    steps = scenario.timeline.n_steps
    t = data.draw(st.integers(0, steps - 1))
    seen = EvidenceItem(
        node.name,
        scenario.timeline.month_end_date(t),
        scenario.timeline.month_end_date(t),
        (state,),
        "",
        "",
    )
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng)
    evidence = evidence_matrices(scenario, (*scenario.evidence, seen))
    assume(np.isfinite(engine.loglik(params, evidence)))
    result = engine.run(params, evidence)
    k = node.state_index(state)
    assert_allclose(result.marginals[node.name][t:, k], 1.0, atol=1e-12)
    # and on every enumerated path (brute force agrees with the engine given the observation)
    brute = brute_force(scenario, params, evidence=(*scenario.evidence, seen))
    assert_allclose(brute.marginals[node.name][t:, k], 1.0, atol=1e-12)


@PROPERTIES
@given(cases(), st.data())
def test_reached_is_monotone_and_above_in_state(case, data) -> None:
    scenario, rng = case
    node = data.draw(st.sampled_from(scenario.nodes))
    state = data.draw(st.sampled_from(node.states))
    template = next(iter(extra_questions(scenario, rng)))  # any question: replaced below
    template = dataclasses.replace(
        template, id="r", node=node.name, states=(state,), kind="reached"
    )
    reached = monthly_questions(scenario, template, "r")
    in_state = tuple(dataclasses.replace(q, id=f"i{q.step}", kind="in_state") for q in reached)
    engine = ExactEngine(scenario)
    params = random_params(scenario, rng)
    result = engine.run(params, engine.evidence(), questions=reached + in_state)
    by_month = np.array([result.questions[q.id] for q in reached])
    assert np.all(np.diff(by_month) >= -1e-12)
    for q in reached:
        assert result.questions[q.id] >= result.questions[f"i{q.step}"] - 1e-12


@PROPERTIES
@given(cases(), st.data())
def test_the_as_of_cut_never_uses_later_evidence(case, data) -> None:
    """The likelihood and answers as of a date are those of the evidence known by then.

    Later evidence is added (known after the cut, observing anything at all, even states the
    path could never be in): nothing as of the cut changes.
    """
    scenario, rng = case
    tl = scenario.timeline
    t = data.draw(st.integers(0, tl.n_steps - 1))
    as_of = tl.month_end_date(t)
    known_on = as_of + dt.timedelta(days=1)
    later = []  # reported after the cut, about any month (a late report of an earlier one too)
    for node in scenario.nodes:
        for month in range(tl.n_steps):
            if data.draw(st.booleans()):
                state = data.draw(st.sampled_from(node.states))
                date = tl.month_end_date(month)
                later.append(EvidenceItem(node.name, date, known_on, (state,), "late", "late"))
    widened = dataclasses.replace(scenario, evidence=(*scenario.evidence, *later))
    truncated = tuple(e for e in scenario.evidence if e.known_on <= as_of)
    engine = ExactEngine(widened)
    params = random_params(scenario, rng)
    cut = engine.evidence(as_of)
    for got, want in zip(cut, evidence_matrices(scenario, truncated), strict=True):
        assert np.array_equal(got, want)
    brute = brute_force(scenario, params, evidence=truncated)
    result = engine.run(params, cut)
    assert_allclose(result.loglik, brute.loglik, rtol=0, atol=ATOL)
    for q in scenario.questions:
        assert_allclose(result.questions[q.id], brute.questions[q.id], atol=ATOL)
