"""Many NUTS fits of one scenario: in this process, or on a sweep with a fitter per worker.

The backtest replay with ``method="nuts"`` (a fit per evidence cut-off), the tornado with
``recompute="refit"`` (a fit per flagged end) and simulation-based calibration run many
independent fits of one scenario. :func:`run_fits` runs them either with the caller's fitter
in this process (``scheduler="sync"``) or on :func:`~forecast.analysis.sweeps.run_sweep`
(a Dask ``LocalCluster`` or a running cluster): each worker process builds the scenario's
fitter once (:func:`worker_fitter`) and re-uses it for every fit it is given, changing only
the priors and the evidence cut-off. A fit depends on its job only (cut-off, priors, seed),
so the two ways give the same draws.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from forecast.analysis.sweeps import SYNC, run_sweep

if TYPE_CHECKING:
    from forecast.elicitation import Priors
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter
    from forecast.scenario.validated import Scenario

__all__ = ["FitJob", "FitProblem", "FitsFailed", "run_fits", "worker_fitter"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitProblem:
    """What every fit of a sweep shares, sent once to each worker.

    Attributes
    ----------
    scenario : Scenario
        The scenario fitted.
    priors : Priors
        The priors of a job that gives none.
    sampler : SamplerConfig
        NUTS settings of every fit.
    """

    scenario: Scenario
    priors: Priors
    sampler: SamplerConfig

    @property
    def key(self) -> tuple[str, SamplerConfig]:
        """Identity of the fitter a worker builds for this problem (priors are set per job)."""
        return (self.scenario.hash, self.sampler)


@dataclass(frozen=True)
class FitJob:
    """One fit: the evidence known by ``as_of`` (None: all), under ``priors``, with ``seed``."""

    as_of: dt.date | None
    seed: int
    priors: Priors | None = None


class FitsFailed(RuntimeError):
    """Some fits of a sweep failed after their retries; ``failed`` maps job index to error."""

    def __init__(self, failed: dict[int, str], jobs: Sequence[FitJob]) -> None:
        self.failed = failed
        lines = [f"job {i} (as of {jobs[i].as_of}): {error}" for i, error in sorted(failed.items())]
        super().__init__(f"{len(failed)} of {len(jobs)} fits failed: " + "; ".join(lines))


_FITTERS: dict[Any, ScenarioFitter] = {}
"""Per process: the fitter of each problem, built by its first job and re-used."""


def worker_fitter(problem: FitProblem, priors: Priors | None = None) -> ScenarioFitter:
    """The fitter of a problem in this process (compiled once per process), holding ``priors``.

    Parameters
    ----------
    problem : FitProblem
        The scenario and sampler settings.
    priors : Priors, optional
        The priors to hold (default: the problem's).
    """
    from forecast.pymc_backend.fitting import ScenarioFitter

    priors = problem.priors if priors is None else priors
    fitter = _FITTERS.get(problem.key)
    if fitter is None:
        fitter = ScenarioFitter(problem.scenario, priors, problem.sampler)
        _FITTERS[problem.key] = fitter
    elif fitter.priors is not priors:
        fitter.set_priors(priors)
    return fitter


def _fit_job(
    fitter: ScenarioFitter, job: FitJob, default: Priors, summarise: Callable[..., Any]
) -> Any:
    """Fit one job with a fitter and summarise the fit (its priors set for the job)."""
    priors = default if job.priors is None else job.priors
    if fitter.priors is not priors:
        fitter.set_priors(priors)
    idata = fitter.fit(as_of=job.as_of, seed=job.seed)
    return summarise(idata, fitter)


def _sweep_task(
    i: int, seed: int, problem: FitProblem, jobs: Sequence[FitJob], summarise: Callable[..., Any]
) -> Any:
    """A sweep task: job ``i`` on this worker's fitter (the sweep's seed is not used)."""
    return _fit_job(worker_fitter(problem), jobs[i], problem.priors, summarise)


def run_fits(
    problem: FitProblem,
    jobs: Sequence[FitJob],
    summarise: Callable[[Any, ScenarioFitter], Any],
    scheduler: str | None = SYNC,
    workers: int = 2,
    progress: bool = False,
    fitter: ScenarioFitter | None = None,
    on_result: Callable[[int, Any], None] | None = None,
    description: str = "fits",
) -> dict[int, Any]:
    """Run NUTS fits and gather a summary of each.

    Parameters
    ----------
    problem : FitProblem
        The scenario, default priors and sampler settings.
    jobs : sequence of FitJob
        The fits.
    summarise : callable
        ``summarise(idata, fitter)`` -> what is kept of a fit (small and picklable, as it
        travels back from a worker); a module-level function or a picklable object.
    scheduler : str, optional
        ``"sync"`` (default): one after another in this process, with ``fitter``;
        None: a new Dask ``LocalCluster`` of ``workers`` processes; otherwise the address of
        a running Dask scheduler.
    workers : int
        Worker processes of the local cluster.
    progress : bool
        Show a progress bar (sweeps only).
    fitter : ScenarioFitter, optional
        In this process: the fitter to use (its priors are restored afterwards); default
        this process's :func:`worker_fitter`.
    on_result : callable, optional
        ``on_result(i, summary)`` as each fit finishes, so that a caller keeps finished fits
        when the run is interrupted.
    description : str
        The progress bar's label.

    Returns
    -------
    dict
        Job index -> summary, for every job.

    Raises
    ------
    FitsFailed
        If a fit failed (after its retries on a sweep); the others are passed to ``on_result``.
    KeyboardInterrupt
        On Ctrl-C, after the finished fits were passed to ``on_result``.
    """
    results: dict[int, Any] = {}

    def keep(i: int, summary: Any) -> None:
        results[i] = summary
        if on_result is not None:
            on_result(i, summary)

    if scheduler == SYNC:
        fitter = fitter if fitter is not None else worker_fitter(problem)
        original = fitter.priors
        try:
            for i, job in enumerate(jobs):
                keep(i, _fit_job(fitter, job, problem.priors, summarise))
        finally:
            if fitter.priors is not original:
                fitter.set_priors(original)
        return results
    outcome = run_sweep(
        _sweep_task,
        len(jobs),
        0,
        args=(problem, tuple(jobs), summarise),
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        on_result=keep,
        description=description,
    )
    logger.info(
        "%d fits on %s in %.1f s (%d failed)",
        len(results),
        outcome.scheduler,
        outcome.seconds,
        len(outcome.failed),
    )
    if outcome.interrupted:
        raise KeyboardInterrupt
    if outcome.failed:
        raise FitsFailed(outcome.failed, jobs)
    return results
