"""The PyMC model against the numpy engine: same log-density, same posterior."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

import forecast
from forecast.elicitation import elicit
from forecast.engine import ExactEngine
from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter
from forecast.pymc_backend.model import build_model, rule_outcome_vectors
from forecast.synthetic import random_scenario

HERE = Path(__file__).resolve().parents[1]
TINY = HERE / "scenarios" / "tiny_chain.yaml"


def _scenarios(tmp_path_factory):
    out = [forecast.load_scenario(TINY)]
    for seed in (1, 2, 3):
        out.append(random_scenario(np.random.default_rng(seed),
                                   folder=tmp_path_factory.mktemp(f"r{seed}"), n_nodes=3,
                                   n_months=5))
    return out


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    return _scenarios(tmp_path_factory)


def test_logp_equals_numpy_engine(scenarios) -> None:
    """At random parameter points the model's log-density is the numpy engine's."""
    rng = np.random.default_rng(0)
    for scenario in scenarios:
        priors = elicit(scenario)
        model = build_model(scenario, priors)
        engine = ExactEngine(scenario)
        logp = model.compile_logp(jacobian=False)
        by_rule = rule_outcome_vectors(model, priors)
        values = model.compile_fn(model.replace_rvs_by_values(
            [by_rule[r.name] for r in scenario.rules]))
        for _ in range(3):
            point = {k: v + rng.normal(0, 0.7, size=np.shape(v))
                     for k, v in model.initial_point().items()}
            qs = values(point)
            params = [np.asarray(q) for q in qs]
            expected = float(engine.loglik(params, engine.evidence()))
            for prior, q in zip(priors.rules, params, strict=True):
                if prior.is_beta:
                    expected += stats.beta(prior.alpha[1], prior.alpha[0]).logpdf(q[1])
                else:
                    expected += stats.dirichlet(prior.alpha).logpdf(q)
                expected += float(prior.reference_loglik(q))
            assert_allclose(logp(point), expected, rtol=1e-9)


def test_as_of_hides_later_evidence(scenarios) -> None:
    """Evidence known after the cut-off cannot change a forecast made as of it."""
    scenario = scenarios[0]
    engine = ExactEngine(scenario)
    as_of = dt.date(2024, 1, 31)
    params = [np.full(len(r.destinations) + 1, 1 / (len(r.destinations) + 1))
              for r in scenario.rules]
    cut = engine.evidence(as_of)
    assert all(e.known_on <= as_of for e in scenario.evidence_as_of(as_of))
    # the February observation of a is in the full evidence but not in the cut
    full = engine.evidence()
    assert not all(np.array_equal(a, b) for a, b in zip(cut, full, strict=True))
    # altering any later evidence leaves the as-of evidence and answers unchanged
    later = [m.copy() for m in full]
    later[scenario.node_index["a"]][1:] = [1.0, 0.0]
    model = build_model(scenario)
    fitter_evidence = [model[f"evidence__{n.name}"].get_value() for n in scenario.nodes]
    assert len(fitter_evidence) == len(scenario.nodes)
    assert all(np.array_equal(a, b) for a, b in zip(fitter_evidence, full, strict=True))
    assert engine.run(params, cut).questions == engine.run(params, cut).questions


@pytest.fixture(scope="module")
def tiny_fit():
    scenario = forecast.load_scenario(TINY)
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=1000, tune=1000, chains=2,
                                                            cores=2))
    return fitter, fitter.fit(seed=11)


def assert_matches_importance_sampling(fitter: ScenarioFitter, idata, n_draws: int,
                                       seed: int) -> None:
    """Posterior means of question probabilities equal prior draws weighted by the exact
    evidence and reference-class likelihood, within 4 combined Monte Carlo standard errors."""
    import arviz as az

    scenario, priors, engine = fitter.scenario, fitter.priors, fitter.engine
    draws = priors.sample(np.random.default_rng(seed), n_draws)
    result = engine.run_draws(draws, engine.evidence())
    logw = result.loglik + priors.reference_loglik(draws)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    assert 1.0 / np.sum(w**2) > 200, "too few effective importance draws for the check"
    mcse = az.mcse(idata, var_names=["question_prob"])["question_prob"].values
    post = idata.posterior["question_prob"].mean(("chain", "draw")).values
    for k, q in enumerate(scenario.questions):
        f = result.questions[q.id]
        is_mean = float(np.sum(w * f))
        is_se = float(np.sqrt(np.sum(w**2 * (f - is_mean) ** 2)))
        tolerance = 4 * np.hypot(np.nan_to_num(mcse[k]), is_se) + 1e-9
        assert abs(post[k] - is_mean) < tolerance, (scenario.id, q.id, post[k], is_mean)


def test_posterior_matches_importance_sampling(tiny_fit) -> None:
    fitter, idata = tiny_fit
    assert_matches_importance_sampling(fitter, idata, 40_000, seed=5)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_random_scenario_posterior_matches_importance_sampling(tmp_path, seed) -> None:
    scenario = random_scenario(np.random.default_rng(seed), folder=tmp_path, n_nodes=3,
                               n_months=6, evidence_rate=0.25)
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=1000, tune=1000))
    assert_matches_importance_sampling(fitter, fitter.fit(seed=seed), 20_000, seed=seed)


@pytest.mark.slow
def test_kursk_posterior_matches_importance_sampling() -> None:
    scenario = forecast.load_scenario(HERE.parent / "scenarios" / "kursk_2024.yaml")
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=1000, tune=1000))
    assert_matches_importance_sampling(fitter, fitter.fit(seed=3), 200_000, seed=3)


def test_refit_reuses_compiled_model(tiny_fit) -> None:
    """A new evidence cut-off and a prior edit re-fit the same compiled sampler."""
    fitter, first = tiny_fit
    rule = fitter.scenario.rules[0].name
    fitter.set_priors(fitter.priors.replace(rule, [9.0, 1.0]))
    second = fitter.fit(as_of=dt.date(2024, 1, 31), seed=12)
    assert fitter.compiles == 1
    assert second.posterior.attrs["as_of"] == "2024-01-31"
    assert second.posterior.attrs["scenario_hash"] == fitter.scenario.hash
    # the edited prior (stay 9 : move 1) pulls the move probability down
    assert float(second.posterior[rule].mean()) < float(first.posterior[rule].mean())
