"""Memoryless rules (no ``from``): this month's distribution over the states, priors included."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.engine import ExactEngine, central_params
from tests.engine.brute_force import brute_force
from tests.engine.test_exact_vs_brute_force import extra_questions, random_params
from tests.engine.test_kernels import Kernel
from tests.paths import SCENARIOS

PATH = SCENARIOS / "memoryless_report.yaml"


@pytest.fixture(scope="module")
def scenario():
    return forecast.load_scenario(PATH)


def test_a_memoryless_rule_has_its_states_as_outcomes(scenario) -> None:
    rules = {r.name: r for r in scenario.node("report").rules}
    rule = rules["report:holds|breaks|unclear[front=holds]"]
    assert rule.pivot == "holds" and rule.destinations == ("breaks", "unclear")
    assert rule.is_free and rule.from_states == ("holds", "breaks", "unclear")
    weather = scenario.node("weather").rules[0]
    assert weather.pivot == "no" and not weather.is_free
    assert_allclose(weather.fixed_outcome, [0.7, 0.3])


def test_its_table_is_the_same_whatever_the_old_state(scenario) -> None:
    rng = np.random.default_rng(3)
    params = random_params(scenario, rng)
    engine = ExactEngine(scenario)
    front, report, weather = engine.tables(params)
    by_name = dict(zip([r.name for r in scenario.rules], params, strict=True))
    holds = by_name["report:holds|breaks|unclear[front=holds]"]
    breaks = by_name["report:holds|breaks|unclear[front=breaks]"]
    for old in range(3):  # report's old state: no effect
        assert_allclose(report[0, old], holds)  # [holds, breaks, unclear] = [pivot, *dests]
        assert_allclose(report[1, old], breaks)
        assert_allclose(weather[old % 2], [0.7, 0.3])
    assert_allclose(front.sum(-1), 1.0)


@pytest.mark.parametrize("point", range(4))
def test_the_engine_equals_brute_force(scenario, point) -> None:
    rng = np.random.default_rng(40 + point)
    params = central_params(scenario) if point == 0 else random_params(scenario, rng, 0.5)
    engine = ExactEngine(scenario)
    brute = brute_force(scenario, params)
    result = engine.run(params, engine.evidence())
    assert_allclose(result.loglik, brute.loglik, rtol=0, atol=1e-12)
    for qid, prob in brute.questions.items():
        assert_allclose(result.questions[qid], prob, rtol=0, atol=1e-12, err_msg=qid)
    for name, marginal in brute.marginals.items():
        assert_allclose(result.marginals[name], marginal, rtol=0, atol=1e-12, err_msg=name)
    questions = extra_questions(scenario, rng)
    brute = brute_force(scenario, params, questions=questions)
    result = engine.run(params, engine.evidence(), questions=questions)
    for qid, prob in brute.questions.items():
        assert_allclose(result.questions[qid], prob, rtol=0, atol=1e-12, err_msg=qid)


def test_the_likelihood_gradient_matches_finite_differences(scenario) -> None:
    kernel = Kernel(scenario)
    params = [0.05 + 0.9 * p for p in random_params(scenario, np.random.default_rng(7))]
    loglik, grads = kernel(params)
    assert_allclose(loglik, brute_force(scenario, params).loglik, rtol=0, atol=1e-10)
    h = 1e-6
    for r, p in enumerate(params):
        for j in range(len(p)):
            up = [q.copy() for q in params]
            down = [q.copy() for q in params]
            up[r][j] += h
            down[r][j] -= h
            fd = (kernel(up, False)[0] - kernel(down, False)[0]) / (2 * h)
            assert abs(grads[r][j] - fd) <= 1e-5 * max(1.0, abs(fd)), (r, j)


def test_a_fit_learns_how_often_the_report_is_right() -> None:
    """A prior on the report's accuracy is learnt like any rule's, and the draws are exact."""
    model = forecast.ScenarioModel.from_file(PATH)
    name = "report:holds|breaks|unclear[front=breaks]"
    prior = model.prior_predictive(draws=2000, seed=5).idata.prior[name]
    assert prior.shape[-1] == 3  # [holds, breaks, unclear]
    assert_allclose(prior.mean(("chain", "draw")).values, [1 / 8, 6 / 8, 1 / 8], atol=0.02)
    fit = model.fit(seed=5, sampler={"draws": 300, "tune": 300, "chains": 2})
    assert fit.diagnostics().divergences == 0
    marginals = fit.idata.posterior["p_report"]
    assert np.all(np.abs(marginals.sum(marginals.dims[-1]) - 1) < 1e-9)
    # two 'breaks' reports: the front's breaking is likelier than the prior alone says
    table = fit.questions()
    assert table.loc["broken_by_april", "mean"] > table.loc["broken_by_april", "prior_mean"] + 0.1
