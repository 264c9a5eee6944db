"""Several forecasters' models of one scenario structure: their forecasts, pools and spread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from forecast.analysis.pooling import LINEAR_POOL, LOG_POOL, PRIOR_STAGE
from forecast.api.arguments import draw_count, sampler_config, scenario_cutoff, seed_value
from forecast.api.model import ScenarioModel

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

    from forecast.analysis.pooling import ForecastDraws, HierarchicalPool
    from forecast.elicitation import Priors
    from forecast.pymc_backend.fitting import SamplerConfig


class Forecasters:
    """Forecasters who write the same causal chain with their own priors.

    Every model must share the reference's structure (nodes, rules, evidence, questions:
    checked, with the differences listed); one compiled fitter, the reference's, serves all.

    Parameters
    ----------
    models : mapping of str to ScenarioModel
        Forecaster -> model, e.g. the variants of ``scenarios/forecasters/``.
    reference : ScenarioModel, optional
        Whose structure all share and whose fitter is used (default: the first model).

    Attributes
    ----------
    PRIOR_STAGE, LINEAR_POOL, LOG_POOL : str
        The stage label of the prior predictive and the row labels of the two pools in
        :meth:`forecast_table`.
    """

    PRIOR_STAGE = PRIOR_STAGE
    LINEAR_POOL = LINEAR_POOL
    LOG_POOL = LOG_POOL

    def __init__(
        self, models: Mapping[str, ScenarioModel], reference: ScenarioModel | None = None
    ) -> None:
        from forecast.analysis.pooling import check_same_structure

        if not isinstance(models, Mapping) or len(models) < 1:
            raise TypeError("models must be a non-empty mapping of forecaster -> ScenarioModel")
        bad = [name for name, m in models.items() if not isinstance(m, ScenarioModel)]
        if bad:
            raise TypeError(f"not a ScenarioModel: {', '.join(map(str, bad))}")
        self.models = dict(models)
        self.reference = reference or next(iter(self.models.values()))
        check_same_structure(
            {k: m.scenario for k, m in self.models.items()}, reference=self.reference.scenario
        )

    @classmethod
    def from_files(
        cls, files: Mapping[str, str | Path], reference: ScenarioModel | str | Path | None = None
    ) -> Forecasters:
        """Forecasters from their scenario files (each checked as ``forecast check`` does)."""
        models = {name: ScenarioModel.from_file(path) for name, path in files.items()}
        if isinstance(reference, (str, Path)):
            reference = ScenarioModel.from_file(reference)
        return cls(models, reference)

    @property
    def names(self) -> list[str]:
        """The forecasters, in the order given."""
        return list(self.models)

    @property
    def priors(self) -> dict[str, Priors]:
        """Forecaster -> priors."""
        return {name: m.priors for name, m in self.models.items()}

    def with_forecaster(self, name: str, model: ScenarioModel) -> Forecasters:
        """The same panel with one forecaster (e.g. a pool's model) added or replaced."""
        return Forecasters({**self.models, name: model}, self.reference)

    def prior_table(
        self, rules: Sequence[str] | None = None, interval: float = 0.9
    ) -> pd.DataFrame:
        """Each forecaster's prior of every rule destination (or of ``rules``), side by side."""
        from forecast.analysis.pooling import forecaster_prior_table

        return forecaster_prior_table(self.reference.scenario, self.priors, rules, interval)

    def forecasts(
        self,
        cut_offs: Mapping[str, dt.date | str | None],
        seed: int | None = None,
        draws: int = 2000,
        method: Literal["importance", "nuts"] = "importance",
        sampler: SamplerConfig | Mapping[str, Any] | None = None,
    ) -> dict[tuple[str, str], ForecastDraws]:
        """Every forecaster's prior predictive and forecast at each cut-off.

        ``method="importance"`` weights ``draws`` prior draws per forecaster by the exact
        likelihood of the evidence known at each cut-off (no NUTS); ``"nuts"`` fits each.

        Returns
        -------
        dict
            ``(forecaster, stage) -> ForecastDraws`` (``.ess``, ``.log_evidence``, ``.mean()``),
            the stage being ``"prior"`` or a cut-off's label.
        """
        from forecast.analysis.pooling import forecaster_forecasts

        cut = {
            label: scenario_cutoff(value, self.reference.scenario, f"cut_offs[{label!r}]")
            for label, value in cut_offs.items()
        }
        fitter = self.reference.fitter(sampler_config(sampler))
        try:
            return forecaster_forecasts(
                fitter,
                self.priors,
                cut,
                seed=seed_value(seed),
                size=draw_count(draws, "draws"),
                method=method,
            )
        finally:
            fitter.set_priors(self.reference.priors)

    def forecast_table(
        self,
        forecasts: Mapping[tuple[str, str], ForecastDraws],
        pool: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
        interval: float = 0.9,
    ) -> pd.DataFrame:
        """Every forecaster's forecast of every question at every stage, and the pools.

        The linear and log pools of ``pool`` (default: every forecaster in ``forecasts``), see
        :func:`forecast.analysis.pooling.pooled_forecast_table`.
        """
        from forecast.analysis.pooling import pooled_forecast_table

        return pooled_forecast_table(
            forecasts, self.reference.scenario, pool=pool, weights=weights, interval=interval
        )

    def disagreement(self, table: pd.DataFrame, logit: bool = False) -> pd.DataFrame:
        """How far apart the forecasters' mean forecasts are, per question and stage."""
        from forecast.analysis.pooling import disagreement_table

        return disagreement_table(table, self.names, logit=logit)

    def hierarchical_pool(
        self, seed: int | None = None, sampler: SamplerConfig | Mapping[str, Any] | None = None
    ) -> tuple[HierarchicalPool, ScenarioModel]:
        """Partial pooling of the forecasters' judgements (a PyMC model) and its prior.

        The pooled prior comes as a model of the reference's scenario.

        Returns
        -------
        pool : HierarchicalPool
            ``.table``, ``.idata``, ``.diagnostics``, ``.priors``.
        model : ScenarioModel
            The reference scenario with the pooled priors (sharing its fitter).
        """
        from forecast.analysis.pooling import hierarchical_pool

        config = sampler_config(sampler)
        pool = hierarchical_pool(
            self.reference.scenario,
            self.priors,
            seed=seed_value(seed),
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            cores=config.cores,
        )
        model = ScenarioModel(
            self.reference.scenario, pool.priors, machinery=self.reference.machinery
        )
        return pool, model
