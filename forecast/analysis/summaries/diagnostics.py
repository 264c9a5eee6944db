"""Convergence of one or more fits in one table (R-hat, ESS, divergences)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd

from forecast.scenario.validated import Scenario
from forecast.settings import ESS_MIN, RHAT_MAX

__all__ = ["diagnostics_table"]


def diagnostics_table(
    fits: Mapping[str, az.InferenceData],
    scenario: Scenario,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Worst R-hat and ESS per fit and group of quantities, with the fit's divergences.

    Quantities the evidence fixes exactly (all draws equal) have no R-hat or ESS and are
    counted as ``fixed``, as in :func:`forecast.pymc_backend.fitting.diagnose`.

    Parameters
    ----------
    fits : mapping of str to InferenceData
        Label -> fit.
    scenario : Scenario
        The fitted scenario.
    groups : mapping of str to sequence of str, optional
        Row label -> variable names. Default: ``"rule parameters"`` (every rule's variable)
        and ``"question probabilities"`` (``question_prob``).

    Returns
    -------
    DataFrame
        Columns ``fit``, ``quantities``, ``checked``, ``fixed``, ``max_r_hat``,
        ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``ok`` (every check of the
        group passed: R-hat <= 1.01, both ESS >= 400, no divergences).
    """
    from forecast.pymc_backend.fitting import diagnose

    if groups is None:
        groups = {
            "rule parameters": [r.name for r in scenario.rules],
            "question probabilities": ["question_prob"],
        }
    rows = []
    for label, idata in fits.items():
        for name, var_names in groups.items():
            result = diagnose(idata, list(var_names))
            table = result.table[~result.table["constant"]]
            row = {
                "fit": label,
                "quantities": name,
                "checked": len(table),
                "fixed": int(result.table["constant"].sum()),
                "max_r_hat": float(table["r_hat"].max()) if len(table) else np.nan,
                "min_ess_bulk": float(table["ess_bulk"].min()) if len(table) else np.nan,
                "min_ess_tail": float(table["ess_tail"].min()) if len(table) else np.nan,
                "divergences": result.divergences,
            }
            row["ok"] = bool(
                (
                    not len(table)
                    or (
                        row["max_r_hat"] <= RHAT_MAX
                        and min(row["min_ess_bulk"], row["min_ess_tail"]) >= ESS_MIN
                    )
                )
                and result.divergences == 0
            )
            rows.append(row)
    return pd.DataFrame(rows)
