"""Pooling forecasters: several forecasters' priors on one scenario, their forecasts and pools.

Each forecaster writes the same scenario (nodes, rules, evidence, questions) with their own
priors. One compiled :class:`~forecast.pymc_backend.fitting.ScenarioFitter` (or only its exact
engine) serves all of them: the forecasters' priors differ, the model does not. This module

- checks that the forecasters' scenarios have the same structure (:func:`check_same_structure`);
- computes every forecaster's prior predictive and posterior forecast of every question, by
  importance re-weighting of prior draws with the exact likelihood or by NUTS through
  ``set_priors`` (:func:`forecaster_forecasts`);
- pools forecasts linearly (a weighted mixture) and logarithmically (a normalised weighted
  geometric mean) (:func:`linear_pool`, :func:`log_pool`, :func:`pooled_forecast_table`), and
  pools priors logarithmically (:func:`log_pool_priors`, exact for Beta and Dirichlet priors);
- pools the elicited judgements hierarchically: a PyMC model treats each forecaster's best
  guess per rule (logit scale) as a noisy measurement, with the stated interval as its error,
  of a shared mean per rule with a between-forecaster spread, and turns the result into a
  pooled Beta/Dirichlet prior that can be fitted like any other (:func:`hierarchical_pool`);
- measures where the forecasters disagree and how the evidence narrows the disagreement
  (:func:`disagreement_table`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from forecast.analysis.reweighting.weights import (
    effective_sample_size,
    normalised_weights,
    weighted_quantile,
)
from forecast.elicitation import Priors, RulePrior, elicit, reference_log_coefficient
from forecast.scenario.validated import Scenario

if TYPE_CHECKING:
    import arviz as az

    from forecast.pymc_backend.fitting import ScenarioFitter

__all__ = [
    "LINEAR_POOL",
    "LOG_POOL",
    "PRIOR_STAGE",
    "ForecastDraws",
    "HierarchicalPool",
    "StructureMismatchError",
    "check_same_structure",
    "disagreement_table",
    "elicited_judgements",
    "forecaster_forecasts",
    "forecaster_prior_table",
    "forecaster_priors",
    "hierarchical_pool",
    "linear_pool",
    "log_pool",
    "log_pool_priors",
    "pooled_forecast_table",
    "reference_updated",
]

logger = logging.getLogger(__name__)

PRIOR_STAGE = "prior"
"""Stage label of the forecasts implied by the priors alone (no evidence)."""

LINEAR_POOL = "linear pool"
"""Row label of the linear pool in :func:`pooled_forecast_table`."""
LOG_POOL = "log pool"
"""Row label of the log pool in :func:`pooled_forecast_table`."""


class StructureMismatchError(ValueError):
    """Forecasters' scenarios (or priors) that do not share one structure.

    Parameters
    ----------
    problems : list of str
        Every difference found, one line each.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "the forecasters' scenarios do not share one structure:\n  "
            + "\n  ".join(self.problems)
        )


# ---------------------------------------------------------------------------------------------
# structure


def _rule_signature(scenario: Scenario) -> dict[str, tuple]:
    """Every rule (free or ``stays``) by name: what it applies to and where it leads."""
    out = {}
    for node in scenario.nodes:
        for rule in node.rules:
            out[rule.name] = (
                rule.from_states,
                tuple(sorted(rule.given.items())),
                rule.within_months,
                rule.destinations,
            )
    return out


def _evidence_signature(scenario: Scenario) -> list[tuple]:
    items = (*scenario.evidence, *scenario.superseded)
    return sorted((e.node, e.date, e.known_on, e.states, e.superseded_on) for e in items)


def _question_signature(scenario: Scenario) -> list[tuple]:
    return [(q.id, q.node, q.states, q.date, q.kind, q.window_start) for q in scenario.questions]


def _structure_problems(
    name: str, scenario: Scenario, ref_name: str, reference: Scenario
) -> list[str]:
    """Differences between one forecaster's scenario and the reference scenario."""
    where = f"forecaster '{name}' vs '{ref_name}'"
    mine, theirs = _rule_signature(scenario), _rule_signature(reference)
    problems = []
    missing = [r for r in theirs if r not in mine]
    extra = [r for r in mine if r not in theirs]
    if missing:
        problems.append(f"{where}: rule(s) missing: {', '.join(missing)}")
    if extra:
        problems.append(f"{where}: rule(s) not in '{ref_name}': {', '.join(extra)}")
    if not missing and not extra and list(mine) != list(theirs):
        problems.append(f"{where}: the rules are in a different order")
    labels = ("from states", "given", "within_months", "destinations")
    for rule in (r for r in theirs if r in mine):
        for label, a, b in zip(labels, mine[rule], theirs[rule], strict=True):
            if a != b:
                problems.append(f"{where}: rule {rule}: {label} {a!r} differs from {b!r}")
    if [n.name for n in scenario.nodes] != [n.name for n in reference.nodes]:
        problems.append(
            f"{where}: nodes {[n.name for n in scenario.nodes]} differ from "
            f"{[n.name for n in reference.nodes]}"
        )
    else:
        for a, b in zip(scenario.nodes, reference.nodes, strict=True):
            if a.states != b.states or a.parents != b.parents or a.absorbing != b.absorbing:
                problems.append(
                    f"{where}: node {a.name}: states, parents or absorbing states differ"
                )
            elif not np.allclose(a.initial, b.initial):
                problems.append(f"{where}: node {a.name}: initial states differ")
    if (scenario.timeline.start, scenario.timeline.horizon) != (
        reference.timeline.start,
        reference.timeline.horizon,
    ):
        problems.append(f"{where}: the timelines differ")
    if _question_signature(scenario) != _question_signature(reference):
        problems.append(f"{where}: the questions differ (ids, nodes, states, dates or kinds)")
    if _evidence_signature(scenario) != _evidence_signature(reference):
        problems.append(
            f"{where}: the evidence differs ({len(scenario.evidence)} vs "
            f"{len(reference.evidence)} items)"
        )
    return problems


def check_same_structure(
    scenarios: Mapping[str, Scenario], reference: Scenario | None = None
) -> None:
    """Check that every forecaster's scenario has the reference scenario's structure.

    The structure is everything but the priors: nodes (states, parents, initial and absorbing
    states), every rule's name, condition, horizon and destinations, the timeline, the
    questions and the evidence. Rationales, priors and reference classes may differ.

    Parameters
    ----------
    scenarios : mapping of str to Scenario
        Forecaster name -> that forecaster's scenario.
    reference : Scenario, optional
        The scenario the others must match (default: the first forecaster's).

    Raises
    ------
    StructureMismatchError
        Listing every difference, rule names first (missing and extra rules by name).
    """
    if not scenarios:
        raise ValueError("no forecasters given")
    names = list(scenarios)
    ref_name = reference.id if reference is not None else names[0]
    reference = reference if reference is not None else scenarios[names[0]]
    problems = []
    for name, scenario in scenarios.items():
        if scenario is not reference:
            problems += _structure_problems(name, scenario, ref_name, reference)
    if problems:
        raise StructureMismatchError(problems)


def _check_priors(scenario: Scenario, priors: Mapping[str, Priors]) -> None:
    """Every forecaster's priors have the scenario's free rules, in order, with its labels."""
    expected = [(r.name, ("stay", *r.destinations)) for r in scenario.rules]
    problems = []
    for name, prior in priors.items():
        found = [(r.rule, tuple(r.labels)) for r in prior.rules]
        if found == expected:
            continue
        want, got = [e[0] for e in expected], [f[0] for f in found]
        missing = [r for r in want if r not in got]
        extra = [r for r in got if r not in want]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"not in scenario '{scenario.id}': {', '.join(extra)}")
        if not detail:
            detail.append("same rule names but a different order or different outcomes")
        problems.append(
            f"priors of forecaster '{name}': rule names do not match the "
            f"scenario's ({'; '.join(detail)})"
        )
    if problems:
        raise StructureMismatchError(problems)


def forecaster_priors(
    scenarios: Mapping[str, Scenario], reference: Scenario | None = None
) -> dict[str, Priors]:
    """Each forecaster's elicited priors, after checking that the structures match.

    Parameters
    ----------
    scenarios : mapping of str to Scenario
        Forecaster name -> scenario.
    reference : Scenario, optional
        The scenario whose structure all must share (default: the first forecaster's).

    Returns
    -------
    dict of str to Priors
        In the order given.
    """
    check_same_structure(scenarios, reference)
    return {name: elicit(scenario) for name, scenario in scenarios.items()}


def forecaster_prior_table(
    scenario: Scenario,
    priors: Mapping[str, Priors],
    rules: Sequence[str] | None = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """Each forecaster's prior of every rule destination, side by side.

    Parameters
    ----------
    scenario : Scenario
        The shared structure.
    priors : mapping of str to Priors
        Forecaster (or pool) name -> priors.
    rules : sequence of str, optional
        Rule names to show (default: every free rule).
    interval : float
        Mass of the central interval of the N-month probability.

    Returns
    -------
    DataFrame
        One row per forecaster, rule and destination: ``forecaster``, ``node``, ``rule``,
        ``destination``, ``within_months``, ``stated_best`` (NaN where not stated), ``mean``,
        ``low<pct>``, ``high<pct>`` (of the marginal Beta), ``reference_class``
        (``"k of n"`` or empty).
    """
    _check_priors(scenario, priors)
    wanted = [r.name for r in scenario.rules] if rules is None else list(rules)
    by_name = {r.name: r for r in scenario.rules}
    unknown = [r for r in wanted if r not in by_name]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}")
    pct = round(interval * 100)
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    rows = []
    for name, prior in priors.items():
        for rule_name in wanted:
            rule, rp = by_name[rule_name], prior[rule_name]
            stated = {s.destination: s.best for s in rp.stated}
            reference = ""
            if rp.counts is not None:
                reference = f"{int(rp.counts.sum() - rp.counts[0])} of {int(rp.counts.sum())}"
            for k, destination in enumerate(rule.destinations, start=1):
                a, b = float(rp.alpha[k]), float(rp.alpha.sum() - rp.alpha[k])
                dist = stats.beta(a, b)
                best = stated.get(destination)
                rows.append(
                    {
                        "forecaster": name,
                        "node": rule.node,
                        "rule": rule_name,
                        "destination": destination,
                        "within_months": rule.within_months,
                        "stated_best": np.nan if best is None else float(best),
                        "mean": a / (a + b),
                        f"low{pct}": float(dist.ppf(lo)),
                        f"high{pct}": float(dist.ppf(hi)),
                        "reference_class": reference,
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# forecasts


@dataclass(frozen=True)
class ForecastDraws:
    """Weighted draws of every question's probability under one forecaster at one stage.

    Attributes
    ----------
    questions : tuple of str
        Question ids, in scenario order (the columns of ``values``).
    values : ndarray
        ``(draws, questions)`` probability of each question for each parameter draw.
    weights : ndarray
        ``(draws,)`` normalised weights (equal for prior and NUTS draws).
    ess : float
        Effective sample size: of the importance weights (``1 / sum(w**2)``), the draw count
        for prior draws, the least bulk ESS of a question probability for a NUTS fit (whose
        R-hat, ESS and divergence problems are logged as warnings).
    log_evidence : float or None
        Log probability of the evidence under the forecaster's prior updated by their own
        reference classes (the same data for every forecaster, so comparable between them),
        estimated by importance sampling; None otherwise.
    method : str
        ``"prior"``, ``"importance"``, ``"nuts"`` or ``"linear pool"``.
    """

    questions: tuple[str, ...]
    values: np.ndarray
    weights: np.ndarray
    ess: float
    log_evidence: float | None = None
    method: str = "prior"

    def mean(self) -> np.ndarray:
        """Weighted mean probability of every question."""
        return self.weights @ self.values

    def quantile(self, q: float) -> np.ndarray:
        """Weighted quantile of every question's probability."""
        return weighted_quantile(self.values, self.weights, q)


def _equal(values: np.ndarray, questions: tuple[str, ...], method: str) -> ForecastDraws:
    n = values.shape[0]
    return ForecastDraws(questions, values, np.full(n, 1.0 / n), float(n), None, method)


def _question_matrix(result: Any, scenario: Scenario) -> np.ndarray:
    return np.stack([result.questions[q.id] for q in scenario.questions], axis=-1)


def reference_updated(priors: Priors) -> tuple[Priors, float]:
    """Priors updated by their reference classes (conjugate), and the classes' log evidence.

    A Beta/Dirichlet prior times the multinomial likelihood of a reference class's counts is
    the Beta/Dirichlet with the counts added, so the reference classes can be sampled from
    exactly instead of being re-weighted.

    Parameters
    ----------
    priors : Priors
        Rule priors, some with reference-class counts.

    Returns
    -------
    Priors
        The same rules with ``alpha + counts`` and no counts left.
    float
        Log marginal likelihood of all reference counts under ``priors`` (the
        Dirichlet-multinomial probability, with the multinomial coefficient).
    """
    rules, log_evidence = [], 0.0
    for r in priors.rules:
        if r.counts is None:
            rules.append(r)
            continue
        posterior = r.alpha + r.counts
        log_evidence += (
            reference_log_coefficient(r.counts) + _log_beta(posterior) - _log_beta(r.alpha)
        )
        rules.append(RulePrior(r.rule, r.labels, posterior, r.stated, None, r.source))
    return Priors(rules), log_evidence


def _log_beta(alpha: np.ndarray) -> float:
    """Log of the multivariate Beta function, the Dirichlet's normalising constant."""
    return float(np.sum(special.gammaln(alpha)) - special.gammaln(np.sum(alpha)))


def _importance(
    engine: Any, params: list[np.ndarray], evidence: list[np.ndarray], questions: tuple[str, ...]
) -> ForecastDraws:
    """Draws of the reference-updated prior re-weighted by the exact likelihood of the evidence."""
    result = engine.run_draws(params, evidence)
    logw = np.asarray(result.loglik, dtype=float)
    logw = np.where(np.isnan(logw), -np.inf, logw)
    try:
        w = normalised_weights(logw)
    except ValueError:
        raise ValueError("the evidence has probability zero under every prior draw") from None
    log_evidence = float(special.logsumexp(logw) - np.log(len(logw)))
    values = _question_matrix(result, engine.scenario)
    values = np.where(w[:, None] > 0, values, 0.0)  # draws with zero weight may hold NaN
    return ForecastDraws(questions, values, w, effective_sample_size(w), log_evidence, "importance")


def _nuts(
    fitter: ScenarioFitter,
    prior: Priors,
    as_of: dt.date | None,
    seed: int,
    questions: tuple[str, ...],
    what: str,
) -> ForecastDraws:
    """A NUTS fit with the forecaster's priors; ``ess`` is the least bulk ESS of a question."""
    from forecast.pymc_backend.fitting import diagnose

    fitter.set_priors(prior)
    idata = fitter.fit(as_of=as_of, seed=seed)
    result = diagnose(idata, ["question_prob", *(r.name for r in fitter.scenario.rules)])
    for problem in result.problems:
        logger.warning("forecaster %s: %s", what, problem)
    values = idata.posterior["question_prob"].values
    draws = _equal(values.reshape(-1, values.shape[-1]), questions, "nuts")
    checked = result.table[
        ~result.table["constant"] & result.table["quantity"].str.startswith("question_prob")
    ]
    ess = float(checked["ess_bulk"].min()) if len(checked) else draws.ess
    return ForecastDraws(questions, draws.values, draws.weights, ess, None, "nuts")


def forecaster_forecasts(
    fitter: ScenarioFitter,
    priors: Mapping[str, Priors],
    cutoffs: Mapping[str, dt.date | None],
    seed: int,
    size: int = 2000,
    method: Literal["importance", "nuts"] = "importance",
    min_ess: float | None = None,
) -> dict[tuple[str, str], ForecastDraws]:
    """Every forecaster's prior predictive and posterior forecast of every question.

    One fitter serves every forecaster, since their scenarios share one structure: the prior
    draws run through its exact engine, and the posterior is either importance sampling
    (``"importance"``: no NUTS, no compilation) or a NUTS fit after
    :meth:`ScenarioFitter.set_priors` (``"nuts"``: the model is compiled once for all
    forecasters). Importance sampling draws from the prior updated by its reference classes
    (conjugate, exact: :func:`reference_updated`; the prior draws themselves when there are
    none) and weights each draw by the exact likelihood of the evidence known at the cut-off.
    The fitter's own priors are restored afterwards.

    Parameters
    ----------
    fitter : ScenarioFitter
        Built on a scenario with the forecasters' structure.
    priors : mapping of str to Priors
        Forecaster name -> priors (see :func:`forecaster_priors`).
    cutoffs : mapping of str to date or None
        Stage label -> evidence cut-off (None: all evidence).
    seed : int
        Seed of the prior draws (``numpy.random.default_rng([seed, 1])``, as
        :meth:`ScenarioFitter.prior_draws` uses, so both give the same prior draws) and of NUTS.
    size : int
        Prior draws per forecaster (also the importance sample).
    method : {"importance", "nuts"}
        How the posterior is computed.
    min_ess : float, optional
        Log a warning when an importance sample's effective size is below this.

    Returns
    -------
    dict
        ``(forecaster, stage) -> ForecastDraws``, the stage being :data:`PRIOR_STAGE` or a
        cut-off label, forecasters in the order given.

    Raises
    ------
    StructureMismatchError
        If a forecaster's rule names differ from the fitter's scenario's.
    """
    if PRIOR_STAGE in cutoffs:
        raise ValueError(f"'{PRIOR_STAGE}' is reserved for the prior predictive")
    if method not in ("importance", "nuts"):
        raise ValueError(f"method must be 'importance' or 'nuts', not {method!r}")
    scenario = fitter.scenario
    if not scenario.questions:
        raise ValueError(f"scenario '{scenario.id}' has no questions to forecast")
    _check_priors(scenario, priors)
    engine = fitter.engine
    questions = tuple(q.id for q in scenario.questions)
    evidence = {label: engine.evidence(as_of) for label, as_of in cutoffs.items()}
    out: dict[tuple[str, str], ForecastDraws] = {}
    original = fitter.priors
    try:
        for name, prior in priors.items():
            params = prior.sample(np.random.default_rng([seed, 1]), size)
            out[(name, PRIOR_STAGE)] = _equal(
                _question_matrix(engine.run_draws(params, None), scenario), questions, "prior"
            )
            if method == "importance" and cutoffs:
                updated, _ = reference_updated(prior)
                has_counts = any(r.counts is not None for r in prior.rules)
                proposal = (
                    updated.sample(np.random.default_rng([seed, 3]), size) if has_counts else params
                )
            for label, as_of in cutoffs.items():
                if method == "importance":
                    draws = _importance(engine, proposal, evidence[label], questions)
                    if min_ess is not None and draws.ess < min_ess:
                        logger.warning(
                            "forecaster %s, %s: importance ESS %.0f below %.0f",
                            name,
                            label,
                            draws.ess,
                            min_ess,
                        )
                else:
                    draws = _nuts(fitter, prior, as_of, seed, questions, f"{name}, {label}")
                out[(name, label)] = draws
                logger.info(
                    "forecaster %s, %s: %s posterior, ESS %.0f",
                    name,
                    label,
                    draws.method,
                    draws.ess,
                )
    finally:
        if fitter.priors is not original:
            fitter.set_priors(original)
    return out


# ---------------------------------------------------------------------------------------------
# pools


def _weights(weights: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray:
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


def _pooled_counts(rules: Sequence[RulePrior]) -> np.ndarray | None:
    """Reference-class counts of a pooled rule: distinct classes added, identical ones once."""
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
        out.append(RulePrior(rule.rule, rule.labels, alpha, (), _pooled_counts(rules), "log pool"))
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


# ---------------------------------------------------------------------------------------------
# hierarchical pool


def elicited_judgements(
    scenario: Scenario, priors: Mapping[str, Priors], credibility: float = 0.8
) -> pd.DataFrame:
    """Each forecaster's judgement of every rule destination, on the logit scale.

    Stated judgements (best guess, interval, credibility) are used as written. Where a rule
    gives plain Beta/Dirichlet parameters (or a prior was edited), the judgement is read off
    the marginal Beta: its mean and its central interval of mass ``credibility``.

    Parameters
    ----------
    scenario : Scenario
        The shared structure.
    priors : mapping of str to Priors
        Forecaster name -> priors.
    credibility : float
        Mass of the interval read off a prior that has no stated judgement.

    Returns
    -------
    DataFrame
        One row per forecaster, rule and destination: ``forecaster``, ``rule``,
        ``destination``, ``best``, ``low``, ``high``, ``credibility``, ``stated`` (bool),
        ``logit_best`` and ``logit_sd``: the half-width of the interval on the logit scale
        divided by the normal quantile of its credibility, so that a normal with that sd
        puts the stated mass in the stated interval.
    """
    _check_priors(scenario, priors)
    rows = []
    for name, prior in priors.items():
        for rule in scenario.rules:
            rp = prior[rule.name]
            stated = {s.destination: s for s in rp.stated}
            for k, destination in enumerate(rule.destinations, start=1):
                s = stated.get(destination)
                if s is not None and s.best is not None and s.interval is not None:
                    best, (low, high), cred, was_stated = s.best, s.interval, s.credibility, True
                else:
                    a, b = float(rp.alpha[k]), float(rp.alpha.sum() - rp.alpha[k])
                    dist = stats.beta(a, b)
                    best, cred, was_stated = a / (a + b), credibility, False
                    low, high = (float(x) for x in dist.ppf([(1 - cred) / 2, (1 + cred) / 2]))
                z = stats.norm.ppf((1 + cred) / 2)
                rows.append(
                    {
                        "forecaster": name,
                        "rule": rule.name,
                        "destination": destination,
                        "best": float(best),
                        "low": float(low),
                        "high": float(high),
                        "credibility": float(cred),
                        "stated": was_stated,
                        "logit_best": float(special.logit(best)),
                        "logit_sd": float((special.logit(high) - special.logit(low)) / (2 * z)),
                    }
                )
    return pd.DataFrame(rows)


@dataclass
class HierarchicalPool:
    """A hierarchical pool of the forecasters' judgements and the pooled prior it implies.

    Attributes
    ----------
    priors : Priors
        The pooled prior, one Beta/Dirichlet per rule (``source="hierarchical pool"``), ready
        for :meth:`ScenarioFitter.set_priors` or :func:`forecaster_forecasts`.
    table : DataFrame
        One row per rule and destination: the forecasters' best guesses (a column each),
        ``shared_centre`` (inverse logit of the posterior median of the shared logit mean),
        ``pooled_mean``, ``pooled_low90`` and ``pooled_high90`` (the pooled prior's marginal
        Beta ``beta_a``, ``beta_b``: its mean and central 90% interval).
    idata : az.InferenceData
        The PyMC fit: ``mu`` (dim ``item``, the shared logit mean), ``tau`` (the spread
        between forecasters on the logit scale) and ``theta`` (dims ``forecaster``, ``item``).
    judgements : DataFrame
        The data (:func:`elicited_judgements`).
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
    interval as its error, ``s_fk`` (see :func:`elicited_judgements`); beliefs scatter around
    a shared mean per destination with one spread between forecasters::

        mu_k ~ Normal(0, mu_sd),  tau ~ HalfNormal(tau_scale)
        theta_fk = mu_k + tau * z_fk,  z_fk ~ Normal(0, 1)
        y_fk ~ Normal(theta_fk, s_fk)

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
    import arviz as az

    from forecast.pymc_backend import import_pymc

    pm = import_pymc()

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
    with pm.Model(coords={"forecaster": names, "item": labels}):
        mu = pm.Normal("mu", 0.0, mu_sd, dims="item")
        tau = pm.HalfNormal("tau", tau_scale)
        z = pm.Normal("z", 0.0, 1.0, dims=("forecaster", "item"))
        theta = pm.Deterministic("theta", mu[None, :] + tau * z, dims=("forecaster", "item"))
        pm.Normal("y", theta, s, observed=y, dims=("forecaster", "item"))
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            progressbar=False,
            target_accept=target_accept,
            compute_convergence_checks=False,
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
            RulePrior(rp.rule, rp.labels, alpha, (), _pooled_counts(rules), "hierarchical pool")
        )

    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(idata, var_names=["mu", "tau"])
        bulk = az.ess(idata, var_names=["mu", "tau"], method="bulk")
        tail = az.ess(idata, var_names=["mu", "tau"], method="tail")
    diagnostics = pd.DataFrame(
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
    return HierarchicalPool(Priors(pooled_rules), table, idata, data, diagnostics)
