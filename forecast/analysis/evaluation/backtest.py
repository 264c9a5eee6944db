"""Backtest: every question's forecast at the end of each month, from the evidence known then.

The posterior at an evidence cut-off is computed by importance sampling one fixed set of prior
draws (the default, fast) or by re-fitting with NUTS (for checking); see :class:`Replay`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecast.analysis.reweighting.weights import (
    effective_sample_size,
    psis_weights,
    weighted_quantile,
)
from forecast.analysis.sweeps import SYNC
from forecast.elicitation import Priors, elicit
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.scenario.timeline import month_end, parse_month
from forecast.scenario.validated import EvidenceItem, Question, Scenario
from forecast.settings import DEFAULT_SEED, PARETO_K_MAX

__all__ = [
    "DEFAULT_DRAWS",
    "METHODS",
    "Cutoff",
    "Replay",
    "evidence_arrivals",
    "largest_moves",
    "replay",
    "replay_dates",
]

logger = logging.getLogger(__name__)

DEFAULT_DRAWS = 4000
"""Prior draws of an importance-sampling replay."""
METHODS = ("is", "nuts")
"""Replay methods: importance sampling of prior draws, or a NUTS fit per cut-off."""
RESOLVED_TOL = 1e-9
"""A question whose probability is within this of 0 (or of 1) in every draw is settled."""


def replay_dates(
    scenario: Scenario, start: str | dt.date | None = None, end: str | dt.date | None = None
) -> list[dt.date]:
    """Month ends from ``start`` to ``end``: the cut-offs of a replay.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    start : str or date, optional
        First month (``YYYY-MM`` or a date in it); default the scenario's first month.
    end : str or date, optional
        Last month; default the month in which the latest evidence item became known (the
        first month when the scenario has no evidence).

    Returns
    -------
    list of datetime.date
        The last day of every month from ``start`` to ``end``.
    """
    tl = scenario.timeline
    first = parse_month(start) if start is not None else parse_month(tl.month_label(0))
    if end is not None:
        last = parse_month(end)
    else:
        known = [e.known_on for e in (*scenario.evidence, *scenario.superseded)]
        last = parse_month(max(known)) if known else first
    out = []
    year, month = first
    while (year, month) <= last:
        out.append(month_end(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@dataclass(frozen=True)
class Cutoff:
    """The posterior at one evidence cut-off, as weighted draws of the question probabilities.

    Attributes
    ----------
    as_of : date or None
        The cut-off (None: the prior, no evidence).
    method : str
        ``"is"``, ``"nuts"`` or ``"prior"``.
    weights : ndarray
        Normalised weight of every draw.
    questions : dict
        Question id -> per-draw probability of the question given the draw's parameters and
        the evidence known at the cut-off.
    ess : float
        Effective sample size of the weights (importance sampling) or the smallest bulk ESS
        of the questions (NUTS).
    pareto_k : float
        Pareto k of the importance weights
        (:func:`~forecast.analysis.reweighting.weights.psis_weights`;
        ``-inf`` when the evidence weighs every draw alike, NaN for NUTS and the prior).
    n_evidence : int
        Evidence items known at the cut-off.
    question_ess : dict
        Per-question bulk ESS (NUTS only).
    """

    as_of: dt.date | None
    method: str
    weights: np.ndarray
    questions: dict[str, np.ndarray]
    ess: float
    pareto_k: float
    n_evidence: int
    question_ess: dict[str, float] = field(default_factory=dict)

    def mean(self, question: str) -> float:
        """Posterior mean probability of a question."""
        return float(np.sum(self.weights * self.questions[question]))

    def interval(self, question: str, mass: float = 0.9) -> tuple[float, float]:
        """Central interval of a question's probability holding ``mass``."""
        lo, hi = weighted_quantile(
            self.questions[question], self.weights, [(1 - mass) / 2, 1 - (1 - mass) / 2]
        )
        return float(lo), float(hi)

    def settled(self, question: str) -> bool:
        """Whether the evidence settles the question: probability 0 in every draw, or 1."""
        values = self.questions[question][self.weights > 0]
        return bool(np.all(values <= RESOLVED_TOL) or np.all(values >= 1 - RESOLVED_TOL))

    def ess_of(self, question: str) -> float:
        """The ESS reported for a question."""
        return float(self.question_ess.get(question, self.ess))


def _posterior_draws(idata: Any, fitter: Any) -> tuple[list[np.ndarray], tuple[int, int]]:
    """What a replay keeps of a NUTS fit: each rule's outcome vectors and (chains, draws)."""
    from forecast.pymc_backend.fitting import outcome_vectors, rule_draws

    posterior = idata.posterior
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    return outcome_vectors(rule_draws(posterior, fitter.priors), fitter.scenario), shape


def _finite_answers(answers: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Zero the answers of draws with weight zero (impossible evidence gives NaN answers)."""
    return {q: np.where(weights > 0, np.nan_to_num(a), 0.0) for q, a in answers.items()}


class Replay:
    """Posterior of a set of questions at any evidence cut-off.

    With ``method="is"`` (the default) ``draws`` parameter sets are drawn once from the priors.
    At a cut-off each draw is weighted by the exact likelihood of the evidence known then
    (times the reference-class likelihood, as in the PyMC model), computed by
    :meth:`~forecast.engine.exact.ExactEngine.run_draws`, which also gives each draw's
    probability of every question given that evidence. The weights are Pareto-smoothed
    (``arviz.psislw``) and self-normalised; the posterior mean of a question is the weighted
    mean of its per-draw probabilities (Rao-Blackwellised: the discrete states are summed out
    exactly, only the parameters are sampled).

    Why not NUTS at every cut-off: a compiled :class:`~forecast.pymc_backend.fitting.
    ScenarioFitter` re-fitted per month (``set_evidence``, no recompiling) costs about 20 s per
    month on the Kursk scenario, over 5 minutes for 16 months. Importance sampling costs one
    exact pass per draw and cut-off (about 1 s per 2000 draws on Kursk) and re-uses the same
    draws at every cut-off, so month-to-month changes are not blurred by fresh Monte Carlo
    noise. It is accurate while the posterior stays close enough to the prior: the ESS and the
    Pareto k reported per cut-off say when it is not (k above 0.7: use more draws or
    ``method="nuts"``). The rule parameters are low-dimensional and the evidence of a few
    years of monthly observations moves them moderately, which is the favourable case.

    ``method="nuts"`` re-fits the compiled fitter at every cut-off instead and evaluates the
    questions exactly on its posterior draws, for checking.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    questions : sequence of Question, optional
        Questions to follow (default: the scenario's); any question on the scenario's nodes and
        timeline, e.g. from :func:`forecast.analysis.evaluation.scoring.read_questions`.
    priors : Priors, optional
        Default: elicited from the scenario, or the fitter's priors with NUTS (priors given
        with a fitter are set on it).
    method : {"is", "nuts"}
        Importance sampling of prior draws, or NUTS re-fits.
    draws : int, optional
        Prior draws for importance sampling (default :data:`DEFAULT_DRAWS`); NUTS draws per
        chain when the fitter is built here (default 1000).
    seed : int
        Seed of the prior draws and of every NUTS fit.
    fitter : ScenarioFitter, optional
        A compiled fitter to re-use with NUTS.
    scheduler : str, optional
        Where several NUTS fits run (:meth:`prefit`): ``"sync"`` (default) in this process,
        None a new Dask ``LocalCluster`` of ``workers`` processes, else a Dask scheduler's
        address.
    workers : int
        Worker processes of the local cluster.
    progress : bool
        Show a progress bar while the fits of a sweep run.
    """

    def __init__(
        self,
        scenario: Scenario,
        questions: Sequence[Question] | None = None,
        priors: Priors | None = None,
        method: str = "is",
        draws: int | None = None,
        seed: int = DEFAULT_SEED,
        fitter: Any = None,
        scheduler: str | None = SYNC,
        workers: int = 2,
        progress: bool = False,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method '{method}'; use one of {', '.join(METHODS)}")
        self.scenario = scenario
        self.questions = tuple(scenario.questions if questions is None else questions)
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question ids must be unique: {', '.join(ids)}")
        self.engine = ExactEngine(dataclasses.replace(scenario, questions=self.questions))
        self.method = method
        self.seed = seed
        self.fitter = fitter
        self.scheduler = scheduler
        self.workers = workers
        self.progress = progress
        if method == "nuts" and fitter is None:
            from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

            self.fitter = ScenarioFitter(
                scenario,
                priors,
                sampler=SamplerConfig(draws=draws or 1000, tune=1000, chains=2, cores=1),
            )
        if self.fitter is not None and priors is not None and method == "nuts":
            self.fitter.set_priors(priors)
        self.priors = (
            self.fitter.priors
            if self.fitter is not None and priors is None
            else (priors or elicit(scenario))
        )
        self.draws = (
            int(draws or DEFAULT_DRAWS)
            if method == "is"
            else int(self.fitter.sampler.draws * self.fitter.sampler.chains)
        )
        self._prior_params: list[np.ndarray] | None = None
        self._reference: np.ndarray | None = None
        self._nuts_params: dict[dt.date | None, tuple[list[np.ndarray], tuple[int, int]]] = {}
        self._cache: dict[dt.date | str | None, Cutoff] = {}

    def with_questions(self, questions: Sequence[Question]) -> Replay:
        """The same draws (and NUTS fits) for another set of questions.

        Parameters
        ----------
        questions : sequence of Question
            The questions to follow instead.

        Returns
        -------
        Replay
            Shares this replay's prior draws and NUTS posteriors, so its cut-offs agree.
        """
        other = Replay.__new__(Replay)
        other.__dict__.update(self.__dict__)
        other.questions = tuple(questions)
        other.engine = ExactEngine(dataclasses.replace(self.scenario, questions=other.questions))
        other._cache = {}
        return other

    @property
    def prior_params(self) -> list[np.ndarray]:
        """The prior draws: one ``(draws, outcomes)`` array per rule."""
        if self._prior_params is None:
            rng = np.random.default_rng(self.seed)
            self._prior_params = self.priors.sample(rng, self.draws)
            self._reference = np.broadcast_to(
                np.asarray(self.priors.reference_loglik(self._prior_params), dtype=float),
                (self.draws,),
            )
        return self._prior_params

    def prior(self) -> Cutoff:
        """The questions under the priors alone: no evidence and no reference-class counts.

        This is the prior predictive of :meth:`ScenarioFitter.prior_draws`, the "prior alone"
        baseline of scoring.
        """
        if "prior" not in self._cache:
            params = self.prior_params
            result = self.engine.run_draws(params, None)
            weights = np.full(self.draws, 1.0 / self.draws)
            self._cache["prior"] = Cutoff(
                None,
                "prior",
                weights,
                _finite_answers(result.questions, weights),
                float(self.draws),
                float("nan"),
                0,
            )
        return self._cache["prior"]

    def at(self, as_of: dt.date | None) -> Cutoff:
        """The posterior given the evidence known on or before ``as_of``.

        Parameters
        ----------
        as_of : date or None
            Evidence cut-off (None: all the evidence).

        Returns
        -------
        Cutoff
            Weighted draws of every question's probability, with ESS and Pareto k.
        """
        if as_of not in self._cache:
            self._cache[as_of] = (
                self._importance(as_of) if self.method == "is" else self._nuts(as_of)
            )
        return self._cache[as_of]

    def _importance(self, as_of: dt.date | None) -> Cutoff:
        items = self.scenario.evidence_as_of(as_of)
        evidence = evidence_matrices(self.scenario, items)
        params = self.prior_params
        result = self.engine.run_draws(params, evidence)
        try:
            weights, k = psis_weights(result.loglik + self._reference)
        except ValueError:
            raise ValueError(
                f"as of {as_of} the evidence has probability zero under every "
                "draw; check the observations against the scenario's absorbing "
                "and fixed states"
            ) from None
        ess = effective_sample_size(weights)
        if k > PARETO_K_MAX:
            logger.warning(
                "as of %s the importance weights have Pareto k %.2f > %.1f (ESS "
                "%.0f of %d draws): use more draws or method='nuts'",
                as_of,
                k,
                PARETO_K_MAX,
                ess,
                self.draws,
            )
        logger.info(
            "as of %s: %d evidence items, ESS %.0f of %d, Pareto k %.2f",
            as_of,
            len(items),
            ess,
            self.draws,
            k,
        )
        return Cutoff(
            as_of, "is", weights, _finite_answers(result.questions, weights), ess, k, len(items)
        )

    def prefit(self, dates: Iterable[dt.date | None]) -> None:
        """Make the NUTS fits of the cut-offs not fitted yet (nothing for importance sampling).

        The fits run one after another in this process, or on a sweep when the replay was
        given a ``scheduler`` other than ``"sync"`` and more than one cut-off is missing (a
        fitter per worker, see :func:`~forecast.analysis.refits.run_fits`). Finished fits are
        kept when the run is interrupted or a fit fails, so a second call continues.

        Parameters
        ----------
        dates : iterable of date or None
            Cut-offs (None: all the evidence).
        """
        if self.method != "nuts":
            return
        from forecast.analysis.refits import FitJob, FitProblem, run_fits

        missing = list(dict.fromkeys(d for d in dates if d not in self._nuts_params))
        if not missing:
            return
        scheduler = self.scheduler if len(missing) > 1 else SYNC

        def keep(i: int, draws: tuple[list[np.ndarray], tuple[int, int]]) -> None:
            self._nuts_params[missing[i]] = draws

        run_fits(
            FitProblem(self.scenario, self.fitter.priors, self.fitter.sampler),
            [FitJob(as_of, self.seed) for as_of in missing],
            _posterior_draws,
            scheduler=scheduler,
            workers=self.workers,
            progress=self.progress,
            fitter=self.fitter,
            on_result=keep,
            description="backtest fits",
        )

    def _nuts(self, as_of: dt.date | None) -> Cutoff:
        import arviz as az

        self.prefit([as_of])
        params, shape = self._nuts_params[as_of]
        items = self.scenario.evidence_as_of(as_of)
        result = self.engine.run_draws(params, evidence_matrices(self.scenario, items))
        n = params[0].shape[0]
        weights = np.full(n, 1.0 / n)
        answers = _finite_answers(result.questions, weights)
        question_ess = {}
        for qid, values in answers.items():
            if np.ptp(values) < RESOLVED_TOL:
                question_ess[qid] = float(n)  # fixed by the evidence: every draw agrees
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                question_ess[qid] = float(az.ess(values.reshape(shape), method="bulk"))
        ess = min(question_ess.values()) if question_ess else float(n)
        return Cutoff(as_of, "nuts", weights, answers, ess, float("nan"), len(items), question_ess)

    def table(self, dates: Iterable[dt.date] | None = None, interval: float = 0.9) -> pd.DataFrame:
        """The tidy replay: every question at every cut-off.

        Parameters
        ----------
        dates : iterable of date, optional
            Cut-offs (default :func:`replay_dates` of the scenario).
        interval : float
            Mass of the central interval.

        Returns
        -------
        DataFrame
            One row per cut-off and question: ``as_of``, ``question``, ``outcome`` (the
            scenario outcome the question belongs to, if any), ``node``, ``kind``, ``date``
            (the question's), ``lead_days`` (question date minus cut-off), ``mean``,
            ``low<pct>``, ``high<pct>``, ``ess``, ``pareto_k``, ``n_evidence``, ``settled``
            (the evidence fixes the answer), ``prior_mean`` (priors alone) and ``method``.
        """
        dates = replay_dates(self.scenario) if dates is None else list(dates)
        self.prefit(dates)
        pct = round(interval * 100)
        prior = self.prior()
        rows = []
        for as_of in dates:
            cut = self.at(as_of)
            for q in self.questions:
                lo, hi = cut.interval(q.id, interval)
                rows.append(
                    {
                        "as_of": as_of,
                        "question": q.id,
                        "outcome": q.outcome,
                        "node": q.node,
                        "kind": q.kind,
                        "date": q.date,
                        "lead_days": (q.date - as_of).days,
                        "mean": cut.mean(q.id),
                        f"low{pct}": lo,
                        f"high{pct}": hi,
                        "ess": cut.ess_of(q.id),
                        "pareto_k": cut.pareto_k,
                        "n_evidence": cut.n_evidence,
                        "settled": cut.settled(q.id),
                        "prior_mean": prior.mean(q.id),
                        "method": self.method,
                    }
                )
        return pd.DataFrame(rows)


def replay(
    scenario: Scenario,
    dates: Iterable[dt.date] | None = None,
    method: str = "is",
    draws: int | None = None,
    seed: int = DEFAULT_SEED,
    priors: Priors | None = None,
    questions: Sequence[Question] | None = None,
    fitter: Any = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """Forecast every question as of the end of every month, from the evidence known then.

    A shortcut for ``Replay(...).table(dates, interval)``; see :class:`Replay` for the
    methods and why importance sampling is the default.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    dates : iterable of date, optional
        Cut-offs (default: every month end from the scenario's start to the month of the
        latest evidence, :func:`replay_dates`).
    method : {"is", "nuts"}
        Importance sampling of prior draws, or a NUTS re-fit per cut-off.
    draws : int, optional
        Prior draws (IS) or NUTS draws per chain.
    seed : int
        Seed of the draws.
    priors : Priors, optional
        Default: elicited from the scenario.
    questions : sequence of Question, optional
        Default: the scenario's questions.
    fitter : ScenarioFitter, optional
        A compiled fitter to re-use with NUTS.
    interval : float
        Mass of the central interval.

    Returns
    -------
    DataFrame
        See :meth:`Replay.table`.
    """
    return Replay(scenario, questions, priors, method, draws, seed, fitter).table(dates, interval)


def _item_label(item: EvidenceItem) -> str:
    return f"{item.node}={item.shown} ({item.date.isoformat()})"


def evidence_arrivals(scenario: Scenario, dates: Sequence[dt.date]) -> pd.DataFrame:
    """The evidence items that became known in each replay month.

    The first cut-off gets every item known by then; each later one the items known after
    the previous cut-off and by this one.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    dates : sequence of date
        Cut-offs, in increasing order.

    Returns
    -------
    DataFrame
        One row per item: ``as_of``, ``node``, ``states`` (``|``-joined), ``date``,
        ``known_on``, ``news`` (the node was last seen in other states, or never),
        ``replaced`` (a series reading superseded by a later reading of its month by this
        cut-off), ``source``, ``note``, ``label`` (``node=states (date)``).
    """
    items = sorted(
        (*scenario.evidence, *scenario.superseded), key=lambda e: (e.known_on, e.date, e.node)
    )
    last_seen: dict[str, tuple] = {}
    news = []
    for item in items:
        news.append(last_seen.get(item.node) != (item.states, item.likelihood))
        last_seen[item.node] = (item.states, item.likelihood)
    rows = []
    previous: dt.date | None = None
    for as_of in dates:
        for item, is_news in zip(items, news, strict=True):
            if item.known_on <= as_of and (previous is None or item.known_on > previous):
                replaced = item.superseded_on is not None and item.superseded_on <= as_of
                rows.append(
                    {
                        "as_of": as_of,
                        "node": item.node,
                        "states": item.shown,
                        "date": item.date,
                        "known_on": item.known_on,
                        "news": is_news,
                        "replaced": replaced,
                        "source": item.source,
                        "note": item.note,
                        "label": _item_label(item),
                    }
                )
        previous = as_of
    columns = [
        "as_of",
        "node",
        "states",
        "date",
        "known_on",
        "news",
        "replaced",
        "source",
        "note",
        "label",
    ]
    return pd.DataFrame(rows, columns=columns)


def largest_moves(
    table: pd.DataFrame,
    arrivals: pd.DataFrame,
    k: int = 2,
    min_change: float = 0.02,
    max_items: int = 2,
    questions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each question's largest month-to-month moves, with the evidence that arrived then.

    The first cut-off's move is measured from the prior mean. The evidence listed for a move
    puts items on the question's own node first, then news (a node seen in new states), then
    the rest in the order they became known; series readings replaced within the month are
    left out.

    Parameters
    ----------
    table : DataFrame
        From :meth:`Replay.table`.
    arrivals : DataFrame
        From :func:`evidence_arrivals` on the same cut-offs.
    k : int
        Moves kept per question.
    min_change : float
        Smallest absolute change in the mean that counts as a move.
    max_items : int
        Evidence labels listed per move (the rest are counted).
    questions : sequence of str, optional
        Question ids (default: all in the table).

    Returns
    -------
    DataFrame
        ``question``, ``as_of``, ``before``, ``after``, ``change``, ``evidence`` (labels
        joined by ``"; "``), ``n_items``, sorted by question and decreasing absolute change.
    """
    wanted = list(dict.fromkeys(table["question"])) if questions is None else list(questions)
    rows = []
    for qid in wanted:
        sub = table[table["question"] == qid].sort_values("as_of")
        if sub.empty:
            raise ValueError(f"question '{qid}' is not in the replay table")
        node = sub["node"].iloc[0]
        after = sub["mean"].to_numpy()
        before = np.concatenate([[sub["prior_mean"].iloc[0]], after[:-1]])
        change = after - before
        order = np.argsort(-np.abs(change), kind="stable")[:k]
        for i in order:
            if abs(change[i]) < min_change:
                continue
            as_of = sub["as_of"].iloc[i]
            came = arrivals[(arrivals["as_of"] == as_of) & ~arrivals["replaced"].astype(bool)]
            ranked = came.assign(_own=came["node"] != node, _old=~came["news"].astype(bool))
            ranked = ranked.sort_values(["_own", "_old", "known_on"], kind="stable")
            labels = list(ranked["label"])
            text = "; ".join(labels[:max_items])
            if len(labels) > max_items:
                text += f"; +{len(labels) - max_items} more"
            rows.append(
                {
                    "question": qid,
                    "as_of": as_of,
                    "before": float(before[i]),
                    "after": float(after[i]),
                    "change": float(change[i]),
                    "evidence": text or "(no new evidence)",
                    "n_items": len(labels),
                }
            )
    return pd.DataFrame(
        rows, columns=["question", "as_of", "before", "after", "change", "evidence", "n_items"]
    )
