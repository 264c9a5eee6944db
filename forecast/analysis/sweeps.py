"""Sweeps of many independent, seeded tasks: in process, or on Dask ``dask.distributed``.

A sweep calls ``fn(i, seed, *args)`` for ``i = 0 .. n - 1``; task ``i`` draws its random
numbers from ``np.random.default_rng([seed, i])``, so a result depends on ``(seed, i)`` only,
not on the worker, the order or the retries. On Dask (a ``LocalCluster`` of processes with
one thread each by default, or an existing cluster by its address), results are gathered as
they finish (``as_completed``), each task is retried (``retries``) when it raises or its worker
dies, and Ctrl-C keeps what has finished. ``dask`` is imported inside the functions, so
``import forecast`` stays light.

Simulation-based calibration (:mod:`forecast.analysis.evaluation.sbc`) runs on it; the
backtest replay and the tornado can hand it their fits the same way.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SYNC = "sync"
"""``scheduler=SYNC``: a plain loop in this process (no Dask), for tests and debugging."""

RETRIES = 2
"""Times a failed task is re-run (an exception, or its worker died) before it is given up."""


@dataclass
class SweepOutcome:
    """What a sweep gathered.

    Attributes
    ----------
    results : dict
        Task index -> result, for every task that finished (in the order they finished).
    failed : dict
        Task index -> the last error of a task that failed after its retries.
    interrupted : bool
        Whether the sweep was stopped (Ctrl-C) before every task had finished.
    seconds : float
        Wall time of the sweep.
    scheduler : str
        ``"sync"``, ``"local cluster (N workers)"`` or the address of the cluster.
    """

    results: dict[int, Any] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    interrupted: bool = False
    seconds: float = 0.0
    scheduler: str = SYNC


class FailOnce:
    """A task that fails on its first call for listed indices, then runs ``fn`` (for tests).

    The first call for an index leaves a marker file in ``folder`` (shared by every worker
    process on the machine), so the retry sees it and succeeds. ``mode="raise"`` raises
    RuntimeError; ``mode="exit"`` ends the worker process at once (``os._exit``), as a crash
    or an out-of-memory kill would.
    """

    def __init__(
        self, fn: Callable[..., Any], folder: str | Path, indices: Sequence[int], mode: str
    ) -> None:
        if mode not in ("raise", "exit"):
            raise ValueError(f"mode must be 'raise' or 'exit', got {mode!r}")
        self.fn = fn
        self.folder = str(folder)
        self.indices = frozenset(int(i) for i in indices)
        self.mode = mode

    def __call__(self, i: int, seed: int, *args: Any) -> Any:
        """Fail the first time for a listed index, else run the task."""
        if i in self.indices:
            marker = Path(self.folder) / f"failed-once-{i}"
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                if self.mode == "exit":
                    os._exit(1)
                raise RuntimeError(f"task {i} fails once (test)")
        return self.fn(i, seed, *args)


def _progress(total: int, enabled: bool, description: str) -> Any:
    """A tqdm bar (or a stand-in that does nothing)."""
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=description, unit="task", smoothing=0.1)
        except ImportError:  # pragma: no cover - tqdm comes with dask's dependencies here
            pass

    class _Silent:
        def update(self, k: int = 1) -> None:
            pass

        def set_postfix_str(self, s: str) -> None:
            pass

        def close(self) -> None:
            pass

    return _Silent()


def run_sweep(
    fn: Callable[..., Any],
    n: int,
    seed: int,
    args: Sequence[Any] = (),
    scheduler: str | None = None,
    workers: int = 2,
    progress: bool = True,
    retries: int = RETRIES,
    on_result: Callable[[int, Any], None] | None = None,
    description: str = "sweep",
) -> SweepOutcome:
    """Run ``fn(i, seed, *args)`` for ``i`` in ``range(n)`` and gather the results.

    Parameters
    ----------
    fn : callable
        A module-level function (or a picklable callable); it seeds itself from ``(seed, i)``.
    n : int
        Number of tasks.
    seed : int
        The sweep's seed.
    args : sequence
        Further arguments, the same for every task (sent to each worker once).
    scheduler : str, optional
        None: a new ``LocalCluster`` of ``workers`` processes with one thread each, closed at
        the end; ``"sync"``: a loop in this process; otherwise the address of a running
        Dask scheduler (``"tcp://host:8786"``).
    workers : int
        Worker processes of the local cluster.
    progress : bool
        Show a progress bar.
    retries : int
        Re-runs of a task that raised or whose worker died.
    on_result : callable, optional
        Called as ``on_result(i, result)`` as each task finishes (to write it at once).
    description : str
        The progress bar's label.
    """
    start = time.perf_counter()
    bar = _progress(n, progress, description)
    outcome = SweepOutcome()
    try:
        if scheduler == SYNC:
            _run_sync(fn, n, seed, args, retries, outcome, on_result, bar)
        else:
            _run_dask(fn, n, seed, args, scheduler, workers, retries, outcome, on_result, bar)
    finally:
        bar.close()
        outcome.seconds = time.perf_counter() - start
    return outcome


def _run_sync(fn, n, seed, args, retries, outcome, on_result, bar) -> None:
    outcome.scheduler = SYNC
    try:
        for i in range(n):
            for attempt in range(retries + 1):
                try:
                    result = fn(i, seed, *args)
                except Exception as exc:
                    if attempt == retries:
                        outcome.failed[i] = f"{type(exc).__name__}: {exc}"
                    continue
                outcome.results[i] = result
                if on_result is not None:
                    on_result(i, result)
                break
            bar.update(1)
    except KeyboardInterrupt:
        outcome.interrupted = True


def _same(value: Any) -> Any:
    """The value itself (a task holding a shared argument)."""
    return value


def _run_dask(fn, n, seed, args, scheduler, workers, retries, outcome, on_result, bar) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,  # logging.ERROR: a restarted worker is expected, not news
        )
        client = Client(cluster)
        outcome.scheduler = f"local cluster ({workers} workers)"
    else:
        client = Client(scheduler)
        outcome.scheduler = str(scheduler)
    futures: dict[Any, int] = {}
    token = uuid.uuid4().hex[:12]  # keys unique to this sweep, even on a shared cluster
    try:
        # the shared arguments as tasks (not scattered data): if the worker holding them dies,
        # the scheduler recomputes them from the graph instead of losing them
        shared = [
            client.submit(_same, a, key=f"sweep-{token}-shared-{k}", retries=retries)
            for k, a in enumerate(args)
        ]
        for i in range(n):
            future = client.submit(
                fn, i, seed, *shared, key=f"sweep-{token}-task-{i}", retries=retries, pure=False
            )
            futures[future] = i
        try:
            for future in as_completed(list(futures)):
                i = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # after its retries, or KilledWorker
                    outcome.failed[i] = f"{type(exc).__name__}: {exc}"
                else:
                    outcome.results[i] = result
                    if on_result is not None:
                        on_result(i, result)
                bar.update(1)
                future.release()
        except KeyboardInterrupt:
            outcome.interrupted = True
            client.cancel([f for f in futures if f.status == "pending"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
