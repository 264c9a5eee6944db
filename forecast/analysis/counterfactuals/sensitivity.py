"""Sensitivity of the forecasts to the priors: tornado swings and prior-vs-data power-scaling.

Both analyses re-use the draws of one fit (or of the prior predictive) instead of fitting again:
a posterior under an edited prior is the old posterior re-weighted by ``new_prior / old_prior``
(Pareto-smoothed importance sampling, with the Pareto k diagnostic telling where the re-weighting
cannot be trusted and a re-fit is needed), and power-scaling the prior or the likelihood
(Kallioinen et al. 2023) is the same re-weighting with ``p ** (alpha - 1)``, done by
:func:`arviz.psens`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from forecast.analysis.reweighting.prior_density import log_prior_draws, rule_log_density
from forecast.analysis.reweighting.weights import (
    psis_weights,
    relative_ess,
    weighted_mean_se,
)
from forecast.analysis.summaries.outcomes import (
    QUESTION_VAR,
    evidence_cutoff,
    rule_parameters,
    select_outcomes,
)
from forecast.analysis.sweeps import SYNC
from forecast.elicitation import Priors, elicit
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.scenario.validated import Question, Rule, Scenario
from forecast.settings import (
    CONSTANT_SPREAD,
    DEFAULT_CREDIBILITY,
    PARETO_K_MAX,
    SENSITIVITY_THRESHOLD,
)

__all__ = [
    "PriorEdit",
    "engine_for",
    "outcome_questions",
    "power_scaling",
    "prior_edits",
    "rule_label",
    "shift_mean",
    "top_swings",
    "tornado_table",
    "with_log_densities",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# prior edits


def rule_label(rule: Rule, destination: str) -> str:
    """A rule and destination in a few words: ``talks: none->direct | pressure=high, ...``.

    Parameters
    ----------
    rule : Rule
        A rule of the scenario.
    destination : str
        One of its destinations.

    Returns
    -------
    str
        ``<node>: <from>-><destination>`` followed by `` | <parent>=<states>, ...`` when the
        rule is conditioned on parents.
    """
    text = f"{rule.node}: {'|'.join(rule.from_states)}->{destination}"
    if rule.given:
        text += " | " + ", ".join(f"{p}={'|'.join(s)}" for p, s in rule.given.items())
    return text


def shift_mean(alpha: np.ndarray, index: int, mean: float) -> np.ndarray:
    """Dirichlet parameters with one component's mean moved, keeping the concentration.

    The component gets ``kappa * mean`` (``kappa = sum(alpha)``) and the other components share
    the rest in their old proportions, so the prior keeps its spread and the other outcomes keep
    their odds against each other. For a Beta (two components) this is
    ``Beta(kappa * mean, kappa * (1 - mean))``.

    Parameters
    ----------
    alpha : ndarray
        Dirichlet parameters over ``[stay, *destinations]``.
    index : int
        The component to move.
    mean : float
        Its new mean, strictly between 0 and 1.

    Returns
    -------
    ndarray
        The new parameters (same concentration).

    Raises
    ------
    ValueError
        If the mean is not strictly between 0 and 1.
    """
    if not 0.0 < mean < 1.0:
        raise ValueError(f"a prior mean must be strictly between 0 and 1, got {mean}")
    alpha = np.asarray(alpha, dtype=float)
    kappa = float(alpha.sum())
    rest = kappa - alpha[index]
    out = alpha * (kappa * (1.0 - mean) / rest)
    out[index] = kappa * mean
    return out


@dataclass(frozen=True)
class PriorEdit:
    """The best guess of one rule's destination moved to both ends of its interval.

    Attributes
    ----------
    rule : str
        Rule name.
    destination : str
        The destination whose N-month probability is moved.
    label : str
        :func:`rule_label`.
    baseline : float
        The prior mean (the stated best guess for a judgement).
    low, high : float
        The ends of the stated interval (or of the prior's central interval).
    interval_source : str
        ``"stated"`` or ``"prior <c>% interval"`` for rules given as Beta/Dirichlet parameters.
    alpha_low, alpha_high : ndarray
        The rule's Dirichlet parameters with the mean at ``low`` and at ``high``.
    """

    rule: str
    destination: str
    label: str
    baseline: float
    low: float
    high: float
    interval_source: str
    alpha_low: np.ndarray
    alpha_high: np.ndarray


def prior_edits(
    scenario: Scenario, priors: Priors, credibility: float = DEFAULT_CREDIBILITY
) -> list[PriorEdit]:
    """For every rule and destination, the prior with its mean at each end of its interval.

    The mean is moved with :func:`shift_mean`, which keeps the prior's concentration. The
    alternative, re-eliciting ``maxent_beta(end, lo, hi, credibility)``, asks for a best guess
    at the very edge of an interval that must still hold the stated mass: PreliZ often has no
    such Beta, and where it has one its spread differs from the original's, so the swing would
    mix a change of best guess with a change of confidence. Keeping the concentration moves the
    best guess alone, is defined for every interval and every Dirichlet rule (the other
    outcomes keep their odds) and is a smooth change of density, which keeps the importance
    weights of :func:`tornado_table` well behaved.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    priors : Priors
        Its priors (the ones the fit used).
    credibility : float
        For destinations without a stated interval (rules given as Beta or Dirichlet
        parameters), the mass of the prior's central interval used instead.

    Returns
    -------
    list of PriorEdit
        In ``scenario.rules`` order, destinations in rule order.
    """
    edits = []
    for rule, prior in zip(scenario.rules, priors.rules, strict=True):
        stated = {s.destination: s for s in prior.stated}
        total = float(prior.alpha.sum())
        for k, destination in enumerate(rule.destinations, start=1):
            a = float(prior.alpha[k])
            s = stated.get(destination)
            if s is not None and s.interval is not None:
                low, high = (float(v) for v in s.interval)
                source = "stated"
            else:
                marginal = stats.beta(a, total - a)
                low = float(marginal.ppf((1 - credibility) / 2))
                high = float(marginal.ppf(1 - (1 - credibility) / 2))
                source = f"prior {credibility:.0%} interval"
            low, high = max(low, 1e-6), min(high, 1 - 1e-6)
            edits.append(
                PriorEdit(
                    rule.name,
                    destination,
                    rule_label(rule, destination),
                    a / total,
                    low,
                    high,
                    source,
                    shift_mean(prior.alpha, k, low),
                    shift_mean(prior.alpha, k, high),
                )
            )
    return edits


# ---------------------------------------------------------------------------------------------
# tornado


def outcome_questions(
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    dates: Sequence[dt.date | str] | None = None,
) -> list[Question]:
    """The questions the scenario adds for its outcomes, filtered by outcome and date.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    outcomes : sequence of str, optional
        Outcome ids (default: every outcome).
    dates : sequence of date or str, optional
        Report dates (``YYYY-MM-DD`` or ``YYYY-MM``, matched by month; default: every date).

    Returns
    -------
    list of Question
        In the order of ``outcomes``, then date.

    Raises
    ------
    ValueError
        If an outcome id is unknown or nothing matches.
    """
    wanted = select_outcomes(scenario, outcomes)
    steps = None if dates is None else {scenario.timeline.step_of(d) for d in dates}
    out = [
        q
        for oid in wanted
        for q in sorted((q for q in scenario.questions if q.outcome == oid), key=lambda q: q.step)
        if steps is None or q.step in steps
    ]
    if not out:
        raise ValueError("no outcome question matches the outcomes and dates asked for")
    return out


def engine_for(
    scenario: Scenario, questions: Sequence[Question], engine: ExactEngine | None = None
) -> ExactEngine:
    """An exact engine that answers only the given questions (fewer masked passes per draw).

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    questions : sequence of Question
        The questions needed (may be empty when only likelihoods are wanted).
    engine : ExactEngine, optional
        Returned as it is when it already answers exactly these questions.

    Returns
    -------
    ExactEngine
        Same nodes, rules and evidence handling; ``questions`` only.
    """
    wanted = tuple(q.id for q in questions)
    if engine is not None and tuple(q.id for q in engine.scenario.questions) == wanted:
        return engine
    return ExactEngine(dataclasses.replace(scenario, questions=tuple(questions)))


def _question_values(group: xr.Dataset, questions: list[Question]) -> np.ndarray:
    da = group[QUESTION_VAR].sel(question=[q.id for q in questions])
    values = np.asarray(da.transpose("chain", "draw", "question").values, dtype=float)
    return values.reshape(-1, len(questions))


def _redraw(
    fitter, priors: Priors, questions: list[Question], seed: int, size: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """The prior predictive under edited priors, re-drawn exactly (its priors restored)."""
    original = fitter.priors
    fitter.set_priors(priors)
    try:
        values = _question_values(fitter.prior_draws(seed=seed, size=size).prior, questions)
    finally:
        fitter.set_priors(original)
    return values.mean(axis=0), values.std(axis=0) / np.sqrt(values.shape[0]), -np.inf


@dataclass(frozen=True)
class _QuestionEstimate:
    """What a tornado keeps of a re-fit: each followed question's mean and Monte Carlo SE."""

    questions: tuple[Question, ...]

    def __call__(self, fit: az.InferenceData, fitter) -> tuple[np.ndarray, np.ndarray, float]:
        values = _question_values(fit.posterior, list(self.questions))
        ids = [q.id for q in self.questions]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mcse = az.mcse(fit.posterior[[QUESTION_VAR]].sel(question=ids))[QUESTION_VAR].values
        return values.mean(axis=0), np.asarray(mcse, dtype=float), -np.inf


def _refits(
    fitter,
    edited: list[Priors],
    idata: az.InferenceData,
    questions: list[Question],
    seed: int,
    scheduler: str | None,
    workers: int,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """A NUTS fit under each edited priors (the compiled model kept), on a sweep if asked.

    In this process the fitter's priors are restored afterwards; on a sweep each worker
    builds the scenario's fitter once.
    """
    from forecast.analysis.refits import FitJob, FitProblem, run_fits

    if not edited:
        return []
    cutoff = evidence_cutoff(idata)
    results = run_fits(
        FitProblem(fitter.scenario, fitter.priors, fitter.sampler),
        [FitJob(cutoff, seed, p) for p in edited],
        _QuestionEstimate(tuple(questions)),
        scheduler=scheduler if len(edited) > 1 else SYNC,
        workers=workers,
        fitter=fitter,
        description="tornado re-fits",
    )
    return [results[i] for i in range(len(edited))]


def _prior_importance(
    engine: ExactEngine,
    priors: Priors,
    evidence: list[np.ndarray] | None,
    questions: list[Question],
    seed: int,
    size: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fresh draws from edited priors, weighted by the exact likelihood of the evidence.

    Without evidence (the prior predictive) the weights are equal and the result is an exact
    re-draw; with evidence it is importance sampling from the edited prior, whose Pareto k is
    returned (small where the evidence is weak).
    """
    params = priors.sample(np.random.default_rng(seed), size)
    result = engine.run_draws(params, evidence)
    values = np.stack([np.asarray(result.questions[q.id], dtype=float) for q in questions], axis=-1)
    if evidence is None:
        weights, k = np.full(size, 1.0 / size), -np.inf
    else:
        log_w = np.asarray(result.loglik, dtype=float) + priors.reference_loglik(params)
        weights, k = psis_weights(log_w)
    values = np.where(weights[:, None] > 0, np.nan_to_num(values), 0.0)
    est, se = weighted_mean_se(values, weights, 1.0)
    return est, se, k


def tornado_table(
    idata: az.InferenceData,
    scenario: Scenario,
    priors: Priors | None = None,
    group: str = "posterior",
    outcomes: Sequence[str] | None = None,
    dates: Sequence[dt.date | str] | None = None,
    credibility: float = DEFAULT_CREDIBILITY,
    k_threshold: float = PARETO_K_MAX,
    recompute: str | None = None,
    recompute_top: int | None = None,
    fitter=None,
    engine: ExactEngine | None = None,
    draws: int | None = None,
    seed: int | None = None,
    scheduler: str | None = SYNC,
    workers: int = 2,
) -> pd.DataFrame:
    """How far each outcome forecast moves when one prior's best guess crosses its interval.

    For every rule and destination (see :func:`prior_edits`) the prior's mean is put at the
    low and at the high end of its interval, one at a time, keeping its concentration. The
    forecast under the edited prior is computed from the draws already made: the posterior
    under a new prior is the old posterior re-weighted by ``new_prior / old_prior`` (the
    likelihood, reference classes included, is unchanged), estimated with Pareto-smoothed
    importance sampling. For ``group="prior"`` the draws are independent prior draws and the
    ratio of two normalised priors re-weights the prior predictive without bias.

    Where the Pareto k of the weights exceeds ``k_threshold`` the end is flagged; ``recompute``
    re-computes flagged ends instead:

    - ``"refit"``: with ``fitter``, :meth:`~forecast.pymc_backend.fitting.ScenarioFitter.
      set_priors` (no recompilation) and a new NUTS fit (posterior) or new prior draws
      (prior); exact, but a fit per end.
    - ``"prior_is"``: fresh draws from the edited prior run through the exact engine; for the
      prior predictive an exact re-draw, for a posterior importance sampling weighted by the
      evidence likelihood (reliable when the evidence is weak, e.g. an early cut-off; its own
      Pareto k is reported and flags the end again when above the threshold).

    Parameters
    ----------
    idata : az.InferenceData
        A fit, or :meth:`~forecast.pymc_backend.fitting.ScenarioFitter.prior_draws` output;
        ``group`` must hold every rule's parameter and ``question_prob``.
    scenario : Scenario
        The fitted scenario.
    priors : Priors, optional
        The priors of the fit (default: the fitter's, else elicited from the scenario).
    group : str
        ``"posterior"`` or ``"prior"``.
    outcomes : sequence of str, optional
        Outcome ids (default: all).
    dates : sequence of date or str, optional
        Report dates to keep (default: all the scenario reports, the horizon included).
    credibility : float
        Interval mass for rules without a stated interval.
    k_threshold : float
        Pareto k above which an end is flagged.
    recompute : {None, "refit", "prior_is"}
        How flagged ends are re-computed (None: they stay flagged).
    recompute_top : int, optional
        Re-compute only flagged ends of edits ranked in the top ``recompute_top`` of some
        question by their re-weighted swing (the bars a chart shows); None: every flagged end.
    fitter : ScenarioFitter, optional
        Needed for ``recompute="refit"``; its priors are restored afterwards.
    engine : ExactEngine, optional
        For ``recompute="prior_is"``, re-used if it answers exactly the questions followed
        (otherwise one that does is built, see :func:`engine_for`).
    draws : int, optional
        Draws of a ``"prior_is"`` or prior re-computation (default: as many as ``idata``).
    seed : int, optional
        Seed of the re-computations (default: the fit's recorded seed, else 0).
    scheduler : str, optional
        Where the NUTS re-fits of ``recompute="refit"`` run: ``"sync"`` (default) one after
        another with ``fitter``, None a new Dask ``LocalCluster`` of ``workers`` processes,
        else a Dask scheduler's address (:func:`~forecast.analysis.refits.run_fits`).
    workers : int
        Worker processes of the local cluster.

    Returns
    -------
    DataFrame
        One row per rule, destination and question: ``rule``, ``destination``, ``label``,
        ``interval_source``, ``best`` (prior mean), ``interval_low``, ``interval_high``,
        ``question``, ``outcome``, ``date``, ``baseline`` (the forecast as fitted), ``low`` and
        ``high`` (the forecast with the best guess at each end), ``low_se``, ``high_se``
        (Monte Carlo standard errors), ``effect`` (``high - low``), ``swing`` (its absolute
        value), ``k_low``, ``k_high`` (Pareto k of the weights used), ``method_low``,
        ``method_high`` (``reweighted``, ``re-fitted``, ``re-drawn`` or ``prior IS``),
        ``flagged_low``, ``flagged_high``, ``flagged`` (either end unreliable) and ``rank``
        (1 = largest swing for the question).
    """
    if group not in ("posterior", "prior"):
        raise ValueError(f"group must be 'posterior' or 'prior', not {group!r}")
    if recompute not in (None, "refit", "prior_is"):
        raise ValueError(f"recompute must be None, 'refit' or 'prior_is', not {recompute!r}")
    if recompute == "refit" and fitter is None:
        raise ValueError("recompute='refit' needs the fitter")
    if priors is None:
        priors = fitter.priors if fitter is not None else elicit(scenario)
    questions = outcome_questions(scenario, outcomes, dates)
    data = idata[group]
    shape = (data.sizes["chain"], data.sizes["draw"])
    params = rule_parameters(idata, scenario, group)
    values = _question_values(data, questions)
    baseline = values.mean(axis=0)
    if seed is None:
        seed = int(data.attrs.get("seed", 0))
    size = draws or values.shape[0]
    index = {r.name: k for k, r in enumerate(scenario.rules)}
    edits = prior_edits(scenario, priors, credibility)
    ends: dict[tuple[int, str], list] = {}
    for e, edit in enumerate(edits):
        rule_draws = params[index[edit.rule]]
        old = rule_log_density(priors[edit.rule].alpha, rule_draws)
        for end, alpha in (("low", edit.alpha_low), ("high", edit.alpha_high)):
            log_ratio = rule_log_density(alpha, rule_draws) - old
            reff = 1.0 if group == "prior" else relative_ess(log_ratio, shape)
            weights, k = psis_weights(log_ratio, reff)
            est, se = weighted_mean_se(values, weights, reff)
            ends[(e, end)] = [est, se, k, "reweighted"]
    if recompute is not None:
        if recompute == "prior_is":
            engine = engine_for(scenario, questions, engine)
            evidence = (
                None
                if group == "prior"
                else evidence_matrices(scenario, scenario.evidence_as_of(evidence_cutoff(idata)))
            )
        swings = np.array(
            [np.abs(ends[(e, "high")][0] - ends[(e, "low")][0]) for e in range(len(edits))]
        )
        # rank of each edit per question (1 = largest swing), by the re-weighted estimates
        ranks = (-swings).argsort(axis=0, kind="stable").argsort(axis=0, kind="stable") + 1
        todo = []
        for (e, end), item in ends.items():
            if item[2] <= k_threshold or (
                recompute_top is not None and ranks[e].min() > recompute_top
            ):
                continue
            edit = edits[e]
            logger.info(
                "%s at the %s end: Pareto k %.2f, re-computing (%s)",
                edit.label,
                end,
                item[2],
                recompute,
            )
            edited = priors.replace(edit.rule, edit.alpha_low if end == "low" else edit.alpha_high)
            todo.append(((e, end), edited))
        if recompute == "refit" and group == "posterior":
            edited_priors = [p for _, p in todo]
            refitted = _refits(fitter, edited_priors, idata, questions, seed, scheduler, workers)
            for (key, _), estimate in zip(todo, refitted, strict=True):
                ends[key][:4] = [*estimate, "re-fitted"]
        for (e, end), edited in todo:
            item = ends[(e, end)]
            if recompute == "refit" and group == "prior":
                item[:3] = _redraw(fitter, edited, questions, seed, size)
                item[3] = "re-drawn"
            elif recompute == "prior_is":
                item[:3] = _prior_importance(
                    engine, edited, evidence, questions, seed + 1 + 2 * e + (end == "high"), size
                )
                item[3] = "re-drawn" if group == "prior" else "prior IS"
    rows = []
    for e, edit in enumerate(edits):
        low, high = ends[(e, "low")], ends[(e, "high")]
        flag_low, flag_high = bool(low[2] > k_threshold), bool(high[2] > k_threshold)
        for j, q in enumerate(questions):
            rows.append(
                {
                    "rule": edit.rule,
                    "destination": edit.destination,
                    "label": edit.label,
                    "interval_source": edit.interval_source,
                    "best": edit.baseline,
                    "interval_low": edit.low,
                    "interval_high": edit.high,
                    "question": q.id,
                    "outcome": q.outcome,
                    "date": q.date.isoformat(),
                    "baseline": baseline[j],
                    "low": low[0][j],
                    "high": high[0][j],
                    "low_se": low[1][j],
                    "high_se": high[1][j],
                    "effect": high[0][j] - low[0][j],
                    "swing": abs(high[0][j] - low[0][j]),
                    "k_low": low[2],
                    "k_high": high[2],
                    "method_low": low[3],
                    "method_high": high[3],
                    "flagged_low": flag_low,
                    "flagged_high": flag_high,
                    "flagged": flag_low or flag_high,
                }
            )
    table = pd.DataFrame(rows)
    table["rank"] = (
        table.groupby("question")["swing"].rank(ascending=False, method="first").astype(int)
    )
    return table


def top_swings(table: pd.DataFrame, n: int = 3, date: str | None = None) -> pd.DataFrame:
    """The ``n`` rules that move each outcome forecast most, for reading next to a tornado.

    Parameters
    ----------
    table : DataFrame
        From :func:`tornado_table`.
    n : int
        Rules kept per question.
    date : str, optional
        Keep only forecasts for this report date (``YYYY-MM-DD``).

    Returns
    -------
    DataFrame
        Indexed by ``outcome``, ``date`` and ``rank``; columns ``rule`` (:func:`rule_label`
        with the interval), ``baseline``, ``low``, ``high``, ``swing`` and ``reliable`` (no
        end flagged by its Pareto k).
    """
    rows = table if date is None else table[table["date"] == date]
    rows = rows[rows["rank"] <= n].sort_values(["outcome", "date", "rank"], kind="stable")
    out = pd.DataFrame(
        {
            "outcome": rows["outcome"],
            "date": rows["date"],
            "rank": rows["rank"],
            "rule": [
                f"{r.label} [{r.interval_low:g}, {r.interval_high:g}]" for r in rows.itertuples()
            ],
            "baseline": rows["baseline"],
            "low": rows["low"],
            "high": rows["high"],
            "swing": rows["swing"],
            "reliable": ~rows["flagged"],
        }
    )
    order = {o: k for k, o in enumerate(dict.fromkeys(table["outcome"]))}
    out = out.sort_values(
        ["outcome", "date", "rank"],
        key=lambda c: c.map(order) if c.name == "outcome" else c,
        kind="stable",
    )
    return out.set_index(["outcome", "date", "rank"])


# ---------------------------------------------------------------------------------------------
# power-scaling


def with_log_densities(
    idata: az.InferenceData,
    scenario: Scenario,
    priors: Priors | None = None,
    engine: ExactEngine | None = None,
    reference: str = "prior",
    as_of: dt.date | str | None = "recorded",
) -> az.InferenceData:
    """A copy of a fit with ``log_prior`` and ``log_likelihood`` groups, for :func:`az.psens`.

    ``log_prior`` holds ``rules``, the summed log density of the rule priors at each posterior
    draw. ``log_likelihood`` holds ``evidence``, the exact log-likelihood of the fit's evidence
    per draw (:meth:`ExactEngine.run_draws`). The reference-class counts are historical cases
    the forecaster chose as base rates before looking at this war: with ``reference="prior"``
    (the default) they are part of the prior (added to ``rules``), so the power-scaling
    contrasts the forecaster's whole prior knowledge with the scenario's evidence; with
    ``reference="likelihood"`` they form a second likelihood term ``reference``.

    Parameters
    ----------
    idata : az.InferenceData
        A fit of the scenario.
    scenario : Scenario
        The fitted scenario.
    priors : Priors, optional
        The priors of the fit (default: elicited from the scenario).
    engine : ExactEngine, optional
        Re-used if it answers no question (only the likelihood is needed), see
        :func:`engine_for`.
    reference : str
        ``"prior"`` or ``"likelihood"``: the side the reference classes go to.
    as_of : date, None or "recorded"
        Evidence cut-off of the fit (``"recorded"``: read from its attributes).

    Returns
    -------
    az.InferenceData
        The posterior (shared, not copied) and the two new groups.
    """
    priors = priors or elicit(scenario)
    engine = engine_for(scenario, (), engine)
    post = idata.posterior
    shape = (post.sizes["chain"], post.sizes["draw"])
    params = rule_parameters(idata, scenario, "posterior")
    cutoff = evidence_cutoff(idata) if as_of == "recorded" else as_of
    evidence = evidence_matrices(scenario, scenario.evidence_as_of(cutoff))
    loglik = np.asarray(engine.run_draws(params, evidence).loglik, dtype=float)
    dims = ("chain", "draw")
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    log_prior = {
        "rules": xr.DataArray(
            log_prior_draws(priors, params, reference).reshape(shape), dims=dims, coords=coords
        )
    }
    log_lik = {"evidence": xr.DataArray(loglik.reshape(shape), dims=dims, coords=coords)}
    if reference == "likelihood":
        reference_loglik = np.broadcast_to(
            np.asarray(priors.reference_loglik(params), dtype=float), (shape[0] * shape[1],)
        )
        log_lik["reference"] = xr.DataArray(
            reference_loglik.reshape(shape), dims=dims, coords=coords
        )
    return az.InferenceData(
        posterior=post, log_prior=xr.Dataset(log_prior), log_likelihood=xr.Dataset(log_lik)
    )


def _diagnosis(prior: float, likelihood: float, threshold: float) -> str:
    if not (np.isfinite(prior) and np.isfinite(likelihood)):
        return "fixed by the evidence"
    if prior >= threshold and likelihood >= threshold:
        return "prior-data conflict"
    if prior >= threshold:
        return "strong prior / weak likelihood"
    if likelihood < threshold:
        return "weak likelihood"
    return "-"


def power_scaling(
    idata: az.InferenceData,
    scenario: Scenario,
    priors: Priors | None = None,
    engine: ExactEngine | None = None,
    reference: str = "prior",
    threshold: float = SENSITIVITY_THRESHOLD,
    delta: float = 0.01,
    include_parameters: bool = False,
    as_of: dt.date | str | None = "recorded",
) -> pd.DataFrame:
    """Prior and likelihood power-scaling sensitivity of every question (Kallioinen et al.).

    The prior (or the likelihood) is raised to a power ``alpha`` near 1 and the change of
    each quantity's posterior is measured by the cumulative Jensen-Shannon distance, by
    importance re-weighting of the fit's draws (:func:`arviz.psens`; no re-fit). Diagnosis
    with Kallioinen's threshold (0.05): both sensitive - ``prior-data conflict``; prior
    sensitive only - ``strong prior / weak likelihood``; neither - ``weak likelihood`` (the
    evidence barely informs the quantity; ``priorsense`` prints ``-`` there); likelihood only -
    ``-`` (the evidence dominates, as it should). Quantities the evidence fixes exactly (all
    draws equal) have no sensitivity.

    Parameters
    ----------
    idata : az.InferenceData
        A fit of the scenario.
    scenario : Scenario
        The fitted scenario.
    priors : Priors, optional
        The priors of the fit (default: elicited from the scenario).
    engine : ExactEngine, optional
        Re-used if given.
    reference : str
        Side of the reference-class counts, see :func:`with_log_densities`.
    threshold : float
        Sensitivity threshold.
    delta : float
        Power-scaling step: ``alpha`` in ``[1 / (1 + delta), 1 + delta]``.
    include_parameters : bool
        Add one row per rule parameter (the probability of each destination).
    as_of : date, None or "recorded"
        Evidence cut-off of the fit.

    Returns
    -------
    DataFrame
        ``quantity`` (question id or ``rule[destination]``), ``kind`` (``question`` or
        ``parameter``), ``text``, ``date``, ``mean`` (posterior mean), ``prior_sensitivity``,
        ``likelihood_sensitivity`` and ``diagnosis``.
    """
    data = with_log_densities(idata, scenario, priors, engine, reference, as_of)
    names = [QUESTION_VAR] + ([r.name for r in scenario.rules] if include_parameters else [])
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        sens = {}
        for component in ("prior", "likelihood"):
            result = az.psens(data, component=component, var_names=names, delta=delta)
            # with one variable ArviZ returns a DataArray
            sens[component] = (
                result.to_dataset(name=names[0]) if isinstance(result, xr.DataArray) else result
            )
    post = idata.posterior
    rows = []
    values = post[QUESTION_VAR]
    spread = (values.max(("chain", "draw")) - values.min(("chain", "draw"))).values
    for k, q in enumerate(scenario.questions):
        ps = float(sens["prior"][QUESTION_VAR].sel(question=q.id))
        ls = float(sens["likelihood"][QUESTION_VAR].sel(question=q.id))
        if spread[k] < CONSTANT_SPREAD:
            ps = ls = np.nan
        rows.append(
            {
                "quantity": q.id,
                "kind": "question",
                "text": q.text,
                "date": q.date.isoformat(),
                "mean": float(values.sel(question=q.id).mean()),
                "prior_sensitivity": ps,
                "likelihood_sensitivity": ls,
            }
        )
    if include_parameters:
        for rule in scenario.rules:
            da = post[rule.name]
            for k, destination in enumerate(rule.destinations, start=1):
                dim = f"{rule.name}_outcome"
                sel = {dim: k} if dim in da.dims else {}
                ps = float(sens["prior"][rule.name].isel(sel))
                ls = float(sens["likelihood"][rule.name].isel(sel))
                rows.append(
                    {
                        "quantity": f"{rule.name}[{destination}]",
                        "kind": "parameter",
                        "text": rule_label(rule, destination),
                        "date": "",
                        "mean": float(da.isel(sel).mean()),
                        "prior_sensitivity": ps,
                        "likelihood_sensitivity": ls,
                    }
                )
    table = pd.DataFrame(rows)
    table["diagnosis"] = [
        _diagnosis(ps, ls, threshold)
        for ps, ls in zip(table["prior_sensitivity"], table["likelihood_sensitivity"], strict=True)
    ]
    return table
