"""Weighted draws: importance weights, their effective sample size, weighted quantiles.

Every analysis that re-weights a fit's draws (a replay to an earlier evidence cut-off, a
prior edit, power-scaling, an observed what-if, a pool of forecasters) uses these, so the
same draws summarise the same way in every table and notebook:

* importance weights are self-normalised; a draw under which the target is impossible
  (``-inf`` log weight) gets weight 0; :func:`psis_weights` Pareto-smooths the largest
  (Vehtari et al., PSIS, through ``arviz.psislw``) and reports the tail's shape k, ``-inf``
  when all finite ratios are equal (the weights are then exact);
* the effective sample size is Kish's ``(sum w)^2 / sum w^2``;
* quantiles are those of the weighted empirical distribution with each distinct value at the
  midpoint of its cumulative weight (the Hazen rule for equal weights).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import arviz as az
import numpy as np

__all__ = [
    "effective_sample_size",
    "normalised_weights",
    "psis_weights",
    "relative_ess",
    "weighted_mean_se",
    "weighted_quantile",
]


def normalised_weights(log_weights: np.ndarray) -> np.ndarray:
    """Plain importance weights summing to one (``-inf`` gives weight 0), not smoothed.

    Raises
    ------
    ValueError
        If every log weight is ``-inf``: the target is impossible under every draw.
    """
    log_weights = np.asarray(log_weights, dtype=float)
    finite = np.isfinite(log_weights)
    if not finite.any():
        raise ValueError("the observation is impossible under every parameter draw")
    w = np.where(finite, np.exp(log_weights - np.max(log_weights[finite])), 0.0)
    return w / w.sum()


def psis_weights(log_ratio: np.ndarray, reff: float = 1.0) -> tuple[np.ndarray, float]:
    """Normalised Pareto-smoothed importance weights and the Pareto k of their tail.

    Parameters
    ----------
    log_ratio : ndarray
        Log importance ratio per draw, shape ``(draws,)``; ``-inf`` for a draw under which
        the target is impossible.
    reff : float
        Relative effective sample size of the draws (1 for independent draws, see
        :func:`relative_ess`).

    Returns
    -------
    weights : ndarray
        Summing to one.
    k : float
        Pareto shape of the largest ratios: below 0.5 good, up to 0.7 usable, above that the
        estimate is unreliable; ``-inf`` when all finite ratios are equal (exact weights).

    Raises
    ------
    ValueError
        If no ratio is finite.
    """
    lr = np.asarray(log_ratio, dtype=float).ravel()
    finite = np.isfinite(lr)
    if not finite.any():
        raise ValueError("every importance ratio is zero or undefined")
    weights = np.zeros(lr.size)
    if np.ptp(lr[finite]) < 1e-12:
        weights[finite] = 1.0 / finite.sum()
        return weights, -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # callers report a large k themselves
        smoothed, k = az.psislw(lr[finite] - lr[finite].max(), reff)
    weights[finite] = np.exp(np.asarray(smoothed, dtype=float))
    return weights / weights.sum(), float(k)


def relative_ess(log_ratio: np.ndarray, shape: tuple[int, int]) -> float:
    """Relative ESS of the importance ratios of ``(chains, draws)`` MCMC draws, in [0.05, 1].

    PSIS needs it for autocorrelated draws; independent draws (or fewer than 4 per chain)
    count as 1.
    """
    if shape[1] < 4:
        return 1.0
    ratio = np.exp(log_ratio - np.max(log_ratio))
    if np.ptp(ratio) < 1e-12:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = float(az.ess(ratio.reshape(shape), method="mean"))
    return float(np.clip(ess / ratio.size, 0.05, 1.0))


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of importance weights."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2))


def weighted_mean_se(
    values: np.ndarray, weights: np.ndarray, reff: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means of ``values`` ``(draws, items)`` and their Monte Carlo standard errors.

    ``weights`` sum to one; ``reff`` is the draws' relative ESS (:func:`relative_ess`).
    """
    est = weights @ values
    se = np.sqrt(np.sum(weights[:, None] ** 2 * (values - est) ** 2, axis=0) / reff)
    return est, se


def weighted_quantile(
    values: np.ndarray, weights: np.ndarray | None, probs: float | Sequence[float]
) -> np.ndarray:
    """Quantiles of weighted draws, column by column.

    The distinct values of a column, sorted, sit at the midpoints of their cumulative weights
    (equal values pooled into one) and the quantile interpolates linearly between them: the
    Hazen rule for equal weights, and unchanged when a draw is split into equal copies (so a
    pool of identical forecasters has their quantiles exactly). Draws of weight 0 drop out.

    Parameters
    ----------
    values : ndarray
        ``(draws,)`` or ``(draws, columns)``.
    weights : ndarray or None
        ``(draws,)`` non-negative weights (normalised here); None for equal weights.
    probs : float or sequence of float
        Probabilities in [0, 1].

    Returns
    -------
    ndarray
        ``probs``' shape followed by the columns (none for 1-d values).

    Raises
    ------
    ValueError
        If the weights are not one non-negative number per draw, or all zero.
    """
    values = np.asarray(values, dtype=float)
    flat = values.reshape(values.shape[0], -1)
    w = np.ones(flat.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (flat.shape[0],) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("weights must be one non-negative number per draw, not all zero")
    w = w / w.sum()
    p = np.asarray(probs, dtype=float)
    out = np.empty((flat.shape[1], *p.shape))
    keep = w > 0
    for j in range(flat.shape[1]):
        x, inverse = np.unique(flat[keep, j], return_inverse=True)
        wj = np.bincount(inverse.ravel(), weights=w[keep], minlength=len(x))
        position = np.cumsum(wj) - wj / 2
        out[j] = np.interp(p, position, x)
    return np.moveaxis(out, 0, -1).reshape(p.shape + values.shape[1:])
