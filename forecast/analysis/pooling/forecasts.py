"""Every forecaster's prior predictive and posterior forecast of every question.

One compiled :class:`~forecast.pymc_backend.fitting.ScenarioFitter` (or only its exact
engine) serves all the forecasters: their priors differ, the model does not.
:func:`forecaster_forecasts` runs each forecaster's prior draws through the exact engine and
computes the posterior by importance re-weighting of draws from the prior updated by its
reference classes (:func:`reference_updated`) with the exact likelihood of the evidence, or
by NUTS through ``set_priors``. The results are :class:`ForecastDraws`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import special

from forecast.analysis.pooling.structure import check_priors_match
from forecast.analysis.reweighting.weights import (
    effective_sample_size,
    normalised_weights,
    weighted_quantile,
)
from forecast.elicitation import Priors, RulePrior, reference_log_coefficient
from forecast.scenario.validated import Scenario

if TYPE_CHECKING:
    from forecast.pymc_backend.fitting import ScenarioFitter

__all__ = ["PRIOR_STAGE", "ForecastDraws", "forecaster_forecasts", "reference_updated"]

logger = logging.getLogger(__name__)

PRIOR_STAGE = "prior"
"""Stage label of the forecasts implied by the priors alone (no evidence)."""


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
    check_priors_match(scenario, priors)
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
