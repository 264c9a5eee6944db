"""A fit of a :class:`~forecast.api.model.ScenarioModel`: its draws, tables and analyses."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from forecast.api.arguments import as_of_date, scheduler_value, seed_value, whole_number
from forecast.api.provenance import check_provenance, provenance_attrs

if TYPE_CHECKING:
    import datetime as dt

    import arviz as az
    import pandas as pd

    from forecast.analysis.counterfactuals import Intervention, ValueOfInformation, WhatIf
    from forecast.analysis.reweighting import LikelihoodPool
    from forecast.api.model import ScenarioModel
    from forecast.pymc_backend.fitting import Diagnostics, SamplerConfig, ScenarioFitter
    from forecast.scenario import Scenario

logger = logging.getLogger(__name__)

METHODS = ("nuts", "reweighted", "prior")
"""How a fit was made: NUTS, PSIS re-weighting of another fit's draws, or the priors alone."""


class _PoolSlot:
    """A fit's likelihood pool, built once and shared by the fit's copies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: LikelihoodPool | None = None


class Fit:
    """The result of :meth:`ScenarioModel.fit` (or of ``prior_predictive`` or ``refit``).

    Attributes
    ----------
    model : ScenarioModel
        The model that was fitted.
    idata : az.InferenceData
        ``posterior`` (absent for a prior predictive) and ``prior`` hold every rule's
        parameter, ``question_prob`` and the monthly marginals ``p_<node>``; the attributes
        carry the scenario hash, the priors (JSON and digest), cut-off, seed, sampler settings
        and ``fit_method``.
    as_of : date or None
        Evidence cut-off (None: all the evidence).
    seed : int
        The seed.
    sampler : SamplerConfig
        NUTS settings.
    method : {"nuts", "reweighted", "prior"}
        How the draws were made.
    """

    def __init__(
        self,
        model: ScenarioModel,
        idata: az.InferenceData,
        *,
        as_of: dt.date | None,
        seed: int,
        sampler: SamplerConfig,
        method: str,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        self.model = model
        self.idata = idata
        self.as_of = as_of
        self.seed = seed
        self.sampler = sampler
        self.method = method
        self._pool_slot = _PoolSlot()
        stamp: dict[str, Any] = provenance_attrs(model.scenario, model.priors)
        if method == "prior":  # the fitter stamps its fits; the prior draws get the same
            stamp.update(
                {
                    "scenario_id": model.scenario.id,
                    "seed": seed,
                    "fit_method": "prior",
                    "as_of": "no evidence",
                }
            )
            stamp.update({f"sampler_{k}": v for k, v in sampler.as_attrs().items()})
        for group in idata.groups():
            idata[group].attrs.update(stamp)

    # -- what the fit is --------------------------------------------------------------------

    @property
    def scenario(self) -> Scenario:
        """The fitted scenario."""
        return self.model.scenario

    @property
    def group(self) -> str:
        """``"posterior"``, or ``"prior"`` for a prior predictive."""
        return "posterior" if "posterior" in self.idata.groups() else "prior"

    @property
    def reweighting(self) -> dict[str, float]:
        """Pareto k, importance ESS and ``extended`` of a re-weighted fit (empty after NUTS).

        ``extended`` is 1 when draws from the edited priors were added to the likelihood pool.
        """
        attrs = self.idata[self.group].attrs
        return {
            k: float(attrs[f"reweight_{k}"])
            for k in ("pareto_k", "ess", "extended")
            if f"reweight_{k}" in attrs
        }

    def __repr__(self) -> str:
        cut = self.as_of.isoformat() if self.as_of else "all evidence"
        shape = self.idata[self.group].sizes
        what = "prior predictive" if self.method == "prior" else f"fit as of {cut}"
        return (
            f"Fit({self.scenario.id!r}, {what}, {self.method}, {shape['chain']} chains x "
            f"{shape['draw']} draws, seed {self.seed})"
        )

    def _fitter(self) -> ScenarioFitter:
        return self.model.fitter(self.sampler)

    # -- tables -----------------------------------------------------------------------------

    def questions(self, interval: float = 0.9) -> pd.DataFrame:
        """The forecast table: every question's mean probability and central interval.

        Returns
        -------
        DataFrame
            Indexed by question: ``text``, ``date``, ``kind``, ``prior_mean`` (when the fit
            has a posterior), ``mean``, ``low<pct>``, ``high<pct>``.
        """
        from forecast.analysis.summaries import question_summary

        table = question_summary(self.idata, self.scenario, group=self.group, interval=interval)
        table = table.set_index("question")
        if self.group == "posterior" and "prior" in self.idata.groups():
            prior = question_summary(self.idata, self.scenario, group="prior")
            table.insert(3, "prior_mean", prior["mean"].to_numpy())
        return table

    def outcomes(
        self,
        outcomes: Sequence[str] | None = None,
        bands: Sequence[float] = (0.5, 0.9),
        max_draws: int | None = 1000,
    ) -> pd.DataFrame:
        """Each outcome's probability by month, with central bands (tidy, one row a month)."""
        from forecast.analysis.summaries import outcome_curves

        return outcome_curves(
            self.idata, self.scenario, outcomes, group=self.group, bands=bands, max_draws=max_draws
        )

    def diagnostics(self, parameters: bool = True) -> Diagnostics:
        """Convergence: R-hat, bulk and tail ESS of every question (and rule parameter).

        Divergences too; checked against :mod:`forecast.settings` (``.ok``, ``.problems``).

        Parameters
        ----------
        parameters : bool
            Check the rule parameters besides the question probabilities.
        """
        from forecast.pymc_backend.fitting import QUESTION_VAR, diagnose

        if self.group != "posterior":
            raise ValueError("a prior predictive has independent draws: nothing to diagnose")
        return diagnose(self.idata, [QUESTION_VAR, *(self.model.rules if parameters else ())])

    def forecast_table(
        self, interval: float = 0.9, diagnostics: Diagnostics | None = None
    ) -> pd.DataFrame:
        """The table ``forecast fit`` prints and writes, one row per question.

        Prior and posterior mean, central interval, R-hat and ESS (``constant`` where the
        evidence fixes the question) and the resolution. Pass ``diagnostics`` (from
        :meth:`diagnostics`) when you have them, so that they are not computed again.
        """
        from forecast.analysis.summaries import forecast_table

        if self.group != "posterior":
            raise ValueError("a prior predictive has no posterior to tabulate: use questions()")
        diagnostics = diagnostics or self.diagnostics(parameters=False)
        return forecast_table(self.idata, self.scenario, diagnostics.table, interval=interval)

    def compare(self, other: Fit, interval: float = 0.9) -> pd.DataFrame:
        """Before (this fit) and after (``other``) of every question, and the change.

        Returns
        -------
        DataFrame
            Indexed by question: ``text``, ``date``, ``before``, ``after``, ``change``, and
            each side's central interval.
        """
        import pandas as pd

        if not isinstance(other, Fit):
            raise TypeError(f"compare needs another Fit, not {type(other).__name__}")
        mine, theirs = self.questions(interval), other.questions(interval)
        missing = [q for q in mine.index if q not in theirs.index]
        if missing:
            raise ValueError(f"the other fit lacks question(s) {', '.join(missing)}")
        theirs = theirs.loc[mine.index]
        pct = round(interval * 100)
        return pd.DataFrame(
            {
                "text": mine["text"],
                "date": mine["date"],
                "before": mine["mean"],
                "after": theirs["mean"],
                "change": theirs["mean"] - mine["mean"],
                f"before_low{pct}": mine[f"low{pct}"],
                f"before_high{pct}": mine[f"high{pct}"],
                f"after_low{pct}": theirs[f"low{pct}"],
                f"after_high{pct}": theirs[f"high{pct}"],
            }
        )

    # -- re-fitting -------------------------------------------------------------------------

    def likelihood_pool(self) -> LikelihoodPool:
        """The pool of prior draws, weighted by their exact likelihood, edits re-weight from.

        Built on first use (about 12,000 exact passes, a few seconds) and kept with the fit:
        after it, an edit of the priors costs milliseconds. See
        :mod:`forecast.analysis.reweighting.likelihood_pool`.
        """
        from forecast.analysis.reweighting import LikelihoodPool
        from forecast.engine import ExactEngine

        if self.method == "prior":
            raise ValueError("a prior predictive has no likelihood to weight by")
        slot = self._pool_slot
        with slot.lock:  # one build, even when a thread prepares it meanwhile
            if slot.pool is None:
                # an engine of its own: the shared fitter's priors are not touched, so a
                # thread may build the pool while edits re-fit
                engine = ExactEngine(self.scenario)
                evidence = engine.evidence(self.as_of)
                slot.pool = LikelihoodPool(engine, evidence, self.model.priors, self.seed)
            return slot.pool

    def with_reached_curves(self) -> Fit:
        """A copy of the fit with every draw's "reached by month" curves stored.

        :meth:`outcomes` then reads them instead of running the engine, and re-fits from the
        copy (:meth:`refit`) carry them, which is what makes the editor's redraw fast. The
        copy shares this fit's likelihood pool.
        """
        from forecast.analysis.summaries import with_reached_curves

        idata = with_reached_curves(self.idata, self.scenario)
        out = Fit(
            self.model,
            idata,
            as_of=self.as_of,
            seed=self.seed,
            sampler=self.sampler,
            method=self.method,
        )
        out._pool_slot = self._pool_slot
        return out

    def refit(self, model: ScenarioModel, seed: int | None = None, prior: bool = True) -> Fit:
        """An edited model's fit, re-weighted when reliable, else by NUTS.

        A prior edit leaves the likelihood alone, so the fit's draws are re-weighted by the
        ratio of the priors when the edit is small (their importance ESS at least
        ``OWN_DRAWS_ESS``), else the fit's :meth:`likelihood_pool` by the new prior times the
        exact likelihood when that is reliable (Pareto k <= 0.7, importance ESS >= 400,
        :mod:`forecast.settings`; the pool is built then), else the own draws if reliable.
        The route depends on the fit and the edited priors only. When nothing re-weights
        reliably, or when the edit changes the likelihood (a rule's window), NUTS runs again
        on the shared compiled density. ``method`` and :attr:`reweighting` say which, and
        the log says why.
        """
        from forecast.analysis.reweighting import update_priors
        from forecast.api.model import ScenarioModel, structure_key

        if not isinstance(model, ScenarioModel):
            raise TypeError(f"refit needs a ScenarioModel, not {type(model).__name__}")
        if self.method == "prior":
            return model.prior_predictive(seed=self.seed if seed is None else seed)
        seed = self.seed if seed is None else seed_value(seed)
        if structure_key(model.scenario) != structure_key(self.scenario):
            logger.info("the edit changes the likelihood (a rule's window): NUTS again")
            return model.fit(as_of=self.as_of, seed=seed, sampler=self.sampler)
        fitter = self._fitter()  # holds this fit's priors
        pool = self._pool_slot.pool or self.likelihood_pool
        idata = update_priors(fitter, self.idata, model.priors, seed=seed, pool=pool, prior=prior)
        method = "reweighted" if idata.posterior.attrs["fit_method"] != "nuts" else "nuts"
        logger.info(
            "refit by %s (Pareto k %.2f, importance ESS %.0f)",
            f"re-weighting the {idata.posterior.attrs['reweight_source']}"
            if method == "reweighted"
            else "NUTS",
            idata.posterior.attrs["reweight_pareto_k"],
            idata.posterior.attrs["reweight_ess"],
        )
        return Fit(model, idata, as_of=self.as_of, seed=seed, sampler=self.sampler, method=method)

    # -- analyses ---------------------------------------------------------------------------

    def what_if(
        self,
        contrasts: Mapping[str, Intervention | Sequence[Intervention]],
        outcomes: Sequence[str] | None = None,
        bands: Sequence[float] = (0.5, 0.9),
        max_draws: int | None = None,
    ) -> WhatIf:
        """Each contrast as an intervention (do) and as an observation, draw by draw.

        See :func:`forecast.analysis.counterfactuals.what_if`; ``.table(date)`` of the result
        gives the contrasts side by side.
        """
        from forecast.analysis.counterfactuals import what_if

        return what_if(
            self.idata,
            self.scenario,
            contrasts,
            outcomes=outcomes,
            bands=bands,
            max_draws=max_draws,
            engine=self._fitter().engine,
        )

    def tornado(
        self,
        outcomes: Sequence[str] | None = None,
        dates: Sequence[dt.date | str] | None = None,
        top: int | None = None,
        draws: int | None = None,
        recompute: str | None = "prior_is",
        scheduler: str | None = "sync",
        workers: int = 2,
    ) -> pd.DataFrame:
        """How far each forecast moves when one best guess crosses its stated interval.

        Re-weights this fit's draws (PSIS); ends whose Pareto k exceeds 0.7 among the ``top``
        swings of some question are re-computed (``recompute``, see
        :func:`forecast.analysis.counterfactuals.tornado_table`). With ``recompute="refit"``
        each such end is a NUTS fit, run where ``scheduler`` says: ``"sync"`` (default) one
        after another in this process, None a new Dask ``LocalCluster`` of ``workers``
        processes, else a running Dask scheduler's address.
        """
        from forecast.analysis.counterfactuals import tornado_table

        return tornado_table(
            self.idata,
            self.scenario,
            self.model.priors,
            group=self.group,
            outcomes=outcomes,
            dates=dates,
            recompute=recompute,
            recompute_top=top,
            fitter=self._fitter() if recompute == "refit" else None,
            engine=self._fitter().engine,
            draws=draws,
            seed=self.seed,
            scheduler=scheduler_value(scheduler),
            workers=whole_number(workers, "workers", minimum=1),
        )

    def network(self, months: int | None = None) -> Any:
        """The scenario as a ``pyagrum.BayesNet`` with every rule at this fit's mean.

        A plug-in network (each rule's posterior mean, see :mod:`forecast.engine.export`):
        its marginals are the engine's at those parameters, not the fit's posterior
        predictive, which averages over them. ``months`` limits the months unrolled.
        """
        from forecast.engine.export import scenario_network
        from forecast.pymc_backend.fitting import outcome_vectors, rule_draws

        draws = outcome_vectors(
            rule_draws(self.idata[self.group], self.model.priors), self.scenario
        )
        return scenario_network(self.scenario, [d.mean(axis=0) for d in draws], months)

    def power_scaling(self, include_parameters: bool = False) -> pd.DataFrame:
        """Prior against data for every quantity by power-scaling (``arviz.psens``)."""
        from forecast.analysis.counterfactuals import power_scaling

        return power_scaling(
            self.idata,
            self.scenario,
            self.model.priors,
            self._fitter().engine,
            include_parameters=include_parameters,
        )

    def value_of_information(
        self,
        outcomes: Sequence[str] | None = None,
        dates: Sequence[dt.date | str] | None = None,
        month: int | str | None = None,
        nodes: Sequence[str] | None = None,
        max_draws: int | None = 500,
    ) -> ValueOfInformation:
        """The value of observing each node in the month after the cut-off (what to watch)."""
        from forecast.analysis.counterfactuals import value_of_information

        return value_of_information(
            self.idata,
            self.scenario,
            self._fitter().engine,
            group=self.group,
            month=month,
            nodes=nodes,
            outcomes=outcomes,
            dates=dates,
            max_draws=max_draws,
        )

    def score(
        self,
        questions: str | Path | None = None,
        lead_months: int | None = None,
        draws: int = 2000,
    ) -> pd.DataFrame:
        """Brier and log scores of resolved questions, forecast as of this fit's cut-off.

        As :meth:`ScenarioModel.score` with this fit's cut-off, seed and priors: each forecast
        comes from the evidence known at the cut-off (or ``lead_months`` before the
        question's date), by the exact-likelihood re-weighting of prior draws that
        ``forecast score`` uses.
        """
        return self.model.score(
            questions,
            as_of=None if lead_months else self.as_of,
            lead_months=lead_months,
            draws=draws,
            seed=self.seed,
        )

    # -- files ------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the InferenceData (netCDF, with its provenance) and the forecast table (CSV).

        Each file is written to a temporary file beside it and renamed into place
        (:func:`write_atomically`): an interruption, a crash or a full disk leaves the files
        of an earlier save as they were, never a truncated one.

        Returns
        -------
        Path
            The netCDF file, ``<folder>/<scenario id>_<as-of or latest>.nc``.
        """
        folder = Path(folder)
        stem = f"{self.scenario.id}_{self.as_of.isoformat() if self.as_of else 'latest'}"
        if self.method == "prior":
            stem += "_prior"
        path = folder / f"{stem}.nc"
        questions = self.questions()
        write_atomically(
            {
                path: lambda tmp: self.idata.to_netcdf(str(tmp)),
                folder / f"{stem}_questions.csv": questions.to_csv,
            }
        )
        return path

    @classmethod
    def load(cls, path: str | Path, model: ScenarioModel) -> Fit:
        """A saved fit, checked against the model that should have made it.

        Raises
        ------
        DifferentModelError
            When the file's scenario or priors differ from the model's, naming what differs.
        FileNotFoundError
            When there is no such file.
        """
        import arviz as az

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved fit at {path}")
        idata = az.from_netcdf(str(path))
        group = "posterior" if "posterior" in idata.groups() else "prior"
        attrs = dict(idata[group].attrs)
        check_provenance(attrs, model.scenario, model.priors, str(path))
        from forecast.pymc_backend.fitting import SamplerConfig

        sampler = SamplerConfig(
            **{
                k: _plain(attrs[f"sampler_{k}"])
                for k in SamplerConfig.__dataclass_fields__
                if f"sampler_{k}" in attrs
            }
        )
        as_of = attrs.get("as_of")
        method = (
            "prior"
            if group == "prior"
            else "nuts"
            if attrs.get("fit_method", "nuts") == "nuts"
            else "reweighted"
        )
        cutoff = None if as_of in (None, "all evidence", "no evidence") else as_of_date(as_of)
        return cls(
            model,
            idata,
            as_of=cutoff,
            seed=int(attrs.get("seed", 0)),
            sampler=sampler,
            method=method,
        )


TEMPORARY_MARK = ".part"
"""In the name of every temporary file :func:`write_atomically` writes (and removes)."""


def write_atomically(writers: Mapping[Path, Callable[[Path], object]]) -> list[Path]:
    """Write files so that none is ever left half written, and rename them into place.

    Every ``writer(temporary)`` first writes a temporary file in its target's folder (named
    ``.<stem>.<random>.part<suffix>``, so the suffix still tells the format); once all of them
    are written and flushed to disk, each is renamed onto its target with :func:`os.replace`,
    which is atomic. On any exception, ``KeyboardInterrupt`` included, the temporary files
    are removed and the targets keep their earlier content.

    Parameters
    ----------
    writers : mapping of Path to callable
        Target path -> a function writing that file's content to the path it is given.
        Missing folders are created.

    Returns
    -------
    list of Path
        The targets, in order.
    """
    staged: list[tuple[Path, Path]] = []
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        for target, write in writers.items():
            target = Path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                dir=target.parent,
                prefix=f".{target.stem}.",
                suffix=f"{TEMPORARY_MARK}{target.suffix}",
            )
            os.close(handle)
            temporary = Path(name)
            staged.append((temporary, target))
            write(temporary)
            # mkstemp makes the file private; give it the mode a plain open() would have
            os.chmod(temporary, 0o666 & ~umask)
            _flush_to_disk(temporary)
        for temporary, target in staged:
            os.replace(temporary, target)
    except BaseException:
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise
    return [target for _, target in staged]


def _flush_to_disk(path: Path) -> None:
    """``fsync`` a written file, so that a rename never publishes data still in a buffer."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _plain(value: Any) -> Any:
    """A netCDF attribute as a Python scalar."""
    return value.item() if isinstance(value, np.generic) else value
