"""Pools of the forecasters: of probabilities, of priors and of forecasts, and disagreement.

Forecasts are pooled linearly (a weighted mixture, :func:`linear_pool`) and logarithmically
(a normalised weighted geometric mean, :func:`log_pool`), question by question and stage by
stage in :func:`pooled_forecast_table`; priors are pooled logarithmically
(:func:`log_pool_priors`, exact for Beta and Dirichlet priors). :func:`disagreement_table`
measures how far apart the forecasters are and how the evidence narrows the disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special

from forecast.analysis.pooling.forecasts import PRIOR_STAGE, ForecastDraws
from forecast.analysis.pooling.structure import StructureMismatchError
from forecast.analysis.reweighting.weights import effective_sample_size
from forecast.elicitation import Priors, RulePrior
from forecast.scenario.validated import Scenario

__all__ = [
    "LINEAR_POOL",
    "LOG_POOL",
    "disagreement_table",
    "linear_pool",
    "log_pool",
    "log_pool_priors",
    "pooled_forecast_table",
    "pooled_reference_counts",
]

LINEAR_POOL = "linear pool"
"""Row label of the linear pool in :func:`pooled_forecast_table`."""
LOG_POOL = "log pool"
"""Row label of the log pool in :func:`pooled_forecast_table`."""


def _weights(weights: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray:
    """One weight per forecaster, checked and normalised to sum to one (default: equal)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"need {n} weights, one per forecaster, got shape {w.shape}")
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError("weights must be non-negative and not all zero")
    return w / w.sum()


def linear_pool(
    probs: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """Linear opinion pool: the weighted mean of the forecasters' probabilities.

    Parameters
    ----------
    probs : array_like
        ``(forecasters, ...)`` probabilities.
    weights : array_like, optional
        One non-negative weight per forecaster, normalised to sum to one (default: equal).

    Returns
    -------
    ndarray
        ``probs.shape[1:]``: ``sum_f w_f p_f``.

    Examples
    --------
    >>> float(linear_pool([0.2, 0.6]))
    0.4
    """
    p = np.asarray(probs, dtype=float)
    w = _weights(weights, p.shape[0])
    return np.tensordot(w, p, axes=1)


def log_pool(
    probs: Sequence[float] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
    categorical: bool = False,
) -> np.ndarray:
    """Logarithmic opinion pool: the normalised weighted geometric mean of probabilities.

    For a binary event ``prod p_f^w_f / (prod p_f^w_f + prod (1 - p_f)^w_f)``; for categories
    (``categorical=True``, last axis) ``prod p_fk^w_f`` normalised over the categories.

    Parameters
    ----------
    probs : array_like
        ``(forecasters, ...)`` event probabilities, or ``(forecasters, ..., categories)``.
    weights : array_like, optional
        One non-negative weight per forecaster, normalised to sum to one (default: equal).
    categorical : bool
        Whether the last axis holds the probabilities of exhaustive categories.

    Returns
    -------
    ndarray
        The pooled probabilities, ``probs.shape[1:]``.

    Raises
    ------
    ValueError
        If a probability is outside [0, 1], or forecasters with positive weight are certain of
        opposite outcomes (the pool is undefined).

    Examples
    --------
    >>> round(float(log_pool([0.2, 0.6])), 6)
    0.378041
    """
    p = np.asarray(probs, dtype=float)
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("probabilities must lie in [0, 1]")
    w = _weights(weights, p.shape[0])
    if not categorical:
        p = np.stack([1.0 - p, p], axis=-1)
    w = w.reshape((-1,) + (1,) * (p.ndim - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(w > 0, w * np.log(p), 0.0)
    total = logs.sum(axis=0)
    norm = special.logsumexp(total, axis=-1, keepdims=True)
    if np.any(~np.isfinite(norm)):
        raise ValueError(
            "the log pool is undefined: forecasters with positive weight are "
            "certain of opposite outcomes"
        )
    pooled = np.exp(total - norm)
    return pooled if categorical else pooled[..., 1]


def pooled_reference_counts(rules: Sequence[RulePrior]) -> np.ndarray | None:
    """Reference-class counts of a pooled rule: distinct classes added, identical ones once.

    Reference classes are evidence, not opinion: a class several forecasters cite counts
    once, different classes are added up.

    Parameters
    ----------
    rules : sequence of RulePrior
        The forecasters' priors of one rule.

    Returns
    -------
    ndarray or None
        The summed counts of the distinct classes, None when no forecaster cites one.
    """
    distinct: list[np.ndarray] = []
    for r in rules:
        if r.counts is not None and not any(np.array_equal(r.counts, c) for c in distinct):
            distinct.append(np.asarray(r.counts, dtype=float))
    return np.sum(distinct, axis=0) if distinct else None


def log_pool_priors(
    priors: Mapping[str, Priors], weights: Sequence[float] | np.ndarray | None = None
) -> Priors:
    """Logarithmic pool of the forecasters' priors, exact for Beta and Dirichlet priors.

    The normalised weighted geometric mean of Dirichlet densities with parameters
    ``alpha_f`` and weights summing to one is the Dirichlet with ``sum_f w_f alpha_f``.
    Reference classes are evidence, not opinion: distinct ones are added up, one that
    several forecasters cite counts once.

    Parameters
    ----------
    priors : mapping of str to Priors
        Forecaster name -> priors, all with the same rules.
    weights : array_like, optional
        One weight per forecaster (default: equal).

    Returns
    -------
    Priors
        Rule priors with ``source="log pool"``.
    """
    names = list(priors)
    w = _weights(weights, len(names))
    first = priors[names[0]]
    for name in names[1:]:
        if [r.rule for r in priors[name].rules] != [r.rule for r in first.rules]:
            raise StructureMismatchError(
                [f"priors of forecaster '{name}': rule names do not match those of '{names[0]}'"]
            )
    out = []
    for k, rule in enumerate(first.rules):
        rules = [priors[n].rules[k] for n in names]
        alpha = np.sum([wf * r.alpha for wf, r in zip(w, rules, strict=True)], axis=0)
        out.append(
            RulePrior(rule.rule, rule.labels, alpha, (), pooled_reference_counts(rules), "log pool")
        )
    return Priors(out)


def _pool_draws(draws: Sequence[ForecastDraws], w: np.ndarray) -> ForecastDraws:
    """Linear pool of draws: the mixture, each forecaster's weights scaled by theirs."""
    values = np.concatenate([d.values for d in draws])
    weights = np.concatenate([wf * d.weights for wf, d in zip(w, draws, strict=True)])
    return ForecastDraws(
        draws[0].questions, values, weights, effective_sample_size(weights), None, LINEAR_POOL
    )


def pooled_forecast_table(
    draws: Mapping[tuple[str, str], ForecastDraws],
    scenario: Scenario,
    pool: Sequence[str] | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """Every forecaster's forecast of every question at every stage, with the two pools.

    The linear pool is the weighted mixture of the pooled forecasters' draws (its mean is the
    weighted mean of their means, its interval that of the mixture). The log pool combines
    the forecasters' mean probabilities (:func:`log_pool`); it has no interval.

    Parameters
    ----------
    draws : mapping
        ``(forecaster, stage) -> ForecastDraws`` from :func:`forecaster_forecasts`.
    scenario : Scenario
        The shared structure (question texts and dates).
    pool : sequence of str, optional
        Forecasters to pool (default: every forecaster in ``draws``). Others (for example a
        pooled prior fitted as a forecaster of its own) are listed but not pooled.
    weights : array_like, optional
        Pool weights, one per pooled forecaster (default: equal).
    interval : float
        Mass of the central interval.

    Returns
    -------
    DataFrame
        One row per forecaster (then ``"linear pool"`` and ``"log pool"``), stage and
        question: ``forecaster``, ``stage``, ``question``, ``text``, ``date``, ``mean``,
        ``low<pct>``, ``high<pct>``, ``ess``.
    """
    forecasters = list(dict.fromkeys(f for f, _ in draws))
    stages = list(dict.fromkeys(s for _, s in draws))
    pooled = forecasters if pool is None else list(pool)
    unknown = [f for f in pooled if f not in forecasters]
    if unknown:
        raise ValueError(f"unknown forecaster(s) to pool: {', '.join(unknown)}")
    w = _weights(weights, len(pooled))
    pct = round(interval * 100)
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    qs = scenario.questions
    frames = []

    def frame(
        name: str, stage: str, mean: np.ndarray, low: np.ndarray, high: np.ndarray, ess: float
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "forecaster": name,
                "stage": stage,
                "question": [q.id for q in qs],
                "text": [q.text for q in qs],
                "date": [q.date.isoformat() for q in qs],
                "mean": mean,
                f"low{pct}": low,
                f"high{pct}": high,
                "ess": ess,
            }
        )

    for stage in stages:
        for name in forecasters:
            d = draws.get((name, stage))
            if d is None:
                continue
            if d.questions != tuple(q.id for q in qs):
                raise StructureMismatchError(
                    [
                        f"forecaster '{name}', {stage}: questions do "
                        f"not match scenario '{scenario.id}'"
                    ]
                )
            frames.append(frame(name, stage, d.mean(), d.quantile(lo), d.quantile(hi), d.ess))
        members = [draws[(name, stage)] for name in pooled if (name, stage) in draws]
        if len(members) != len(pooled):
            continue
        mixture = _pool_draws(members, w)
        frames.append(
            frame(
                LINEAR_POOL,
                stage,
                mixture.mean(),
                mixture.quantile(lo),
                mixture.quantile(hi),
                mixture.ess,
            )
        )
        means = np.stack([m.mean() for m in members])
        nan = np.full(len(qs), np.nan)
        frames.append(
            frame(LOG_POOL, stage, log_pool(np.clip(means, 0.0, 1.0), w), nan, nan, np.nan)
        )
    return pd.concat(frames, ignore_index=True)


def disagreement_table(
    table: pd.DataFrame, forecasters: Sequence[str] | None = None, logit: bool = False
) -> pd.DataFrame:
    """How far apart the forecasters' mean forecasts are, per question and stage.

    Parameters
    ----------
    table : DataFrame
        From :func:`pooled_forecast_table`.
    forecasters : sequence of str, optional
        Whose forecasts to compare (default: every row that is not a pool).
    logit : bool
        Measure the spread on the logit scale (probabilities clipped to [1e-4, 1 - 1e-4]),
        where 1% against 3% counts as much as 25% against 50%.

    Returns
    -------
    DataFrame
        Indexed by question, with ``text``, ``date``, then per stage (in table order) the
        range (max - min) of the forecasters' means, ``<stage> range``, and their standard
        deviation, ``<stage> sd``; then ``<stage> / prior`` for every later stage: the
        ratio of its range to the prior range (below 1: the evidence narrowed the
        disagreement; NaN where the prior range is zero).
    """
    if forecasters is None:
        forecasters = [
            f for f in dict.fromkeys(table["forecaster"]) if f not in (LINEAR_POOL, LOG_POOL)
        ]
    part = table[table["forecaster"].isin(list(forecasters))].copy()
    if part["forecaster"].nunique() < 2:
        raise ValueError("need at least two forecasters to measure disagreement")
    if logit:
        part["mean"] = special.logit(np.clip(part["mean"], 1e-4, 1 - 1e-4))
    stages = list(dict.fromkeys(part["stage"]))
    questions = list(dict.fromkeys(part["question"]))
    first = part.drop_duplicates("question").set_index("question")
    out = pd.DataFrame({"text": first.loc[questions, "text"], "date": first.loc[questions, "date"]})
    out.index.name = "question"
    grouped = part.groupby(["stage", "question"])["mean"]
    spread = grouped.max() - grouped.min()
    sd = grouped.std(ddof=0)
    for stage in stages:
        out[f"{stage} range"] = spread.loc[stage].reindex(questions).to_numpy()
        out[f"{stage} sd"] = sd.loc[stage].reindex(questions).to_numpy()
    if PRIOR_STAGE in stages:
        base = out[f"{PRIOR_STAGE} range"].to_numpy()
        for stage in stages:
            if stage != PRIOR_STAGE:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = out[f"{stage} range"].to_numpy() / base
                out[f"{stage} / prior"] = np.where(base > 0, ratio, np.nan)
    return out
