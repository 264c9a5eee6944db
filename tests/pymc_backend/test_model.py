"""The PyMC model against the numpy engine: same log-density, same posterior."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import forecast
from forecast.elicitation import elicit
from forecast.engine import ExactEngine
from forecast.engine.exact import central_params, evidence_matrices
from forecast.engine.synthetic import random_scenario
from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter
from forecast.pymc_backend.model import build_model, rule_outcome_vectors
from forecast.scenario import EvidenceItem
from tests.paths import TESTS, TINY


def _scenarios(tmp_path_factory):
    out = [forecast.load_scenario(TINY)]
    for seed in (1, 2, 3):
        out.append(
            random_scenario(
                np.random.default_rng(seed),
                folder=tmp_path_factory.mktemp(f"r{seed}"),
                n_nodes=3,
                n_months=5,
            )
        )
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
        values = model.compile_fn(
            model.replace_rvs_by_values([by_rule[r.name] for r in scenario.rules])
        )
        for _ in range(3):
            point = {
                k: v + rng.normal(0, 0.7, size=np.shape(v))
                for k, v in model.initial_point().items()
            }
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


KURSK = TESTS.parent / "scenarios" / "kursk_2024.yaml"
AS_OF_CASES = [
    (KURSK, dt.date(2024, 9, 30)),
    (KURSK, dt.date(2025, 3, 31)),
    (TINY, dt.date(2024, 1, 31)),
]


def _contradicting(scenario, full: list[np.ndarray], as_of: dt.date) -> list[EvidenceItem]:
    """For every month after the cut-off month and every node, an observation of a state the
    real evidence does not give: the node's last state, or its first where the real row is
    already the last state alone."""
    items = []
    for node, matrix in zip(scenario.nodes, full, strict=True):
        for t in range(scenario.timeline.step_of(as_of) + 1, scenario.timeline.n_steps):
            k = node.n_states - 1
            if matrix[t].sum() == 1 and matrix[t, k] == 1:
                k = 0
            date = scenario.timeline.month_end_date(t)
            items.append(
                EvidenceItem(
                    node.name,
                    date,
                    date,
                    (node.states[k],),
                    "contradiction",
                    f"test:{node.name}:{t}",
                )
            )
    return items


def _parameter_points(scenario, n: int = 3) -> list[list[np.ndarray]]:
    """The central point and random interior points of the rule parameters."""
    rng = np.random.default_rng(7)
    points = [central_params(scenario)]
    for _ in range(n - 1):
        points.append([rng.dirichlet(np.ones(len(r.destinations) + 1)) for r in scenario.rules])
    return points


def _same_result(a, b) -> None:
    assert a.loglik == b.loglik
    assert a.questions == b.questions
    assert a.marginals.keys() == b.marginals.keys()
    for name in a.marginals:
        assert_array_equal(a.marginals[name], b.marginals[name])


@pytest.mark.parametrize(
    ("path", "as_of"), AS_OF_CASES, ids=lambda v: v.stem if isinstance(v, Path) else str(v)
)
def test_as_of_hides_later_evidence(path: Path, as_of: dt.date) -> None:
    """Evidence known after the cut-off cannot change a forecast made as of it."""
    scenario = forecast.load_scenario(path)
    engine = ExactEngine(scenario)
    cut_step = scenario.timeline.step_of(as_of)
    # (a) the as-of evidence is what was known by then; some evidence came later
    kept = scenario.evidence_as_of(as_of)
    assert all(e.known_on <= as_of for e in kept)
    later = [e for e in scenario.evidence if e.known_on > as_of]
    assert later
    assert len(kept) + len(later) == len(scenario.evidence)
    cut, full = engine.evidence(as_of), engine.evidence()
    for matrix in cut:  # no month after the cut-off is observed in the as-of matrices
        assert_array_equal(matrix[cut_step + 1 :], 1.0)
    assert any(np.any(matrix[cut_step + 1 :] != 1.0) for matrix in full)
    # (b) replace everything known later by contradicting observations, or remove it
    contradicted = dataclasses.replace(
        scenario, evidence=(*kept, *_contradicting(scenario, full, as_of)), superseded=()
    )
    removed = dataclasses.replace(scenario, evidence=kept, superseded=())
    altered_full = evidence_matrices(contradicted, contradicted.evidence)
    for real, altered, known in zip(full, altered_full, cut, strict=True):
        assert_array_equal(altered[: cut_step + 1], known[: cut_step + 1])
        for t in range(cut_step + 1, scenario.timeline.n_steps):
            assert altered[t].sum() == 1 and not np.array_equal(altered[t], real[t])
    for params in _parameter_points(scenario):
        expected = engine.run(params, cut)
        assert np.isfinite(expected.loglik)
        for other in (contradicted, removed):
            other_engine = ExactEngine(other)
            other_cut = other_engine.evidence(as_of)
            for a, b in zip(cut, other_cut, strict=True):
                assert_array_equal(a, b)
            _same_result(other_engine.run(params, other_cut), expected)
            assert other_engine.loglik(params, other_cut) == engine.loglik(params, cut)
        # not vacuous: the later evidence, real or contradicted, does move the answers
        assert engine.run(params, full).loglik != expected.loglik
        assert engine.loglik(params, altered_full) != engine.loglik(params, full)


@pytest.mark.parametrize("path", [KURSK, TINY], ids=lambda v: v.stem)
def test_set_evidence_puts_the_as_of_matrices_in_the_model(path: Path) -> None:
    """(c) ScenarioFitter.set_evidence(as_of) puts exactly the as-of matrices in the model's
    pm.Data, and the model's evidence term is then the exact log-likelihood of those."""
    scenario = forecast.load_scenario(path)
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(chains=1, cores=1))
    engine = fitter.engine
    model = fitter.model
    by_rule = rule_outcome_vectors(model, fitter.priors)
    evaluate = model.compile_fn(
        model.replace_rvs_by_values([model["evidence"], *(by_rule[r.name] for r in scenario.rules)])
    )
    point = model.initial_point()
    dates = [as_of for p, as_of in AS_OF_CASES if p == path]
    logliks = {}
    for as_of in [*dates, None, *reversed(dates)]:
        returned = fitter.set_evidence(as_of)
        expected = engine.evidence(as_of)
        for node, want, got in zip(scenario.nodes, expected, returned, strict=True):
            assert_array_equal(got, want)
            assert_array_equal(model[f"evidence__{node.name}"].get_value(), want)
        loglik, *params = evaluate(point)
        assert_allclose(
            loglik, engine.loglik([np.asarray(p) for p in params], expected), rtol=1e-10, atol=1e-12
        )
        logliks.setdefault(as_of, float(loglik))
        assert float(loglik) == logliks[as_of]  # switching back restores the same data
    assert all(logliks[None] != logliks[as_of] for as_of in dates)
    assert fitter.compiles == 0  # no sampler was built


@pytest.fixture(scope="module")
def tiny_fit():
    scenario = forecast.load_scenario(TINY)
    fitter = ScenarioFitter(
        scenario, sampler=SamplerConfig(draws=1000, tune=1000, chains=2, cores=2)
    )
    return fitter, fitter.fit(seed=11)


def assert_matches_importance_sampling(
    fitter: ScenarioFitter, idata, n_draws: int, seed: int
) -> None:
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
    # a question the evidence settles is constant across draws: its MCSE is undefined (NaN)
    with np.errstate(invalid="ignore"):
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


@pytest.mark.parametrize(
    ("seed", "backend"), [(4, "nutpie"), (5, "nutpie"), (6, "nutpie"), (4, "pymc")]
)
def test_random_scenario_posterior_matches_importance_sampling(tmp_path, seed, backend) -> None:
    scenario = random_scenario(
        np.random.default_rng(seed), folder=tmp_path, n_nodes=3, n_months=6, evidence_rate=0.25
    )
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=1000, tune=1000, backend=backend))
    idata = fitter.fit(seed=seed)
    assert idata.posterior.attrs["sampler_backend"] == backend
    assert_matches_importance_sampling(fitter, idata, 20_000, seed=seed)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("backend", "stan", "backend must be one of nutpie, pymc"),
        ("draws", 0, "draws must be at least 1"),
        ("tune", -1, "tune must be at least 0"),
        ("target_accept", 1.0, "target_accept must be in"),
    ],
)
def test_sampler_config_rejects_bad_settings(field, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        SamplerConfig(**{field: value})


def test_nutpie_and_pymc_backends_agree_on_kursk_as_of_the_article() -> None:
    """Both samplers, same model: posterior means within 4 combined MCSE."""
    import arviz as az

    scenario = forecast.load_scenario(TESTS.parent / "scenarios" / "kursk_2024.yaml")
    fits = {}
    for backend in ("nutpie", "pymc"):
        fitter = ScenarioFitter(
            scenario, sampler=SamplerConfig(draws=500, tune=500, backend=backend)
        )
        fits[backend] = fitter.fit(as_of=dt.date(2024, 9, 30), seed=8)
    means = {
        b: f.posterior["question_prob"].mean(("chain", "draw")).values for b, f in fits.items()
    }
    mcse = {
        b: np.nan_to_num(az.mcse(f, var_names=["question_prob"])["question_prob"].values)
        for b, f in fits.items()
    }
    tolerance = 4 * np.hypot(mcse["nutpie"], mcse["pymc"]) + 1e-9
    assert np.all(np.abs(means["nutpie"] - means["pymc"]) < tolerance)


@pytest.mark.slow
def test_kursk_posterior_matches_importance_sampling() -> None:
    scenario = forecast.load_scenario(TESTS.parent / "scenarios" / "kursk_2024.yaml")
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


def test_fit_labels_every_dimension(tiny_fit) -> None:
    """Every dimension of the posterior and prior carries the scenario's labels as coordinates
    (months, states, questions, rule outcomes), so ``.sel`` by name works."""
    fitter, idata = tiny_fit
    for group in ("posterior", "prior"):
        data = idata[group]
        for dim in data.dims:
            if dim in ("chain", "draw"):
                continue
            assert dim in data.coords, (group, dim)
            if dim in fitter.coords:
                assert list(data[dim].values) == list(fitter.coords[dim]), (group, dim)
    node = fitter.scenario.nodes[0]
    month = fitter.coords["month"][-1]
    state = node.states[-1]
    marginal = idata.posterior[f"p_{node.name}"].sel(month=month, **{f"{node.name}_state": state})
    assert marginal.sizes == {
        "chain": idata.posterior.sizes["chain"],
        "draw": idata.posterior.sizes["draw"],
    }


def test_the_nutpie_path_does_not_import_pymc_and_keeps_its_logger_quiet(tmp_path) -> None:
    """PyMC is imported only when needed (PreliZ on an empty result cache, the PyMC backend, a
    hierarchical pool), and importing it keeps a level the user set on the ``pymc`` logger
    before; with the result cache filled, a fit with the default backend never imports it."""
    import os
    import subprocess
    import sys

    from forecast.engine.compile_cache import kernel_cache_folder

    code = (
        "import logging, sys\n"
        "logging.getLogger('pymc').setLevel(logging.ERROR)\n"
        "import forecast\n"
        "from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter\n"
        "from forecast.engine.synthetic import random_scenario\n"
        "import numpy as np, tempfile, pathlib\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        "scenario = random_scenario(np.random.default_rng(0), folder=folder, n_nodes=2,\n"
        "                           n_months=2)\n"
        "fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=5, tune=5, chains=1,\n"
        "                                                        cores=1))\n"
        "fitter.fit(seed=1)\n"
        "print('pymc after nutpie fit:', 'pymc' in sys.modules)\n"
        "fitter.model\n"
        "print('pymc level:', logging.getLevelName(logging.getLogger('pymc').level))\n"
    )
    # an empty result cache (PreliZ fits the judgements), numba's compiled kernels re-used
    env = {
        **os.environ,
        "FORECAST_CACHE_DIR": str(tmp_path),
        "NUMBA_CACHE_DIR": str(kernel_cache_folder()),
    }
    for run, imported in (("cold result cache", True), ("filled result cache", False)):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env
        )
        report = f"{run}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert done.returncode == 0, report
        assert f"pymc after nutpie fit: {imported}" in done.stdout, report
        assert "pymc level: ERROR" in done.stdout, report


def test_sample_refuses_impossible_evidence_and_samples_possible_evidence() -> None:
    import forecast
    from forecast.engine.exact import evidence_matrices
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter
    from tests.paths import TINY

    scenario = forecast.load_scenario(TINY)
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=100, tune=100, chains=2, cores=1))
    evidence = evidence_matrices(scenario, scenario.evidence)
    params, divergences = fitter.sample(evidence, seed=4)
    assert params[0].shape[0] == 200 and divergences >= 0
    impossible = [m.copy() for m in evidence]
    impossible[0][0] = 0.0  # no state of the first node is possible in month 0
    with pytest.raises(ValueError, match="probability zero for every parameter value"):
        fitter.sample(impossible, seed=4)


def test_rules_no_evidence_reaches_are_drawn_exactly_from_their_prior() -> None:
    """Before any evidence, b's rule from 'mid' (empty until a month has passed) is not read.

    Its draws are then independent draws of its Dirichlet prior (no autocorrelation, the
    prior's mean), the fit says so, and the rules the evidence reaches are left to NUTS.
    """
    import arviz as az

    scenario = forecast.load_scenario(TINY)
    fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=1000, tune=500))
    idata = fitter.fit(as_of=dt.date(2024, 1, 31), seed=21)
    rule = "b:mid"
    assert idata.posterior.attrs["rules_drawn_exactly"] == rule
    draws = idata.posterior[rule].values.reshape(-1, 3)  # (stay, low, high)
    alpha = np.array([3.0, 1.0, 2.0])
    mean = alpha / alpha.sum()
    sd = np.sqrt(mean * (1 - mean) / (alpha.sum() + 1))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * sd / np.sqrt(len(draws)))
    lag1 = np.corrcoef(draws[:-1, 0], draws[1:, 0])[0, 1]
    assert abs(lag1) < 4 / np.sqrt(len(draws))
    assert float(az.ess(idata.posterior[[rule]])[rule].min()) > 0.8 * len(draws)
    # with the February observation every rule is read, and none is drawn apart
    assert fitter.fit(seed=21).posterior.attrs["rules_drawn_exactly"] == "none"
