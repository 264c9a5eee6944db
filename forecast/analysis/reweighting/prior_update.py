"""Re-fitting after a prior edit in a fraction of a second, when the existing fit allows it.

A prior edit leaves the likelihood alone, so the posterior under the new priors is the old one
re-weighted by the ratio of the priors, draw by draw. :func:`update_priors` computes that ratio
exactly, smooths it with Pareto-smoothed importance sampling (PSIS) and, when the weights are
trustworthy (Pareto k <= 0.7 and an importance ESS of at least 400), resamples each chain by
them. Every exact quantity of a draw (question probabilities, marginals) depends on the
parameters and the evidence only, so the resampled draws keep theirs. When the weights are not
trustworthy (the edit moved the prior far from where the posterior is), it runs NUTS again
instead, on the same compiled density.

The result says which was done (``fit_method``) and, for a re-weighted fit, the Pareto k and
importance ESS, which :func:`forecast.pymc_backend.fitting.diagnose` uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import arviz as az
import numpy as np
import xarray as xr

from forecast.analysis.reweighting.likelihood_pool import LikelihoodPool, PoolWeights
from forecast.analysis.reweighting.prior_density import log_prior_draws
from forecast.analysis.reweighting.weights import (
    effective_sample_size,
    psis_weights,
    relative_ess,
)
from forecast.elicitation import Priors
from forecast.pymc_backend.fitting import (
    FIT_METHOD_NUTS,
    FIT_METHOD_REWEIGHTED,
    ScenarioFitter,
    outcome_vectors,
)
from forecast.settings import ESS_MIN, OWN_DRAWS_ESS, PARETO_K_MAX

logger = logging.getLogger(__name__)


def _rule_params(
    group: xr.Dataset, fitter: ScenarioFitter
) -> tuple[list[np.ndarray], tuple[int, int]]:
    """Each rule's outcome vector for every draw of a posterior or prior group."""
    rules = {r.name: group[r.name] for r in fitter.scenario.rules}
    shape = (group.sizes["chain"], group.sizes["draw"])
    return outcome_vectors(rules, fitter.scenario), shape


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: as many indices as weights, in increasing order."""
    n = weights.size
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)


def _resample_indices(
    weights: np.ndarray, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Per chain, draw indices resampled by that chain's share of the weights."""
    weights = weights.reshape(shape)
    return np.stack([systematic_resample(w / w.sum(), rng) for w in weights])


def _take(group: xr.Dataset, indices: np.ndarray) -> xr.Dataset:
    """The draws ``indices[c]`` of each chain ``c`` (chains kept apart)."""
    chains = np.arange(indices.shape[0])[:, None]
    data = {}
    for name, da in group.data_vars.items():
        da = da.transpose("chain", "draw", ...)
        data[name] = (da.dims, da.values[chains, indices])
    coords = {name: c for name, c in group.coords.items() if "draw" not in c.dims}
    return xr.Dataset(data, coords=coords).assign_coords(draw=np.arange(indices.shape[1]))


def _importance(
    old: Priors, new: Priors, group: xr.Dataset, fitter: ScenarioFitter
) -> tuple[np.ndarray, float, float]:
    """PSIS weights from the old to the new priors over a group's draws, k and Kish ESS."""
    params, shape = _rule_params(group, fitter)
    log_ratio = log_prior_draws(new, params) - log_prior_draws(old, params)
    weights, k = psis_weights(log_ratio, relative_ess(log_ratio, shape))
    return weights, k, effective_sample_size(weights)


def _pool_posterior(
    pool: LikelihoodPool, found: PoolWeights, priors: Priors, template: xr.Dataset, seed: int
) -> xr.Dataset:
    """The pool's draws resampled by their weights, laid out like ``template`` (a posterior)."""
    chains, draws = template.sizes["chain"], template.sizes["draw"]
    rng = np.random.default_rng([seed, 3])
    # systematic resampling returns sorted indices: shuffle them, the pool's order is its
    # components' and the chains must not split by component
    indices = rng.permutation(systematic_resample(found.weights, rng))[: chains * draws]
    if indices.size < chains * draws:
        indices = rng.choice(found.weights.size, chains * draws, p=found.weights)
    taken = pool.take(found, indices, priors)
    data = {}
    for rule, values in zip(pool.engine.scenario.rules, taken.pop("params"), strict=True):
        name = rule.name
        if name not in template:
            continue
        da = template[name]
        values = values[:, 1] if da.ndim == 2 else values
        data[name] = (da.dims, values.reshape(chains, draws, *values.shape[1:]))
    for name, values in taken.items():
        if name in template:
            data[name] = (template[name].dims, values.reshape(chains, draws, *values.shape[1:]))
    used = {dim for dims, _ in data.values() for dim in dims}
    coords = {
        name: c
        for name, c in template.coords.items()
        if "draw" not in c.dims and all(d in used for d in c.dims)
    }
    return xr.Dataset(data, coords=coords).assign_coords(
        chain=np.arange(chains), draw=np.arange(draws)
    )


def _prior_group(
    old: Priors, priors: Priors, fit: az.InferenceData, fitter: ScenarioFitter, seed: int
) -> xr.Dataset:
    """The prior predictive under the new priors: the old one re-weighted, or drawn again."""
    rng = np.random.default_rng([seed, 2, 1])
    weights, k, ess = _importance(old, priors, fit.prior, fitter)
    if k <= PARETO_K_MAX and ess >= ESS_MIN:
        shape = (fit.prior.sizes["chain"], fit.prior.sizes["draw"])
        return _take(fit.prior, _resample_indices(weights, shape, rng))
    return fitter.prior_draws(seed, fit.prior.sizes["draw"]).prior


def update_priors(
    fitter: ScenarioFitter,
    fit: az.InferenceData,
    priors: Priors,
    seed: int | None = None,
    pool: LikelihoodPool | Callable[[], LikelihoodPool] | None = None,
    prior: bool = True,
) -> az.InferenceData:
    """The fit under new priors: re-weighted when reliable, NUTS otherwise.

    Two sets of draws can be re-weighted: the fit's own (by the ratio of the priors), and
    a :class:`~forecast.analysis.reweighting.likelihood_pool.LikelihoodPool` (by the new
    prior times the exact likelihood over the pool's proposal), which covers edits the
    fit's draws do not. A small edit (the own draws' importance ESS at least
    :data:`~forecast.settings.OWN_DRAWS_ESS`) re-weights the fit's own draws; otherwise the
    pool, when its weights are reliable (Pareto k <= 0.7 and an importance ESS of at least
    400; a pool given as a recipe is built then); otherwise the own draws if they are
    reliable; otherwise NUTS runs again on the same compiled density. The route depends on
    the fit and the priors only, never on whether the pool was built before.

    Parameters
    ----------
    fitter : ScenarioFitter
        The fitter that made ``fit``, still holding the priors it was made with; it holds
        ``priors`` afterwards.
    fit : az.InferenceData
        A fit of ``fitter`` (its evidence cut-off is re-used).
    priors : Priors
        The edited priors (same rules).
    seed : int, optional
        Seed of the resampling or of the new NUTS run (defaults to the fit's seed).
    pool : LikelihoodPool or callable, optional
        The pool of the fit (same evidence cut-off), or a function that builds it.
    prior : bool
        Also make the ``prior`` group (the prior predictive under ``priors``).

    Returns
    -------
    az.InferenceData
        Same layout as :meth:`ScenarioFitter.fit`; the attributes say how it was made:
        ``fit_method``, ``reweight_source`` (``"posterior"`` or ``"likelihood pool"``),
        ``reweight_pareto_k``, ``reweight_ess`` and ``reweight_extended`` (1 when draws
        from the edited priors themselves were added to the pool).
    """
    old = fitter.priors
    seed = int(fit.posterior.attrs.get("seed", 0)) if seed is None else seed
    as_of = fit.posterior.attrs.get("as_of")
    cutoff = None if as_of in (None, "all evidence") else np.datetime64(as_of).astype(object)
    weights, k, ess = _importance(old, priors, fit.posterior, fitter)
    own_ok = k <= PARETO_K_MAX and ess >= ESS_MIN
    found: PoolWeights | None = None
    if pool is not None and not (own_ok and ess >= OWN_DRAWS_ESS):
        pool = pool if isinstance(pool, LikelihoodPool) else pool()
        found = pool.weights(priors)
        if not found.reliable:
            found = None
    fitter.set_priors(priors)
    if found is None and not own_ok:
        logger.info(
            "prior edit too large to re-weight (Pareto k %.2f, ESS %.0f): NUTS again", k, ess
        )
        refit = fitter.fit(as_of=cutoff, seed=seed)
        for group in refit.groups():
            refit[group].attrs.update(
                {"fit_method": FIT_METHOD_NUTS, "reweight_pareto_k": k, "reweight_ess": ess}
            )
        return refit
    if found is not None:
        assert isinstance(pool, LikelihoodPool)
        groups = {"posterior": _pool_posterior(pool, found, priors, fit.posterior, seed)}
        source, k, ess = "likelihood pool", found.pareto_k, found.ess
        extended = int(found.extended)
    else:
        rng = np.random.default_rng([seed, 2])
        shape = (fit.posterior.sizes["chain"], fit.posterior.sizes["draw"])
        indices = _resample_indices(weights, shape, rng)
        groups = {"posterior": _take(fit.posterior, indices)}
        if "sample_stats" in fit:
            groups["sample_stats"] = _take(fit.sample_stats, indices)
        source, extended = "posterior", 0
    if prior and "prior" in fit:
        groups["prior"] = _prior_group(old, priors, fit, fitter, seed)
    attrs = {
        **fit.posterior.attrs,
        "fit_method": FIT_METHOD_REWEIGHTED,
        "reweight_source": source,
        "reweight_pareto_k": k,
        "reweight_ess": ess,
        "reweight_extended": extended,
    }
    out = az.InferenceData(**groups)
    for group in out.groups():
        out[group].attrs.clear()
        out[group].attrs.update(attrs)
    return out
