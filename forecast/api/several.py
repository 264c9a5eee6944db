"""Tables over several fits: headline forecasts, convergence, and pools of forecasters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecast.api.fit import Fit


def _checked(fits: Mapping[str, Fit]) -> dict[str, Fit]:
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError("fits must be a non-empty mapping of label -> Fit")
    bad = [label for label, fit in fits.items() if not isinstance(fit, Fit)]
    if bad:
        raise TypeError(f"not a Fit: {', '.join(map(str, bad))}")
    return dict(fits)


def headline(
    fits: Mapping[str, Fit],
    outcomes: Sequence[str] | None = None,
    decimals: int = 2,
    prior: bool = True,
) -> pd.DataFrame:
    """Each outcome's forecast at the report dates, one column per fit (rounded).

    See :func:`forecast.analysis.summaries.headline_table`.
    """
    from forecast.analysis.summaries import headline_table

    fits = _checked(fits)
    first = next(iter(fits.values()))
    return headline_table(
        {k: f.idata for k, f in fits.items()},
        first.scenario,
        outcomes,
        decimals=decimals,
        prior=prior,
    )


def diagnostics(fits: Mapping[str, Fit]) -> pd.DataFrame:
    """Convergence of several fits, one row each: worst R-hat, least ESS, divergences."""
    from forecast.analysis.summaries import diagnostics_table

    fits = _checked(fits)
    first = next(iter(fits.values()))
    return diagnostics_table({k: f.idata for k, f in fits.items()}, first.scenario)


def pool(
    fits: Mapping[str, Fit], weights: Sequence[float] | None = None, interval: float = 0.9
) -> pd.DataFrame:
    """Several forecasters' fits of one structure, with their linear and log pools.

    Parameters
    ----------
    fits : mapping of str to Fit
        Forecaster -> fit (or prior predictive), all of scenarios with the same structure
        (checked) and the same evidence cut-off.
    weights : sequence of float, optional
        One pool weight per forecaster (default: equal).
    interval : float
        Mass of the central intervals.

    Returns
    -------
    DataFrame
        One row per forecaster (then ``"linear pool"``, ``"log pool"``) and question:
        ``forecaster``, ``stage``, ``question``, ``text``, ``date``, ``mean``, ``low<pct>``,
        ``high<pct>``, ``ess`` (of each fit's draws, as ``ForecastDraws`` defines it; see
        :func:`forecast.analysis.pooling.pooled_forecast_table`).
    """
    from forecast.analysis.pooling import ForecastDraws, check_same_structure, pooled_forecast_table
    from forecast.pymc_backend.fitting import QUESTION_VAR

    fits = _checked(fits)
    check_same_structure({k: f.scenario for k, f in fits.items()})
    cut_offs = {f.as_of for f in fits.values()}
    methods = {f.method == "prior" for f in fits.values()}
    if len(cut_offs) > 1 or len(methods) > 1:
        raise ValueError("pooled fits need one evidence cut-off (or all prior predictives)")
    first = next(iter(fits.values()))
    stage = (
        "prior"
        if first.method == "prior"
        else f"as of {first.as_of}"
        if first.as_of
        else "all evidence"
    )
    draws = {}
    for name, fit in fits.items():
        values = fit.idata[fit.group][QUESTION_VAR].values
        values = values.reshape(-1, values.shape[-1])
        n = values.shape[0]
        if fit.method == "prior":  # independent draws
            ess = float(n)
        elif fit.method == "reweighted":  # resampled draws repeat: the importance ESS
            ess = fit.reweighting["ess"]
        else:  # NUTS: the least bulk ESS of a question the evidence does not fix
            table = fit.diagnostics(parameters=False).table
            ess = float(table.loc[~table["constant"], "ess_bulk"].min())
        draws[(name, stage)] = ForecastDraws(
            questions=tuple(q.id for q in fit.scenario.questions),
            values=values,
            weights=np.full(n, 1.0 / n),
            ess=ess,
            method=fit.method,
        )
    return pooled_forecast_table(draws, first.scenario, weights=weights, interval=interval)
