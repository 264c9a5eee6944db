"""The compiled passes (forecast.engine.kernels) against the numpy engine and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from forecast import load_scenario
from forecast.engine import ExactEngine
from forecast.engine import forward as fw
from forecast.engine.kernels import loglik_and_grad, lower_plan
from forecast.engine.slots import likelihood_pairs
from forecast.engine.synthetic import random_scenario
from forecast.scenario.validated import Scenario
from tests.engine.brute_force import brute_force
from tests.paths import SCENARIOS

# (seed, n_nodes, max_states, n_months, evidence_rate)
CASES = [
    (0, 3, 3, 3, 0.3),
    (1, 3, 3, 4, 0.3),
    (2, 4, 3, 6, 0.3),
    (3, 5, 3, 12, 0.2),
    (4, 5, 3, 12, 0.3),
    (5, 6, 3, 12, 0.15),
    (6, 6, 2, 12, 0.3),
]


def random_params(scenario: Scenario, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.dirichlet(np.ones(len(r.destinations) + 1)) for r in scenario.rules]


class Kernel:
    """The kernel's inputs for a scenario, as the PyMC Op builds them."""

    def __init__(self, scenario: Scenario, evidence: list[np.ndarray] | None = None) -> None:
        self.scenario = scenario
        self.engine = ExactEngine(scenario)
        self.evidence = self.engine.evidence() if evidence is None else evidence
        self.lowered = lower_plan(
            self.engine.plan, self.engine.layout, [n.n_states for n in scenario.nodes]
        )
        self.initial = fw.initial_joint(self.engine.initials, self.engine.plan, np).ravel()
        self.pairs = likelihood_pairs(self.evidence, self.lowered, self.initial)

    def __call__(self, params: list[np.ndarray], want_grad: bool = True):
        return loglik_and_grad(self.lowered, params, self.pairs, self.initial, want_grad)


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[Scenario]:
    out = [load_scenario(SCENARIOS / "tiny_chain.yaml")]
    for seed, n_nodes, max_states, n_months, rate in CASES:
        out.append(
            random_scenario(
                np.random.default_rng(seed),
                folder=tmp_path_factory.mktemp(f"k{seed}"),
                n_nodes=n_nodes,
                max_states=max_states,
                n_months=n_months,
                evidence_rate=rate,
            )
        )
    return out


def test_loglik_equals_numpy_engine(cases) -> None:
    rng = np.random.default_rng(0)
    for scenario in cases:
        kernel = Kernel(scenario)
        for _ in range(3):
            params = random_params(scenario, rng)
            loglik, _ = kernel(params)
            assert_allclose(
                loglik, kernel.engine.loglik(params, kernel.evidence), rtol=0, atol=1e-10
            )
            assert kernel(params, want_grad=False)[0] == loglik


def test_loglik_equals_brute_force_on_small_cases(cases) -> None:
    rng = np.random.default_rng(1)
    for scenario in cases[:3]:
        params = random_params(scenario, rng)
        assert_allclose(
            Kernel(scenario)(params)[0], brute_force(scenario, params).loglik, rtol=0, atol=1e-10
        )


def test_gradient_matches_finite_differences(cases) -> None:
    rng = np.random.default_rng(2)
    h = 1e-6
    for scenario in cases:
        kernel = Kernel(scenario)
        params = [0.05 + 0.9 * p for p in random_params(scenario, rng)]
        _, grads = kernel(params)
        for r, p in enumerate(params):
            for j in range(len(p)):
                up = [q.copy() for q in params]
                down = [q.copy() for q in params]
                up[r][j] += h
                down[r][j] -= h
                fd = (kernel(up, False)[0] - kernel(down, False)[0]) / (2 * h)
                scale = max(1.0, abs(fd))
                assert abs(grads[r][j] - fd) <= 1e-5 * scale, (scenario.id, r, j)


def test_impossible_evidence(cases) -> None:
    tiny = cases[0]
    evidence = ExactEngine(tiny).evidence()
    evidence[tiny.node_index["b"]][0] = [0.0, 0.0, 0.0]  # no state at all
    loglik, grads = Kernel(tiny, evidence)(random_params(tiny, np.random.default_rng(0)))
    assert loglik == -np.inf
    assert all(np.all(g == 0) for g in grads)


def test_run_draws_equals_numpy_run(cases) -> None:
    """The compiled per-draw summaries equal the numpy engine's batched pass."""
    rng = np.random.default_rng(3)
    for scenario in cases:
        engine = ExactEngine(scenario)
        params = [rng.dirichlet(np.ones(len(r.destinations) + 1), size=4) for r in scenario.rules]
        evidence = engine.evidence()
        ref = engine.run(params, evidence)
        fast = engine.run_draws(params, evidence)
        assert_allclose(fast.loglik, ref.loglik, rtol=0, atol=1e-10)
        for q in scenario.questions:
            assert_allclose(fast.questions[q.id], ref.questions[q.id], rtol=0, atol=1e-12)
        for node in scenario.nodes:
            assert_allclose(fast.marginals[node.name], ref.marginals[node.name], rtol=0, atol=1e-12)


def test_run_draws_with_impossible_evidence_gives_nan(cases) -> None:
    """A draw whose evidence has probability zero gets NaN answers and marginals, not 0/0."""
    tiny = cases[0]
    engine = ExactEngine(tiny)
    evidence = engine.evidence()
    evidence[tiny.node_index["b"]][0] = [0.0, 0.0, 0.0]
    params = [
        np.random.default_rng(4).dirichlet(np.ones(len(r.destinations) + 1), size=3)
        for r in tiny.rules
    ]
    result = engine.run_draws(params, evidence)
    assert np.all(result.loglik == -np.inf)
    assert all(np.all(np.isnan(v)) for v in result.questions.values())
    assert all(np.all(np.isnan(m)) for m in result.marginals.values())


def test_run_draws_does_not_depend_on_the_block_size(cases) -> None:
    """Blocks of draws are independent: any block size gives the same numbers."""
    from forecast.engine.slots import node_weights
    from forecast.engine.smoothing import smooth_draws

    scenario = cases[4]
    engine = ExactEngine(scenario)
    engine.run_draws(
        [np.ones((1, len(r.destinations) + 1)) / (len(r.destinations) + 1) for r in scenario.rules]
    )
    rng = np.random.default_rng(5)
    params = [rng.dirichlet(np.ones(len(r.destinations) + 1), size=37) for r in scenario.rules]
    args = (
        engine.lowered,
        params,
        node_weights(engine.evidence()),
        engine.initial_flat,
        engine._question_arrays,
        [n.n_states for n in scenario.nodes],
    )
    reference = smooth_draws(*args, block=1)
    for block in (5, 64):
        other = smooth_draws(*args, block=block)
        assert_allclose(other[0], reference[0], rtol=1e-13)
        assert_allclose(other[1], reference[1], rtol=1e-13, atol=1e-15)
        for a, b in zip(other[2], reference[2], strict=True):
            assert_allclose(a, b, rtol=1e-13, atol=1e-15)
