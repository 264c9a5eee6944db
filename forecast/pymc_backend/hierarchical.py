"""The PyMC model of the hierarchical pool: partial pooling of the forecasters' judgements.

For every item ``k`` (a rule destination) and forecaster ``f`` the best guess on the logit
scale, ``y_fk``, is a noisy measurement of that forecaster's belief ``theta_fk`` with a known
error ``s_fk``; beliefs scatter around a shared mean per item with one spread between
forecasters::

    mu_k ~ Normal(0, mu_sd),  tau ~ HalfNormal(tau_scale)
    theta_fk = mu_k + tau * z_fk,  z_fk ~ Normal(0, 1)
    y_fk ~ Normal(theta_fk, s_fk)

:func:`build_hierarchical_pool_model` builds the model, :func:`sample_hierarchical_pool`
samples it with NUTS and :func:`hierarchical_pool_diagnostics` checks the fit. Turning the
posterior into a pooled prior is the analysis's job
(:func:`forecast.analysis.pooling.hierarchical_pool`). PyMC is imported when a model is
built, not with this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast.pymc_import import import_pymc

if TYPE_CHECKING:
    import arviz as az
    import pymc as pm

__all__ = [
    "build_hierarchical_pool_model",
    "hierarchical_pool_diagnostics",
    "sample_hierarchical_pool",
]


def build_hierarchical_pool_model(
    forecasters: Sequence[str],
    items: Sequence[str],
    y: np.ndarray,
    s: np.ndarray,
    mu_sd: float = 5.0,
    tau_scale: float = 1.0,
) -> pm.Model:
    """The partial-pooling model of the forecasters' logit judgements.

    Parameters
    ----------
    forecasters : sequence of str
        Forecaster names, the ``forecaster`` coordinate (rows of ``y`` and ``s``).
    items : sequence of str
        Item labels, the ``item`` coordinate (columns of ``y`` and ``s``).
    y : ndarray
        ``(forecasters, items)`` best guesses on the logit scale, observed.
    s : ndarray
        ``(forecasters, items)`` their errors (sd on the logit scale).
    mu_sd : float
        Prior sd of the shared logit means (wide: the data decide).
    tau_scale : float
        Scale of the half-normal prior of the spread between forecasters.

    Returns
    -------
    pymc.Model
        With free variables ``mu`` (dim ``item``), ``tau`` and ``z`` (dims ``forecaster``,
        ``item``), the deterministic ``theta = mu + tau * z`` and the observed ``y``.
    """
    pm = import_pymc()
    with pm.Model(coords={"forecaster": list(forecasters), "item": list(items)}) as model:
        mu = pm.Normal("mu", 0.0, mu_sd, dims="item")
        tau = pm.HalfNormal("tau", tau_scale)
        z = pm.Normal("z", 0.0, 1.0, dims=("forecaster", "item"))
        theta = pm.Deterministic("theta", mu[None, :] + tau * z, dims=("forecaster", "item"))
        pm.Normal("y", theta, s, observed=y, dims=("forecaster", "item"))
    return model


def sample_hierarchical_pool(
    forecasters: Sequence[str],
    items: Sequence[str],
    y: np.ndarray,
    s: np.ndarray,
    seed: int,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int = 1,
    mu_sd: float = 5.0,
    tau_scale: float = 1.0,
    target_accept: float = 0.95,
) -> az.InferenceData:
    """Build the partial-pooling model (:func:`build_hierarchical_pool_model`) and sample it.

    Parameters
    ----------
    forecasters, items : sequence of str
        The coordinates (see :func:`build_hierarchical_pool_model`).
    y, s : ndarray
        ``(forecasters, items)`` logit best guesses and their errors.
    seed : int
        NUTS seed (``random_seed`` of :func:`pymc.sample`).
    draws, tune, chains, cores : int
        NUTS settings.
    mu_sd, tau_scale : float
        Prior scales (see :func:`build_hierarchical_pool_model`).
    target_accept : float
        NUTS target acceptance.

    Returns
    -------
    az.InferenceData
        The posterior of ``mu``, ``tau``, ``z`` and ``theta``, with sample stats; no
        progress bar and no convergence checks (see :func:`hierarchical_pool_diagnostics`).
    """
    pm = import_pymc()
    model = build_hierarchical_pool_model(forecasters, items, y, s, mu_sd, tau_scale)
    with model:
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            progressbar=False,
            target_accept=target_accept,
            compute_convergence_checks=False,
        )


def hierarchical_pool_diagnostics(idata: az.InferenceData) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of ``mu`` and ``tau`` (worst over items), and divergences.

    Parameters
    ----------
    idata : az.InferenceData
        From :func:`sample_hierarchical_pool`.

    Returns
    -------
    DataFrame
        One row per quantity (``mu``, ``tau``): ``quantity``, ``max_r_hat``,
        ``min_ess_bulk``, ``min_ess_tail`` and ``divergences`` (of the whole fit).
    """
    import arviz as az

    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(idata, var_names=["mu", "tau"])
        bulk = az.ess(idata, var_names=["mu", "tau"], method="bulk")
        tail = az.ess(idata, var_names=["mu", "tau"], method="tail")
    return pd.DataFrame(
        [
            {
                "quantity": v,
                "max_r_hat": float(rhat[v].max()),
                "min_ess_bulk": float(bulk[v].min()),
                "min_ess_tail": float(tail[v].min()),
                "divergences": int(idata.sample_stats["diverging"].sum()),
            }
            for v in ("mu", "tau")
        ]
    )
