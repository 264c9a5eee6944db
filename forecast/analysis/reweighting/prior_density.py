"""Log prior densities of parameter draws: the ratio every prior re-weighting is built on."""

from __future__ import annotations

import numpy as np
from scipy import special

from forecast.elicitation import Priors


def rule_log_density(alpha: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Log density of Dirichlet(``alpha``) at outcome vectors ``q`` (last axis: outcomes).

    A Beta rule is the two-component case (``q = [1 - p, p]``), which gives the Beta density
    of ``p``.

    Parameters
    ----------
    alpha : ndarray
        Dirichlet parameters, shape ``(k,)``.
    q : ndarray
        Outcome vectors, shape ``(..., k)``.

    Returns
    -------
    ndarray
        Shape ``q.shape[:-1]``.
    """
    alpha = np.asarray(alpha, dtype=float)
    norm = special.gammaln(alpha.sum()) - special.gammaln(alpha).sum()
    return norm + np.sum(special.xlogy(alpha - 1.0, q), axis=-1)


def log_prior_draws(
    priors: Priors, params: list[np.ndarray], reference: str = "prior"
) -> np.ndarray:
    """Log prior density of every draw: the Beta/Dirichlet priors of all rules.

    Parameters
    ----------
    priors : Priors
        The priors of the fit.
    params : list of ndarray
        One ``(draws, outcomes)`` array per rule, in ``scenario.rules`` order.
    reference : str
        ``"prior"`` adds the reference-class log-likelihoods (the forecaster's base rates
        count as prior knowledge), ``"likelihood"`` leaves them out.

    Returns
    -------
    ndarray
        Shape ``(draws,)``.
    """
    if reference not in ("prior", "likelihood"):
        raise ValueError(f"reference must be 'prior' or 'likelihood', not {reference!r}")
    total = sum(rule_log_density(r.alpha, p) for r, p in zip(priors.rules, params, strict=True))
    if reference == "prior":
        total = total + priors.reference_loglik(params)
    return np.asarray(total, dtype=float)
