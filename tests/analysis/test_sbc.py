"""Simulation-based calibration: a right model passes, a broken likelihood or prior fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast.analysis.evaluation.sbc import (
    SBCSettings,
    chi_square,
    draw_parameters,
    ecdf_band,
    ecdf_inside,
    evidence_of_path,
    observed_cells,
    ranks_of,
    replicate,
    run_sbc,
    simulate_path,
    swapped_evidence,
    uniformity_tests,
)
from forecast.analysis.sweeps import FailOnce, run_sweep
from forecast.api.loading import load_scenario
from forecast.elicitation import Priors, RulePrior, elicit
from forecast.engine import ExactEngine
from forecast.engine.synthetic import random_scenario
from tests.paths import TINY

N = 80
"""Replications of the fast SBC: enough for a swapped observation or a wrong prior to fail."""

FAST = SBCSettings(draws=150, tune=150)


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """``tiny_chain`` observed more often: ``a`` in three more months, ``b`` in two."""
    text = TINY.read_text(encoding="utf-8")
    extra = "".join(
        f"    - {{node: a, date: 2024-0{m}-20, state: no, source: s}}\n" for m in (1, 3, 4)
    ) + "".join(f"    - {{node: b, date: 2024-0{m}-20, state: low, source: s}}\n" for m in (2, 4))
    path = tmp_path_factory.mktemp("sbc") / "tiny_observed.yaml"
    path.write_text(text.replace("questions:", extra + "questions:"), encoding="utf-8")
    scenario = load_scenario(path)
    return scenario, elicit(scenario)


# -- the fast SBC ------------------------------------------------------------------------------


def test_the_fit_is_calibrated(observed):
    scenario, priors = observed
    report = run_sbc(scenario, priors, N, seed=1, settings=FAST, scheduler="sync", progress=False)
    assert report.complete and report.passed, report.summary_line() + "\n" + str(report.tests)
    assert report.summary_line().startswith("SBC PASS")
    # every rule parameter and every question is ranked
    assert report.ranks.shape == (N, 6 + len(scenario.questions))
    assert report.ranks.to_numpy().min() >= 0 and report.ranks.to_numpy().max() <= 99
    assert (report.runs["min_ess"] >= FAST.thin_to).mean() > 0.9


@pytest.mark.parametrize("corrupt", ["swap_evidence", "wrong_prior"])
def test_a_broken_likelihood_or_prior_fails(observed, corrupt):
    scenario, priors = observed
    settings = SBCSettings(draws=150, tune=150, corrupt=corrupt)
    report = run_sbc(
        scenario, priors, N, seed=1, settings=settings, scheduler="sync", progress=False
    )
    assert not report.passed
    assert report.summary_line().startswith("SBC FAIL")
    assert len(report.failing()) >= 2, report.tests


def test_a_small_random_scenario_is_calibrated(tmp_path):
    scenario = random_scenario(
        np.random.default_rng(3), tmp_path, n_nodes=2, max_states=2, n_months=3, evidence_rate=0.5
    )
    report = run_sbc(
        scenario, elicit(scenario), 60, seed=2, settings=FAST, scheduler="sync", progress=False
    )
    assert report.passed, report.summary_line() + "\n" + str(report.tests)


def test_dask_retries_a_dead_worker_and_a_failing_task(observed, tmp_path):
    """On a LocalCluster of 2 workers: one task kills its worker, one raises, both once.

    The retried tasks finish, nothing is lost, and the ranks equal those of the in-process
    loop (each replication is seeded by ``[seed, i]`` alone).
    """
    scenario, priors = observed
    n = 10
    task = FailOnce(FailOnce(replicate, tmp_path, [3], "raise"), tmp_path, [1], "exit")
    report = run_sbc(
        scenario, priors, n, seed=5, settings=FAST, workers=2, progress=False, task=task
    )
    assert report.scheduler == "local cluster (2 workers)"
    assert report.complete and not report.failed
    assert (tmp_path / "failed-once-1").exists() and (tmp_path / "failed-once-3").exists()
    local = run_sbc(scenario, priors, n, seed=5, settings=FAST, scheduler="sync", progress=False)
    pd.testing.assert_frame_equal(report.ranks, local.ranks)


def test_front_door_writes_ranks_as_they_finish(observed, tmp_path):
    scenario, _ = observed
    result = forecast.sbc(
        scenario, n=12, seed=4, draws=100, scheduler="sync", progress=False, out=tmp_path / "o"
    )
    assert isinstance(result, forecast.api.calibration.SBCResult)
    partial = pd.read_csv(tmp_path / "o" / "ranks_partial.csv", index_col="replication")
    pd.testing.assert_frame_equal(partial, result.ranks, check_names=False)
    for name in ("ranks.csv", "tests.csv", "runs.csv", "summary.txt", "sbc_ranks.png"):
        assert (tmp_path / "o" / name).stat().st_size > 0
    assert (tmp_path / "o" / "sbc_ranks_ecdf.png").exists()
    assert (tmp_path / "o" / "summary.txt").read_text().strip() == result.summary_line()
    assert list(result.tests.columns[:3]) == ["quantity", "chi2", "chi2_p"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be"),
        ({"n": 2.5}, "n must be"),
        ({"seed": -1}, "seed must be"),
        ({"draws": True}, "draws must be"),
        ({"corrupt": "nonsense"}, "corrupt must be"),
        ({"alpha": 1.5}, "alpha must be"),
    ],
)
def test_front_door_refuses_bad_arguments(observed, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        forecast.sbc(observed[0], **{"scheduler": "sync", "progress": False, **kwargs})


def test_front_door_refuses_a_non_scenario():
    with pytest.raises(TypeError, match="scenario_or_model must be"):
        forecast.sbc({"id": "x"}, n=2, scheduler="sync")


# -- the sweep ---------------------------------------------------------------------------------


def _square_or_stop(i, seed):
    if i == 4:
        raise KeyboardInterrupt
    return i * i + seed


def _fails_for_three(i, seed):
    if i == 3:
        raise ValueError("always")
    return i


def test_an_interrupted_sweep_keeps_what_finished():
    seen = []
    outcome = run_sweep(
        _square_or_stop,
        10,
        1,
        scheduler="sync",
        progress=False,
        on_result=lambda i, r: seen.append(i),
    )
    assert outcome.interrupted
    assert outcome.results == {0: 1, 1: 2, 2: 5, 3: 10}
    assert seen == [0, 1, 2, 3]


def test_a_task_failing_every_retry_is_reported_not_raised():
    outcome = run_sweep(_fails_for_three, 5, 0, scheduler="sync", progress=False)
    assert sorted(outcome.results) == [0, 1, 2, 4]
    assert outcome.failed == {3: "ValueError: always"}


# -- the pieces --------------------------------------------------------------------------------


def test_prior_draws_include_the_reference_class():
    priors = Priors([RulePrior("r", ("stay", "go"), np.array([2.0, 2.0]), counts=np.array([6, 0]))])
    draws = np.array(
        [draw_parameters(priors, np.random.default_rng([0, k]))[0] for k in range(4000)]
    )
    # Beta(2, 2) times 6 "stays" of 6 cases: Beta(8, 2), mean 0.8 of staying
    assert draws[:, 0].mean() == pytest.approx(0.8, abs=0.01)


def test_simulated_paths_follow_the_chain(observed):
    scenario, priors = observed
    engine = ExactEngine(scenario)
    high = scenario.node("b").state_index("high")
    b = scenario.node_index["b"]
    paths = []
    for k in range(300):
        rng = np.random.default_rng([7, k])
        path = simulate_path(engine, draw_parameters(priors, rng), rng)
        paths.append(path)
        reached = np.flatnonzero(path[:, b] == high)
        if reached.size:  # absorbing: b stays high once there
            assert np.all(path[reached[0] :, b] == high)
    # the simulated evidence is always possible, the swapped one kept possible
    rng = np.random.default_rng(0)
    for path in paths[:50]:
        params = draw_parameters(priors, rng)
        ev = evidence_of_path(scenario, path, observed_cells(scenario))
        assert np.isfinite(engine.loglik(params, ev))
        assert np.isfinite(engine.loglik(params, swapped_evidence(engine, ev)))
    # at fixed parameters, a's share of "yes" in January is the exact engine's marginal
    fixed = priors.means()
    rng = np.random.default_rng(1)
    sims = np.array([simulate_path(engine, fixed, rng)[0, 0] for _ in range(4000)])
    expected = engine.run([p[None] for p in fixed]).marginals["a"][0, 0, 1]
    assert sims.mean() == pytest.approx(expected, abs=0.025)


def test_ties_are_broken_at_random():
    rng = np.random.default_rng(0)
    draws = np.full((99, 1), 0.5)
    ranks = np.array([ranks_of(np.array([0.5]), draws, rng)[0] for _ in range(5000)])
    assert ranks.min() == 0 and ranks.max() == 99
    assert ranks.mean() == pytest.approx(49.5, abs=1.5)
    assert ranks_of(np.array([0.7]), np.linspace(0, 1, 99)[:, None], rng)[0] == 69


def test_uniform_ranks_pass_and_skewed_ranks_fail():
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 100, 100)
    skewed = np.minimum(99, (rng.beta(3, 3, 100) * 100).astype(int))  # too wide a posterior
    assert chi_square(uniform, 100, 10)[1] > 0.01
    assert chi_square(np.minimum(99, rng.integers(0, 100, 100) + 20), 100, 10)[1] < 1e-4
    tests = uniformity_tests(pd.DataFrame({"u": uniform, "s": skewed}), 100)
    assert tests.set_index("quantity").loc["u", "passed"]
    assert not tests.set_index("quantity").loc["s", "ecdf_pass"]


def test_the_ecdf_band_is_simultaneous():
    """Uniform ranks leave the 95% band about 5% of the time (not 5% per point)."""
    band = ecdf_band(60, 100, 0.05)
    rng = np.random.default_rng(11)
    outside = np.mean([not ecdf_inside(rng.integers(0, 100, 60), 100, band) for _ in range(2000)])
    assert 0.025 < outside < 0.075
