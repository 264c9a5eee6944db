"""The likelihood pool: its mixture density, its posterior, its extensions."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from forecast import ScenarioModel
from forecast.analysis.reweighting import LikelihoodPool
from forecast.analysis.reweighting.likelihood_pool import flattened
from forecast.engine import ExactEngine
from tests.paths import TINY


@pytest.fixture(scope="module")
def model():
    return ScenarioModel.from_file(TINY)


@pytest.fixture(scope="module")
def pool(model):
    engine = ExactEngine(model.scenario)
    return LikelihoodPool(
        engine, engine.evidence(None), model.priors, seed=5, base=3000, per_rule=300, extend=800
    )


def test_mixture_density_is_the_components_average(model, pool):
    rules = model.priors.rules
    sizes = [3000] + [300] * len(rules)
    components = [[r.alpha for r in rules]]
    for j in range(len(rules)):
        alphas = [r.alpha for r in rules]
        alphas[j] = flattened(alphas[j], 3.0)
        components.append(alphas)
    picks = [0, 1, 3001, pool.size - 1]
    for i in picks:
        density = sum(
            n
            / sum(sizes)
            * np.prod(
                [
                    stats.dirichlet.pdf(p[i], a)
                    for a, p in zip(alphas, pool.draws.params, strict=True)
                ]
            )
            for n, alphas in zip(sizes, components, strict=True)
        )
        assert_allclose(pool.log_mixture[i], np.log(density), rtol=1e-9)


def test_posterior_under_the_file_priors_matches_nuts(model, pool):
    found = pool.weights(model.priors)
    assert found.reliable and not found.extended
    means = found.weights @ pool.draws.quantities["question_prob"]
    nuts = model.fit(seed=2, sampler={"draws": 1000, "tune": 500, "chains": 2, "cores": 1})
    draws = nuts.idata.posterior["question_prob"].values.reshape(-1, means.size)
    se = draws.std(axis=0) * (1 / np.sqrt(found.ess) + 1 / np.sqrt(500))
    assert np.all(np.abs(means - draws.mean(axis=0)) <= 4 * se + 1e-9)


def test_a_spike_prior_extends_the_pool_once(model, pool):
    rule = model.rules[0]
    spike = model.with_parameters(rule, beta=(4000.0, 1000.0)).priors
    bare = pool.weights(spike, allow_extend=False)
    assert not bare.reliable
    found = pool.weights(spike)
    assert found.extended and found.reliable
    assert found.weights.size == pool.size + 800
    again = pool.weights(spike)
    assert_allclose(again.weights, found.weights)
    taken = pool.take(found, np.array([0, pool.size + 5]), spike)
    assert taken["params"][0].shape == (2, 2)
    assert taken["question_prob"].shape[0] == 2
