"""The front door of simulation-based calibration: ``forecast.sbc(...)``.

The CLI's ``forecast sbc`` calls :func:`sbc`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from forecast.analysis.evaluation.sbc import ALPHA, CORRUPTIONS, SBCReport, SBCSettings
from forecast.api.arguments import scheduler_value, seed_value, whole_number

__all__ = ["SBCResult", "sbc"]

DEFAULT_N = 200
"""Replications of ``forecast.sbc`` when none is given (the issue's N >= 200)."""

MAX_N = 100_000
"""Most replications ``forecast.sbc`` accepts."""


@dataclasses.dataclass
class SBCResult(SBCReport):
    """The ranks and uniformity tests of an SBC run (see :class:`SBCReport`), with figures.

    ``ranks`` (a DataFrame, one row per replication), ``tests`` (per quantity: chi-square p,
    ECDF band pass, pass), ``passed``, ``summary_line()``, ``plot(path)`` and ``save(folder)``.
    """

    def plot(self, path: str | Path) -> list[Path]:
        """Write the rank histograms (PNG) to ``path`` and the ECDF differences beside it."""
        from forecast.plots.sbc import save_sbc_plots

        return save_sbc_plots(self, path)

    def save(self, folder: str | Path) -> list[Path]:
        """Write ``ranks.csv``, ``tests.csv``, ``runs.csv``, ``summary.txt`` and the figures."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in (("ranks", self.ranks), ("runs", self.runs)):
            written.append(_atomic_csv(table, folder / f"{name}.csv", index=True))
        written.append(_atomic_csv(self.tests, folder / "tests.csv", index=False))
        summary = folder / "summary.txt"
        _atomic_text(summary, self.summary_line() + "\n")
        written.append(summary)
        if len(self.ranks) >= 2:
            written.extend(self.plot(folder / "sbc_ranks.png"))
        return written


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _atomic_csv(table: Any, path: Path, index: bool) -> Path:
    _atomic_text(path, table.to_csv(index=index))
    return path


class _RankWriter:
    """Appends each finished replication's ranks to ``ranks_partial.csv`` at once."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "ranks_partial.csv"
        with self.path.open("w", encoding="utf-8") as f:
            f.write(",".join(["replication", *names]) + "\n")

    def __call__(self, i: int, result: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(",".join(str(v) for v in [i, *result["ranks"]]) + "\n")


def _model(scenario_or_model: Any) -> Any:
    from forecast.api.model import ScenarioModel
    from forecast.scenario.validated import Scenario

    if isinstance(scenario_or_model, ScenarioModel):
        return scenario_or_model
    if isinstance(scenario_or_model, Scenario):
        return ScenarioModel(scenario_or_model)
    if isinstance(scenario_or_model, (str, Path)):
        return ScenarioModel.from_file(scenario_or_model)
    raise TypeError(
        "scenario_or_model must be a ScenarioModel, a Scenario or the path of a scenario "
        f"file, not {type(scenario_or_model).__name__}"
    )


def sbc(
    scenario_or_model: Any,
    n: int = DEFAULT_N,
    seed: int | None = None,
    draws: int = 250,
    tune: int | None = None,
    chains: int = 2,
    thin_to: int = 99,
    scheduler: str | None = None,
    workers: int = 2,
    progress: bool = True,
    out: str | Path | None = None,
    alpha: float = ALPHA,
    corrupt: str | None = None,
) -> SBCResult:
    """Simulation-based calibration of a scenario's fit (Talts et al. 2018).

    ``n`` times: draw the rule parameters from the prior (with the reference classes), simulate
    a state path and observe it where the scenario's evidence observes, fit with NUTS, thin to
    ``thin_to`` draws and rank the true rule parameters and question probabilities among them.
    Replication ``i`` is seeded ``[seed, i]``: the ranks do not depend on the scheduler.

    Parameters
    ----------
    scenario_or_model : ScenarioModel, Scenario, str or Path
        The model (its priors, edited or not), or a scenario (file).
    n : int
        Replications.
    seed : int, optional
        Seed of the sweep (default: the package's seed).
    draws, tune, chains : int
        NUTS per replication (``tune`` defaults to ``draws``); ``draws`` is doubled (up to
        four times) when the smallest ESS is below ``thin_to``.
    thin_to : int
        Draws kept for the ranks (ranks run over ``0 .. thin_to``).
    scheduler : str, optional
        None: a ``LocalCluster`` of ``workers`` processes (one thread each); ``"sync"``: in
        this process; else the address of a Dask scheduler.
    workers : int
        Workers of the local cluster.
    progress : bool
        Show a progress bar.
    out : str or Path, optional
        A folder: each replication's ranks are appended to ``ranks_partial.csv`` as they finish
        (kept if the run is interrupted), then the tables, summary and figures are written.
    alpha : float
        Family-wise level of the uniformity tests.
    corrupt : str, optional
        A deliberately broken likelihood or prior (``"swap_evidence"``, ``"wrong_prior"``),
        a control that must fail.

    Returns
    -------
    SBCResult
    """
    from forecast.analysis.evaluation.sbc import quantity_names, run_sbc

    model = _model(scenario_or_model)
    n = whole_number(n, "n", 1, MAX_N)
    seed = seed_value(seed)
    draws = whole_number(draws, "draws", 10, 100_000)
    tune = draws if tune is None else whole_number(tune, "tune", 0, 100_000)
    chains = whole_number(chains, "chains", 1, 64)
    thin_to = whole_number(thin_to, "thin_to", 1, 10_000)
    workers = whole_number(workers, "workers", 1, 1024)
    scheduler = scheduler_value(scheduler)
    if not (isinstance(alpha, float | int) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    if corrupt is not None and corrupt not in CORRUPTIONS:
        raise ValueError(f"corrupt must be one of {', '.join(CORRUPTIONS)}, got {corrupt!r}")
    settings = SBCSettings(
        draws=draws,
        tune=tune,
        chains=chains,
        thin_to=thin_to,
        max_draws=4 * draws,
        corrupt=corrupt,
    )
    scenario, priors = model.scenario, model.priors
    writer = None
    if out is not None:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"out must be a folder, but {folder} is a file")
        writer = _RankWriter(folder, quantity_names(scenario, priors))
    report = run_sbc(
        scenario,
        priors,
        n,
        seed,
        settings,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        on_result=writer,
        alpha=float(alpha),
    )
    result = SBCResult(**{f.name: getattr(report, f.name) for f in dataclasses.fields(report)})
    if out is not None:
        result.save(out)
    return result
