"""The hierarchical pool: partial pooling of the forecasters' judgements into one prior.

Each forecaster's best guess per rule destination (logit scale, see
:func:`~forecast.analysis.pooling.priors.elicited_judgements`) is a noisy measurement, with
the stated interval as its error, of a shared mean per destination with a spread between
forecasters. The PyMC model of that lives in the backend
(:mod:`forecast.pymc_backend.hierarchical`); :func:`hierarchical_pool` fits it and turns
the posterior into a pooled Beta/Dirichlet prior that can be fitted like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from forecast.analysis.pooling.pools import pooled_reference_counts
from forecast.analysis.pooling.priors import elicited_judgements
from forecast.elicitation import Priors, RulePrior
from forecast.pymc_backend.hierarchical import (
    hierarchical_pool_diagnostics,
    sample_hierarchical_pool,
)
from forecast.scenario.validated import Scenario

if TYPE_CHECKING:
    import arviz as az

__all__ = ["HierarchicalPool", "hierarchical_pool"]

logger = logging.getLogger(__name__)


@dataclass
class HierarchicalPool:
    """A hierarchical pool of the forecasters' judgements and the pooled prior it implies.

    Attributes
    ----------
    priors : Priors
        The pooled prior, one Beta/Dirichlet per rule (``source="hierarchical pool"``), ready
        for :meth:`ScenarioFitter.set_priors` or
        :func:`~forecast.analysis.pooling.forecasts.forecaster_forecasts`.
    table : DataFrame
        One row per rule and destination: the forecasters' best guesses (a column each),
        ``shared_centre`` (inverse logit of the posterior median of the shared logit mean),
        ``pooled_mean``, ``pooled_low90`` and ``pooled_high90`` (the pooled prior's marginal
        Beta ``beta_a``, ``beta_b``: its mean and central 90% interval).
    idata : az.InferenceData
        The PyMC fit: ``mu`` (dim ``item``, the shared logit mean), ``tau`` (the spread
        between forecasters on the logit scale) and ``theta`` (dims ``forecaster``, ``item``).
    judgements : DataFrame
        The data (:func:`~forecast.analysis.pooling.priors.elicited_judgements`).
    diagnostics : DataFrame
        R-hat and bulk/tail ESS of ``mu`` and ``tau`` (worst over items).
    """

    priors: Priors
    table: pd.DataFrame
    idata: az.InferenceData
    judgements: pd.DataFrame
    diagnostics: pd.DataFrame = field(default_factory=pd.DataFrame)


def _concentrations(scenario: Scenario, priors: Mapping[str, Priors]) -> np.ndarray:
    """``(forecasters, items)`` concentration ``a + b`` of each destination's marginal Beta."""
    return np.array(
        [
            [
                float(prior[rule.name].alpha.sum())
                for rule in scenario.rules
                for _ in rule.destinations
            ]
            for prior in priors.values()
        ]
    )


def hierarchical_pool(
    scenario: Scenario,
    priors: Mapping[str, Priors],
    seed: int,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int = 1,
    spread: Literal["mean", "between", "full"] = "full",
    mu_sd: float = 5.0,
    tau_scale: float = 1.0,
    target_accept: float = 0.95,
) -> HierarchicalPool:
    """Pool the forecasters' judgements with partial pooling, and derive a pooled prior.

    For every rule destination ``k`` and forecaster ``f`` the best guess on the logit scale,
    ``y_fk``, is a noisy measurement of that forecaster's belief ``theta_fk`` with the stated
    interval as its error, ``s_fk`` (see
    :func:`~forecast.analysis.pooling.priors.elicited_judgements`); beliefs scatter around
    a shared mean per destination with one spread between forecasters::

        mu_k ~ Normal(0, mu_sd),  tau ~ HalfNormal(tau_scale)
        theta_fk = mu_k + tau * z_fk,  z_fk ~ Normal(0, 1)
        y_fk ~ Normal(theta_fk, s_fk)

    The PyMC backend builds and samples the model
    (:func:`forecast.pymc_backend.hierarchical.sample_hierarchical_pool`).

    The pooled prior of destination ``k`` is the Beta with the mean and variance of the
    posterior predictive of a new forecaster's probability: a centre
    ``c = expit(mu_k + tau * z)``, ``z ~ Normal(0, 1)``, with the uncertainty of a typical
    forecaster around it, ``p ~ Beta(kappa_k c, kappa_k (1 - c))``, where ``kappa_k`` is the
    geometric mean of the forecasters' own prior concentrations (``spread="full"``). So the
    pooled prior of identical forecasters is close to their common prior, and disagreement
    widens it. ``spread="between"`` keeps only ``c`` (no within-forecaster uncertainty) and
    ``"mean"`` only ``expit(mu_k)`` (the uncertainty about the shared mean). A rule with
    several destinations gets the Dirichlet with the pooled means and the geometric mean of
    the Betas' concentrations, as elicitation does. Reference classes are kept: distinct ones
    are added up, one cited by several forecasters counts once.

    Parameters
    ----------
    scenario : Scenario
        The shared structure.
    priors : mapping of str to Priors
        Forecaster name -> priors (at least two forecasters).
    seed : int
        Seed of NUTS and of the predictive draws.
    draws, tune, chains, cores : int
        NUTS settings.
    spread : {"mean", "between", "full"}
        Which uncertainty the pooled prior keeps (see above).
    mu_sd : float
        Prior sd of the shared logit means (wide: the data decide).
    tau_scale : float
        Scale of the half-normal prior of the spread between forecasters.
    target_accept : float
        NUTS target acceptance.

    Returns
    -------
    HierarchicalPool
        The pooled prior, a table per destination, the fit and its diagnostics.
    """
    if len(priors) < 2:
        raise ValueError("a hierarchical pool needs at least two forecasters")
    if spread not in ("mean", "between", "full"):
        raise ValueError(f"spread must be 'mean', 'between' or 'full', not {spread!r}")
    data = elicited_judgements(scenario, priors)
    names = list(priors)
    items = list(dict.fromkeys(zip(data["rule"], data["destination"], strict=True)))
    labels = [f"{rule}:{dest}" for rule, dest in items]
    y = data["logit_best"].to_numpy().reshape(len(names), len(items))
    s = data["logit_sd"].to_numpy().reshape(len(names), len(items))
    idata = sample_hierarchical_pool(
        names,
        labels,
        y,
        s,
        seed,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        mu_sd=mu_sd,
        tau_scale=tau_scale,
        target_accept=target_accept,
    )
    post = idata.posterior
    mu_draws = post["mu"].values.reshape(-1, len(items))
    tau_draws = post["tau"].values.reshape(-1, 1)
    logits = mu_draws
    if spread != "mean":
        rng = np.random.default_rng([seed, 2])
        logits = mu_draws + tau_draws * rng.standard_normal(mu_draws.shape)
    centre = special.expit(logits)
    kappa = np.exp(np.mean(np.log(_concentrations(scenario, priors)), axis=0))
    mean = centre.mean(axis=0)
    var = centre.var(axis=0)
    if spread == "full":  # the mixture of Betas around the centres: its exact moments
        var = var + (centre * (1 - centre)).mean(axis=0) / (kappa + 1)
    with np.errstate(divide="ignore"):
        conc = np.where(var > 0, mean * (1 - mean) / var - 1, 1e6)
    conc = np.maximum(conc, 1e-3)
    betas = {
        item: (float(mean[k] * conc[k]), float((1 - mean[k]) * conc[k]))
        for k, item in enumerate(items)
    }

    rows = []
    for k, (rule, dest) in enumerate(items):
        a, b = betas[(rule, dest)]
        row = {"rule": rule, "destination": dest}
        row.update({name: float(special.expit(y[f, k])) for f, name in enumerate(names)})
        row.update(
            {
                "shared_centre": float(special.expit(np.median(mu_draws[:, k]))),
                "pooled_mean": a / (a + b),
                "pooled_low90": float(stats.beta.ppf(0.05, a, b)),
                "pooled_high90": float(stats.beta.ppf(0.95, a, b)),
                "beta_a": a,
                "beta_b": b,
            }
        )
        rows.append(row)
    table = pd.DataFrame(rows)

    pooled_rules = []
    for rp in priors[names[0]].rules:
        dests = rp.labels[1:]
        means = np.array([betas[(rp.rule, d)][0] / sum(betas[(rp.rule, d)]) for d in dests])
        if means.sum() >= 0.99:
            logger.warning(
                "rule %s: pooled destination means add up to %.3f; scaled to 0.99",
                rp.rule,
                means.sum(),
            )
            means *= 0.99 / means.sum()
        if len(dests) == 1:
            a, b = betas[(rp.rule, dests[0])]
            alpha = np.array([b, a])
        else:
            total = float(np.exp(np.mean([np.log(sum(betas[(rp.rule, d)])) for d in dests])))
            alpha = total * np.array([1.0 - means.sum(), *means])
        rules = [priors[n][rp.rule] for n in names]
        pooled_rules.append(
            RulePrior(
                rp.rule, rp.labels, alpha, (), pooled_reference_counts(rules), "hierarchical pool"
            )
        )

    diagnostics = hierarchical_pool_diagnostics(idata)
    return HierarchicalPool(Priors(pooled_rules), table, idata, data, diagnostics)
