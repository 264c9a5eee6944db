"""Forecast tables from a fit: prior and posterior probability of every question."""

from __future__ import annotations

import datetime as dt

import arviz as az
import numpy as np
import pandas as pd

from forecast.scenario.validated import Scenario

__all__ = ["forecast_table", "monthly_bands", "state_probabilities"]

QUESTION_VAR = "question_prob"


def _flat(da) -> np.ndarray:
    values = np.asarray(da.values)
    return values.reshape(-1, *values.shape[2:])


def forecast_table(
    idata: az.InferenceData,
    scenario: Scenario,
    diagnostics: pd.DataFrame | None = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """One row per question: prior mean, posterior mean and central credible interval.

    Parameters
    ----------
    idata : az.InferenceData
        From :meth:`forecast.pymc_backend.fitting.ScenarioFitter.fit`.
    scenario : Scenario
        The scenario that was fitted.
    diagnostics : DataFrame, optional
        Per-quantity R-hat and ESS (``Diagnostics.table``), joined on ``question_prob[id]``.
    interval : float
        Mass of the central credible interval.
    """
    pct = int(interval * 100)
    if not scenario.questions:  # a network imported without questions, say
        columns = ["question", "text", "node", "states", "kind", "date", "prior_mean"]
        return pd.DataFrame(
            columns=[*columns, "posterior_mean", f"ci{pct}_low", f"ci{pct}_high", "resolution"]
        )
    post = _flat(idata.posterior[QUESTION_VAR])
    prior = _flat(idata.prior[QUESTION_VAR]) if "prior" in idata.groups() else None
    lo_q, hi_q = (1 - interval) / 2, 1 - (1 - interval) / 2
    rows = []
    for k, q in enumerate(scenario.questions):
        row = {
            "question": q.id,
            "text": q.text,
            "node": q.node,
            "states": "|".join(q.states),
            "kind": q.kind,
            "date": q.date.isoformat(),
            "prior_mean": float(prior[:, k].mean()) if prior is not None else np.nan,
            "posterior_mean": float(post[:, k].mean()),
            f"ci{int(interval * 100)}_low": float(np.quantile(post[:, k], lo_q)),
            f"ci{int(interval * 100)}_high": float(np.quantile(post[:, k], hi_q)),
            "resolution": q.resolution if q.resolution is not None else "",
        }
        if diagnostics is not None:
            match = diagnostics[diagnostics["quantity"] == f"{QUESTION_VAR}[{q.id}]"]
            if len(match):
                row.update({c: float(match.iloc[0][c]) for c in ("r_hat", "ess_bulk", "ess_tail")})
                row["constant"] = bool(match.iloc[0]["constant"])
        rows.append(row)
    return pd.DataFrame(rows)


def monthly_bands(
    idata: az.InferenceData,
    scenario: Scenario,
    node: str,
    states: tuple[str, ...] | list[str],
    group: str = "posterior",
    bands: tuple[float, ...] = (0.5, 0.9),
) -> pd.DataFrame:
    """Mean and central bands of P(node in states) for every month.

    Returns
    -------
    DataFrame
        Columns ``month``, ``mean`` and ``low50``/``high50`` etc., one row per month.
    """
    da = idata[group][f"p_{node}"]
    dim = f"{node}_state"
    prob = _flat(da.sel({dim: list(states)}).sum(dim))
    out = {"month": scenario.timeline.labels, "mean": prob.mean(axis=0)}
    for band in bands:
        pct = round(band * 100)
        out[f"low{pct}"] = np.quantile(prob, (1 - band) / 2, axis=0)
        out[f"high{pct}"] = np.quantile(prob, 1 - (1 - band) / 2, axis=0)
    return pd.DataFrame(out)


def state_probabilities(
    idata: az.InferenceData,
    scenario: Scenario,
    month: str | dt.date,
    group: str = "posterior",
    interval: float = 0.9,
) -> pd.DataFrame:
    """Every node's state probabilities at the end of one month, with central intervals.

    Parameters
    ----------
    idata : az.InferenceData
        Holds ``p_<node>`` for every node in ``group``.
    scenario : Scenario
        The scenario.
    month : str or date
        ``YYYY-MM`` (or any date in the month).
    group : str
        ``"posterior"`` or ``"prior"``.
    interval : float
        Mass of the central interval.

    Returns
    -------
    DataFrame
        One row per node and state: ``node``, ``state``, ``mean``, ``low``, ``high``.

    Raises
    ------
    ValueError
        If the month is outside the scenario's timeline.
    """
    tl = scenario.timeline
    step = tl.step_of(month)
    if not 0 <= step < tl.n_steps:
        raise ValueError(
            f"{month} is outside the timeline {tl.month_label(0)} to "
            f"{tl.month_label(tl.n_steps - 1)}"
        )
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    rows = []
    for node in scenario.nodes:
        values = _flat(idata[group][f"p_{node.name}"])[:, step, :]
        for k, state in enumerate(node.states):
            rows.append(
                {
                    "node": node.name,
                    "state": state,
                    "mean": float(values[:, k].mean()),
                    "low": float(np.quantile(values[:, k], lo)),
                    "high": float(np.quantile(values[:, k], hi)),
                }
            )
    return pd.DataFrame(rows)
