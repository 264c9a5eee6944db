"""Rule parameters under the prior and the posterior, side by side."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from forecast.analysis.summaries.priors import rule_condition
from forecast.scenario.validated import Scenario

__all__ = ["parameter_draws", "rule_parameter_table"]


def parameter_draws(
    idata: az.InferenceData, scenario: Scenario, group: str = "posterior"
) -> dict[tuple[str, str], np.ndarray]:
    """Draws of every rule's N-month probability of each destination.

    Parameters
    ----------
    idata : az.InferenceData
        Holds one variable per rule (``rule.name``) in ``group``.
    scenario : Scenario
        The fitted scenario.
    group : str
        ``"posterior"`` or ``"prior"``.

    Returns
    -------
    dict
        ``(rule name, destination)`` -> 1-d array of draws, in ``scenario.rules`` order.
    """
    out = {}
    for rule in scenario.rules:
        da = idata[group][rule.name]
        dim = f"{rule.name}_outcome"
        for k, destination in enumerate(rule.destinations, start=1):
            # the outcome axis is [stay, *destinations]; the prior group has no labels on it
            values = da.isel({dim: k}).values if dim in da.dims else da.values
            out[(rule.name, destination)] = np.asarray(values).ravel()
    return out


def rule_parameter_table(
    idata: az.InferenceData, scenario: Scenario, interval: float = 0.9
) -> pd.DataFrame:
    """Prior and posterior mean and central interval of every rule parameter.

    Parameters
    ----------
    idata : az.InferenceData
        A fit with ``prior`` and ``posterior`` groups.
    scenario : Scenario
        The fitted scenario.
    interval : float
        Mass of the central intervals.

    Returns
    -------
    DataFrame
        One row per rule and destination: ``node``, ``rule``, ``condition``,
        ``within_months``, ``destination``, then ``prior_mean``, ``prior_low``,
        ``prior_high``, ``posterior_mean``, ``posterior_low``, ``posterior_high`` (the
        probability of reaching the destination within the rule's N months).
    """
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    rules = {r.name: r for r in scenario.rules}
    draws = {g: parameter_draws(idata, scenario, g) for g in ("prior", "posterior")}
    rows = []
    for (name, destination), post in draws["posterior"].items():
        rule = rules[name]
        row = {
            "node": rule.node,
            "rule": name,
            "condition": rule_condition(rule),
            "within_months": rule.within_months,
            "destination": destination,
        }
        for group, values in (("prior", draws["prior"][(name, destination)]), ("posterior", post)):
            row[f"{group}_mean"] = float(values.mean())
            row[f"{group}_low"] = float(np.quantile(values, lo))
            row[f"{group}_high"] = float(np.quantile(values, hi))
        rows.append(row)
    return pd.DataFrame(rows)
