"""The compiled forward pass and its gradient (forecast.engine.kernels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from forecast.engine import ExactEngine
from forecast.engine import forward as fw
from forecast.engine.exact import by_month, evidence_matrices
from forecast.engine.kernels import (
    joint_weights,
    loglik_and_grad,
    lower_plan,
    structural_support,
)
from forecast.spec import load_scenario
from forecast.spec.scenario import Scenario
from forecast.synthetic import random_scenario
from tests.engine.brute_force import brute_force

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

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
    """The kernel's inputs for a scenario, built as the brief of the PyMC model does."""

    def __init__(self, scenario: Scenario, evidence: list[np.ndarray] | None = None) -> None:
        self.scenario = scenario
        self.engine = ExactEngine(scenario)
        self.evidence = self.engine.evidence() if evidence is None else evidence
        self.lowered = lower_plan(self.engine.plan, self.engine.layout,
                                  [n.n_states for n in scenario.nodes])
        self.weights = joint_weights(self.evidence, self.lowered.state_of)
        self.initial = fw.initial_joint(self.engine.initials, self.engine.plan, np).ravel()

    def __call__(self, tables: list[np.ndarray], want_grad: bool = True):
        return loglik_and_grad(self.lowered, tables, self.weights, self.initial, want_grad)

    def reference_loglik(self, tables: list[np.ndarray]) -> float:
        """Log-likelihood for arbitrary tables with the numpy forward pass (no kernel)."""
        months = by_month(self.evidence, self.scenario.timeline.n_steps)
        _, norms = fw.forward(self.engine.initials, tables, months, self.engine.plan, np)
        return float(np.sum(np.log(norms)))


def scenario_for(case) -> Scenario:
    seed, n_nodes, max_states, n_months, rate = case
    return random_scenario(np.random.default_rng(seed), n_nodes=n_nodes, max_states=max_states,
                           n_months=n_months, evidence_rate=rate)


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return load_scenario(SCENARIOS / "tiny_chain.yaml")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-{c[1]}n-{c[3]}m")
def test_kernel_loglik_equals_exact_engine(case) -> None:
    scenario = scenario_for(case)
    kernel = Kernel(scenario)
    rng = np.random.default_rng(10 + case[0])
    for _ in range(3):
        params = random_params(scenario, rng)
        tables = kernel.engine.tables(params)
        loglik, grads = kernel(tables)
        expected = kernel.engine.loglik(params, kernel.evidence)
        assert np.isfinite(expected)
        assert_allclose(loglik, expected, rtol=0, atol=1e-10)
        no_grad, _ = kernel(tables, want_grad=False)
        assert_allclose(no_grad, loglik, rtol=0, atol=1e-12)
        assert [g.shape for g in grads] == [t.shape for t in tables]
        if case[3] <= 4:
            assert_allclose(loglik, brute_force(scenario, params).loglik, rtol=0, atol=1e-10)


def test_kernel_loglik_tiny_chain(tiny) -> None:
    kernel = Kernel(tiny)
    rng = np.random.default_rng(5)
    for _ in range(4):
        params = random_params(tiny, rng)
        loglik, _ = kernel(kernel.engine.tables(params))
        assert_allclose(loglik, kernel.engine.loglik(params, kernel.evidence), rtol=0,
                        atol=1e-10)
        assert_allclose(loglik, brute_force(tiny, params).loglik, rtol=0, atol=1e-10)


def _free_entries(kernel: Kernel, tables: list[np.ndarray]) -> list[np.ndarray]:
    """Per node, the flat table entries that some parameter value makes non-zero."""
    support = [structural_support(layout) for layout in kernel.engine.layout]
    # at an interior parameter point exactly those entries are non-zero
    for s, t in zip(support, tables, strict=True):
        assert np.array_equal(s, t.ravel() != 0)
    return support


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-{c[1]}n-{c[3]}m")
def test_kernel_gradient_matches_finite_differences(case) -> None:
    scenario = scenario_for(case)
    kernel = Kernel(scenario)
    rng = np.random.default_rng(20 + case[0])
    params = random_params(scenario, rng)
    tables = [np.array(t, dtype=float) for t in kernel.engine.tables(params)]
    loglik, grads = kernel(tables)
    support = _free_entries(kernel, tables)
    entries = [(n, e) for n, s in enumerate(support) for e in np.flatnonzero(s)]
    # the kernel leaves out entries no parameter can make non-zero: no gradient there
    for n, s in enumerate(support):
        assert np.all(grads[n].ravel()[~s] == 0.0)
    # every free entry by central differences of the kernel's own log-likelihood
    h = 1e-6
    fd = np.empty(len(entries))
    for k, (n, e) in enumerate(entries):
        values = []
        for sign in (1.0, -1.0):
            bumped = [t.copy() for t in tables]
            bumped[n].reshape(-1)[e] += sign * h
            values.append(kernel(bumped, want_grad=False)[0])
        fd[k] = (values[0] - values[1]) / (2 * h)
    got = np.array([grads[n].ravel()[e] for n, e in entries])
    scale = np.max(np.abs(got))
    assert_allclose(got, fd, rtol=1e-5, atol=1e-7 * scale)
    # a subset of entries, and a random direction over all of them, against the numpy
    # forward pass (independent of the kernel)
    assert_allclose(kernel.reference_loglik(tables), loglik, rtol=0, atol=1e-10)
    pick = rng.choice(len(entries), size=min(25, len(entries)), replace=False)
    for k in pick:
        n, e = entries[k]
        values = []
        for sign in (1.0, -1.0):
            bumped = [t.copy() for t in tables]
            bumped[n].reshape(-1)[e] += sign * h
            values.append(kernel.reference_loglik(bumped))
        assert_allclose(got[k], (values[0] - values[1]) / (2 * h), rtol=1e-5,
                        atol=1e-7 * scale)
    direction = [rng.normal(size=t.shape) * s.reshape(t.shape)
                 for t, s in zip(tables, support, strict=True)]
    slope = sum(float(np.sum(g * d)) for g, d in zip(grads, direction, strict=True))
    ends = [kernel.reference_loglik([t + sign * h * d for t, d in
                                     zip(tables, direction, strict=True)])
            for sign in (1.0, -1.0)]
    assert_allclose(slope, (ends[0] - ends[1]) / (2 * h), rtol=1e-5, atol=1e-7 * scale)


def test_kernel_gradient_tiny_chain(tiny) -> None:
    kernel = Kernel(tiny)
    params = random_params(tiny, np.random.default_rng(9))
    tables = [np.array(t, dtype=float) for t in kernel.engine.tables(params)]
    _, grads = kernel(tables)
    support = _free_entries(kernel, tables)
    h = 1e-6
    for n, s in enumerate(support):
        for e in np.flatnonzero(s):
            values = []
            for sign in (1.0, -1.0):
                bumped = [t.copy() for t in tables]
                bumped[n].reshape(-1)[e] += sign * h
                values.append(kernel.reference_loglik(bumped))
            assert_allclose(grads[n].ravel()[e], (values[0] - values[1]) / (2 * h),
                            rtol=1e-5, atol=1e-9)


def test_kernel_impossible_evidence(tiny) -> None:
    """Evidence with probability zero: log-likelihood -inf, as the exact engine says."""
    engine = ExactEngine(tiny)
    evidence = evidence_matrices(tiny, tiny.evidence)
    evidence[tiny.node_index["b"]][0] = [0.0, 0.0, 0.0]  # no state at all
    kernel = Kernel(tiny, evidence)
    params = random_params(tiny, np.random.default_rng(0))
    loglik, grads = kernel(engine.tables(params))
    assert loglik == -np.inf
    assert engine.loglik(params, evidence) == -np.inf
    assert all(np.all(g == 0) for g in grads)
