"""Many NUTS fits of one scenario: in this process or on a Dask cluster, the same draws."""

from __future__ import annotations

import numpy as np
import pytest

import forecast
from forecast.analysis.counterfactuals import tornado_table
from forecast.analysis.evaluation import Replay, replay_dates
from forecast.analysis.refits import FitJob, FitProblem, FitsFailed, run_fits
from forecast.analysis.summaries.outcomes import evidence_cutoff
from tests.conftest import AS_OF, OUTCOMES, TINY


def _mean_rule_draws(idata, fitter):
    """A summary of a fit: every rule parameter's posterior mean (small and picklable)."""
    return {name: float(idata.posterior[name].mean()) for name in idata.posterior.data_vars}


class _FailOn:
    """A summary that raises for fits of one cut-off."""

    def __init__(self, as_of):
        self.as_of = as_of

    def __call__(self, idata, fitter):
        if evidence_cutoff(idata) == self.as_of:
            raise RuntimeError("this cut-off fails")
        return _mean_rule_draws(idata, fitter)


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster of 2 worker processes for the module, given to the fits by address."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("refits") / "tiny_outcomes.yaml"
    path.write_text(TINY.read_text() + OUTCOMES)
    return forecast.ScenarioModel.from_file(path)


@pytest.fixture(scope="module")
def problem(tiny_fitter):
    return FitProblem(tiny_fitter.scenario, tiny_fitter.priors, tiny_fitter.sampler)


def _jobs(tiny_fitter):
    flat = tiny_fitter.priors.replace(
        tiny_fitter.priors.rules[0].rule, np.ones_like(tiny_fitter.priors.rules[0].alpha)
    )
    return [FitJob(AS_OF, 3), FitJob(None, 3), FitJob(None, 3, flat), FitJob(None, 4)]


def test_fits_in_this_process_restore_the_priors_and_follow_the_job(tiny_fitter, problem):
    original = tiny_fitter.priors
    jobs = _jobs(tiny_fitter)
    got = run_fits(problem, jobs, _mean_rule_draws, fitter=tiny_fitter)
    assert tiny_fitter.priors is original
    assert sorted(got) == [0, 1, 2, 3]
    alone = _mean_rule_draws(tiny_fitter.fit(as_of=None, seed=3), tiny_fitter)
    assert got[1] == alone  # a job is the fit itself
    assert got[1] != got[0] and got[1] != got[2] and got[1] != got[3]


def test_a_cluster_gives_the_draws_of_this_process(tiny_fitter, problem, cluster):
    jobs = _jobs(tiny_fitter)
    here = run_fits(problem, jobs, _mean_rule_draws, fitter=tiny_fitter)
    there = run_fits(problem, jobs, _mean_rule_draws, scheduler=cluster)
    assert there == here


def test_a_failing_fit_is_named_and_the_others_are_kept(tiny_fitter, problem, cluster):
    jobs = [FitJob(AS_OF, 3), FitJob(None, 3)]
    kept = {}
    with pytest.raises(FitsFailed, match=r"1 of 2 fits failed: job 0 \(as of 2024-01-31\)"):
        run_fits(problem, jobs, _FailOn(AS_OF), scheduler=cluster, on_result=kept.__setitem__)
    assert list(kept) == [1]


def test_ctrl_c_keeps_the_fits_made_so_far(tiny_fitter, problem):
    calls = []

    def summarise(idata, fitter):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return 1.0

    kept = {}
    with pytest.raises(KeyboardInterrupt):
        run_fits(
            problem, _jobs(tiny_fitter), summarise, fitter=tiny_fitter, on_result=kept.__setitem__
        )
    assert kept == {0: 1.0}


def test_nuts_backtest_on_a_cluster_equals_the_one_in_this_process(tiny, tiny_fitter, cluster):
    dates = replay_dates(tiny)
    here = Replay(tiny, method="nuts", fitter=tiny_fitter, seed=3).table(dates)
    sweep = Replay(tiny, method="nuts", fitter=tiny_fitter, seed=3, scheduler=cluster)
    there = sweep.table(dates)
    assert sorted(sweep._nuts_params) == dates  # every cut-off fitted on the cluster
    assert there.equals(here)


def test_front_door_backtest_and_score_take_a_scheduler(tiny, tiny_model, cluster):
    model = tiny_model
    sampler = {"draws": 100, "tune": 100, "chains": 2, "cores": 1}
    replay = model.backtest(method="nuts", sampler=sampler, seed=3, scheduler=cluster)
    assert replay.scheduler == cluster
    table = replay.table()
    assert set(table["as_of"]) == set(replay_dates(tiny))
    with pytest.raises(TypeError, match="scheduler must be None"):
        model.backtest(method="nuts", sampler=sampler, scheduler=2)
    with pytest.raises(ValueError, match="workers"):
        model.backtest(method="nuts", sampler=sampler, workers=0)


def test_tornado_refits_on_a_cluster_equal_those_in_this_process(
    tiny, tiny_fitter, tiny_fits, cluster
):
    fit = tiny_fits["all evidence"]
    kwargs = dict(
        recompute="refit", k_threshold=-1.0, fitter=tiny_fitter, outcomes=["b_mid"], seed=4
    )
    here = tornado_table(fit, tiny, **kwargs)
    there = tornado_table(fit, tiny, scheduler=cluster, **kwargs)
    assert set(here["method_low"]) == {"re-fitted"}
    assert there.equals(here)


def test_the_fit_tornado_can_refit(tiny_model):
    fit = tiny_model.fit(sampler={"draws": 100, "tune": 100, "chains": 2, "cores": 1}, seed=2)
    table = fit.tornado(outcomes=["b_mid"], recompute="refit", top=1)
    assert {"reweighted", "re-fitted"} >= set(table["method_low"]) | set(table["method_high"])
