"""Scoring forecasts against resolved questions: Brier and log scores, skill, calibration.

Conventions. The forecast of a question is the posterior mean of its probability as of a date,
from the evidence known then (:class:`forecast.analysis.evaluation.backtest.Replay`). Both
scores are
losses, lower is better:

- Brier score ``(p - o) ** 2``: 0 perfect, 0.25 for an always-50% forecast.
- Log score ``-ln(p_o)``, the negative natural log of the probability given to what happened,
  with ``p`` clipped to ``[1e-6, 1 - 1e-6]`` so that a forecast of exactly 0 or 1 that turns
  out wrong costs ``-ln(1e-6) = 13.8`` instead of infinity; ``ln 2 = 0.693`` for 50%.

A skill score is ``1 - S / S_reference`` (1 perfect, 0 no better than the reference, negative
worse), against two baselines: always 50%, and the prior alone (the prior predictive mean, with
neither evidence nor reference-class counts, as in ``ScenarioFitter.prior_draws``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.analysis.evaluation.backtest import Replay
from forecast.errors import Problem, ScenarioError
from forecast.scenario.timeline import month_end, parse_month
from forecast.scenario.validated import Question, Scenario
from forecast.settings import DEFAULT_SEED, LOG_CLIP

__all__ = [
    "FORECASTERS",
    "OPTIONAL_COLUMNS",
    "QUESTION_COLUMNS",
    "brier_score",
    "calibration_table",
    "lead_as_of",
    "log_score",
    "read_questions",
    "resolved_questions",
    "score_questions",
    "score_summary",
    "skill_score",
]

logger = logging.getLogger(__name__)

QUESTION_COLUMNS = ("id", "node", "state", "kind", "date", "outcome")
"""Required columns of a questions CSV."""
OPTIONAL_COLUMNS = ("window_start", "text", "source", "resolved_on", "evidence")
"""Optional columns of a questions CSV."""
KINDS = ("in_state", "reached")
FORECASTERS = {"model": "forecast", "prior alone": "prior", "always 50%": "half"}
"""Row label of :func:`score_summary` -> column of the scores table with its forecasts."""
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


# ----------------------------------------------------------------------------------- scores


def _checked(p: Any, outcome: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    o = np.asarray(outcome, dtype=float)
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("forecast probabilities must lie in [0, 1]")
    if np.any((o != 0) & (o != 1)):
        raise ValueError("outcomes must be 0 or 1")
    return np.broadcast_arrays(p, o)


def brier_score(p: Any, outcome: Any) -> np.ndarray:
    """Brier score ``(p - o) ** 2`` of each forecast (lower is better).

    Parameters
    ----------
    p : array_like
        Forecast probabilities of the event, in [0, 1].
    outcome : array_like
        1 if the event happened, else 0.

    Returns
    -------
    ndarray
        One score per forecast.
    """
    p, o = _checked(p, outcome)
    return (p - o) ** 2


def log_score(p: Any, outcome: Any, clip: float = LOG_CLIP) -> np.ndarray:
    """Log score: ``-ln`` of the probability given to what happened (lower is better).

    Parameters
    ----------
    p : array_like
        Forecast probabilities of the event, in [0, 1].
    outcome : array_like
        1 if the event happened, else 0.
    clip : float
        ``p`` is clipped to ``[clip, 1 - clip]`` first, so a certain forecast that fails costs
        ``-ln(clip)`` (13.8 for the default 1e-6), not infinity.

    Returns
    -------
    ndarray
        One score per forecast, natural log.
    """
    p, o = _checked(p, outcome)
    p = np.clip(p, clip, 1 - clip)
    return -np.log(np.where(o == 1, p, 1 - p))


def skill_score(score: Any, reference: Any) -> np.ndarray:
    """Skill ``1 - score / reference``: 1 perfect, 0 as good as the reference, < 0 worse.

    Parameters
    ----------
    score : array_like
        Score (a loss) of the forecast, per question or averaged.
    reference : array_like
        Score of the reference forecast on the same questions.

    Returns
    -------
    ndarray
        NaN where the reference scored 0 (a perfect reference leaves no room for skill).
    """
    score = np.asarray(score, dtype=float)
    reference = np.asarray(reference, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            reference > 0, 1.0 - score / np.where(reference > 0, reference, 1.0), np.nan
        )


# -------------------------------------------------------------------------------- questions


def resolved_questions(scenario: Scenario) -> tuple[Question, ...]:
    """The scenario's questions that carry a resolution, in file order."""
    return tuple(q for q in scenario.questions if q.resolution is not None)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text.strip())


def read_questions(path: str | Path, scenario: Scenario) -> tuple[Question, ...]:
    """Resolved questions from a CSV file, checked against a scenario.

    The file has a header and one question per row. Columns (in any order):

    ``id``
        Unique id (letters, digits, ``_ . -``).
    ``node``
        A node of the scenario.
    ``state``
        One of the node's states, or several joined by ``|`` (the question is "the node is
        in any of them").
    ``kind``
        ``in_state`` (in the states at the end of the date's month) or ``reached`` (at the
        end of any month up to the date's, from ``window_start`` if given).
    ``date``
        ``YYYY-MM-DD``, inside the scenario's months.
    ``outcome``
        ``1`` (it happened) or ``0``: every row must be resolved.
    ``window_start`` (optional)
        ``YYYY-MM-DD`` or empty; only with ``reached``, not after ``date``.
    ``text``, ``source``, ``resolved_on``, ``evidence`` (optional)
        The question in words, the source of the resolution, the date it resolved
        (``YYYY-MM-DD``) and a note on the evidence; kept with the scores.

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8).
    scenario : Scenario
        The scenario whose nodes and months the questions use.

    Returns
    -------
    tuple of Question
        In file order, ``resolution`` set from ``outcome``.

    Raises
    ------
    ScenarioError
        Listing every problem with the file, row (line), field and what is allowed.
    """
    path = Path(path)
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ScenarioError.single(
            file,
            "",
            f"cannot read the questions file: {exc.strerror or exc}",
            "a readable CSV file",
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError.single(
            file, "", f"not UTF-8 text (byte {exc.start})", "a CSV file saved as UTF-8"
        ) from None
    reader = csv.DictReader(text.splitlines())
    header = [c.strip() for c in reader.fieldnames or [] if c is not None]
    allowed_columns = (
        f"required {', '.join(QUESTION_COLUMNS)}; optional {', '.join(OPTIONAL_COLUMNS)}"
    )
    problems: list[Problem] = []
    if not header:
        raise ScenarioError.single(file, "header", "the file is empty", allowed_columns, 1)
    missing = [c for c in QUESTION_COLUMNS if c not in header]
    unknown = [c for c in header if c not in QUESTION_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        problems.append(
            Problem(file, "header", f"missing column(s) {', '.join(missing)}", allowed_columns, 1)
        )
    if unknown:
        problems.append(
            Problem(file, "header", f"unknown column(s) {', '.join(unknown)}", allowed_columns, 1)
        )
    if problems:
        raise ScenarioError(problems)
    reader.fieldnames = header
    tl = scenario.timeline
    span = f"dates from {tl.month_label(0)}-01 to {tl.month_end_date(tl.n_steps - 1)}"
    out: list[Question] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        where = f"row {line}"

        def bad(
            column: str, message: str, allowed: str, line: int = line, where: str = where
        ) -> None:
            problems.append(Problem(file, f"{where}.{column}", message, allowed, line))

        cells = len(header) + len(row.get(None) or []) - list(row.values()).count(None)
        if cells != len(header):
            problems.append(
                Problem(
                    file,
                    where,
                    f"the row has {cells} cells, the header has {len(header)}",
                    "one cell per column (put quotes around cells that contain commas)",
                    line,
                )
            )
            continue
        cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
        before = len(problems)
        qid = cell["id"]
        if not _ID.match(qid):
            bad("id", f"'{qid}' is not a question id", "letters, digits, '_', '.', '-'")
        elif qid in seen:
            bad("id", f"question id '{qid}' is used twice", "a unique id per row")
        seen.add(qid)
        node_name = cell["node"]
        states = [s.strip() for s in cell["state"].split("|") if s.strip()]
        if node_name not in scenario.node_index:
            bad(
                "node",
                f"unknown node '{node_name}'",
                f"one of: {', '.join(n.name for n in scenario.nodes)}",
            )
        else:
            node = scenario.node(node_name)
            wrong = [s for s in states if s not in node.states]
            if not states:
                bad(
                    "state",
                    "no state given",
                    f"one or more of: {', '.join(node.states)} joined by '|'",
                )
            elif wrong:
                bad(
                    "state",
                    f"unknown state '{wrong[0]}' of node '{node_name}'",
                    f"one or more of: {', '.join(node.states)} joined by '|'",
                )
        kind = cell["kind"]
        if kind not in KINDS:
            bad("kind", f"unknown kind '{kind}'", " or ".join(KINDS))
        dates: dict[str, dt.date | None] = {}
        for column in ("date", "window_start", "resolved_on"):
            value = cell.get(column, "")
            if not value:
                dates[column] = None
                if column == "date":
                    bad(column, "no date given", "YYYY-MM-DD")
                continue
            try:
                dates[column] = _date(value)
            except ValueError:
                dates[column] = None
                bad(column, f"'{value}' is not a date", "YYYY-MM-DD")
                continue
            if column != "resolved_on" and not tl.contains(dates[column]):
                bad(column, f"{value} is outside the scenario's timeline", span)
                dates[column] = None
        date, start = dates["date"], dates["window_start"]
        if start is not None and kind == "in_state":
            bad(
                "window_start",
                "window_start only goes with kind 'reached'",
                "kind reached with window_start, or an empty window_start",
            )
        if start is not None and date is not None and start > date:
            bad(
                "window_start",
                f"window_start {start} is after date {date}",
                "a window_start on or before the question's date",
            )
        outcome = cell["outcome"]
        if outcome not in ("0", "1"):
            bad(
                "outcome",
                f"'{outcome}' is not a resolution",
                "1 (happened) or 0 (did not); every question must be resolved",
            )
        if len(problems) > before or date is None:
            continue
        out.append(
            Question(
                id=qid,
                text=cell.get("text")
                or f"{node_name} in {'|'.join(states)} "
                f"{'by' if kind == 'reached' else 'on'} {date}",
                node=node_name,
                states=tuple(states),
                date=date,
                kind=kind,
                window_start=start,
                step=tl.step_of(date),
                window_start_step=tl.step_of(start) if start else 0,
                resolution=int(outcome),
                resolved_on=dates["resolved_on"],
                resolution_source=cell.get("source", ""),
            )
        )
    if not problems and not out:
        problems.append(
            Problem(file, "", "the file has no questions", "a header and one row per question", 1)
        )
    if problems:
        raise ScenarioError(problems)
    return tuple(out)


def lead_as_of(question: Question, months: int) -> dt.date:
    """The month end ``months`` months before the month of a question's date.

    Parameters
    ----------
    question : Question
        A question.
    months : int
        Lead time in months (0: the end of the question's own month).

    Returns
    -------
    datetime.date
        The cut-off of a forecast made ``months`` months ahead.
    """
    year, month = parse_month(question.date)
    total = year * 12 + month - 1 - months
    return month_end(total // 12, total % 12 + 1)


def _same_question(a: Question, b: Question) -> bool:
    """Whether two questions ask the same thing of the model (ids and texts aside)."""
    if (a.node, frozenset(a.states), a.kind, a.step) != (
        b.node,
        frozenset(b.states),
        b.kind,
        b.step,
    ):
        return False
    return a.kind != "reached" or a.window_start_step == b.window_start_step


def _cut_offs(
    questions: Sequence[Question],
    as_of: dt.date | Mapping[str, dt.date] | None,
    lead_months: int | None,
) -> dict[str, dt.date]:
    if (as_of is None) == (lead_months is None):
        raise ValueError("give either as_of (a date, or a date per question id) or lead_months")
    if lead_months is not None:
        return {q.id: lead_as_of(q, lead_months) for q in questions}
    if isinstance(as_of, Mapping):
        missing = [q.id for q in questions if q.id not in as_of]
        if missing:
            raise ValueError(f"no as_of date for question(s) {', '.join(missing)}")
        return {q.id: as_of[q.id] for q in questions}
    return {q.id: as_of for q in questions}


def score_questions(
    scenario: Scenario,
    questions: Sequence[Question] | None = None,
    as_of: dt.date | Mapping[str, dt.date] | None = None,
    lead_months: int | None = None,
    method: str = "is",
    draws: int | None = None,
    seed: int = DEFAULT_SEED,
    replay: Replay | None = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """Score the forecasts of resolved questions as of a date, against two baselines.

    The forecast of a question is its posterior mean as of the cut-off, from the evidence
    known then only. A question may already be decided at the cut-off; three flags say so and
    :func:`score_summary` can leave such questions out:

    - ``date_passed``: the question's date is on or before the cut-off;
    - ``resolved_before``: its resolution date (when given) is on or before the cut-off;
    - ``settled_by_evidence``: the evidence known at the cut-off fixes its answer (probability
      0 or 1 in every draw), so the forecast scores perfectly by construction.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    questions : sequence of Question, optional
        Resolved questions (default: the scenario's resolved questions); see
        :func:`read_questions` for questions from a CSV file.
    as_of : date or mapping of str to date, optional
        One cut-off for all questions, or one per question id.
    lead_months : int, optional
        Instead of ``as_of``: each question as of the month end this many months before its
        date (:func:`lead_as_of`).
    method : {"is", "nuts"}
        How the posterior is computed (see :class:`~forecast.analysis.evaluation.backtest.Replay`).
    draws : int, optional
        Prior draws (IS) or NUTS draws per chain.
    seed : int
        Seed of the draws.
    replay : Replay, optional
        A replay to re-use: its draws, its NUTS fits and its cut-offs; a question that asks
        the same as one of the replay's (same node, states, kind, month and window) re-uses
        its probabilities. ``method``, ``draws`` and ``seed`` are then ignored.
    interval : float
        Mass of the central interval reported with the forecast.

    Returns
    -------
    DataFrame
        One row per question: ``question``, ``text``, ``node``, ``states``, ``kind``,
        ``date``, ``resolved_on``, ``as_of``, ``lead_days``, ``outcome``, ``forecast``,
        ``low<pct>``, ``high<pct>``, ``prior``, ``half``, the scores ``brier``,
        ``brier_prior``, ``brier_half``, ``log``, ``log_prior``, ``log_half``, the skill
        scores ``brier_skill_half``, ``brier_skill_prior``, ``log_skill_half``,
        ``log_skill_prior``, the flags ``date_passed``, ``resolved_before``,
        ``settled_by_evidence`` and ``open`` (none of them), ``ess``, ``pareto_k``,
        ``method`` and ``source``.

    Raises
    ------
    ValueError
        If a question has no resolution, or the cut-offs are not given exactly once.
    """
    questions = tuple(resolved_questions(scenario) if questions is None else questions)
    unresolved = [q.id for q in questions if q.resolution is None]
    if unresolved:
        raise ValueError(
            f"question(s) {', '.join(unresolved)} have no resolution; only "
            "resolved questions can be scored"
        )
    if not questions:
        raise ValueError(f"no resolved questions to score in {scenario.id}")
    cut_offs = _cut_offs(questions, as_of, lead_months)
    replay = replay or Replay(scenario, method=method, draws=draws, seed=seed)
    # re-use the replay's questions where they ask the same; the rest get their own pass
    alias: dict[str, tuple[bool, str]] = {}
    extra: list[Question] = []
    for q in questions:
        twin = next((r for r in replay.questions if _same_question(q, r)), None)
        if twin is None:
            extra.append(dataclasses.replace(q, id=f"__score__{q.id}"))
        alias[q.id] = (twin is None, extra[-1].id if twin is None else twin.id)
    other = replay.with_questions(extra) if extra else replay
    replay.prefit(cut_offs.values())  # NUTS: every cut-off's fit, on a sweep if it has one
    pct = round(interval * 100)
    rows = []
    for q in questions:
        own, key = alias[q.id]
        owner = other if own else replay
        cut, prior = owner.at(cut_offs[q.id]), owner.prior()
        lo, hi = cut.interval(key, interval)
        when = cut_offs[q.id]
        rows.append(
            {
                "question": q.id,
                "text": q.text,
                "node": q.node,
                "states": "|".join(q.states),
                "kind": q.kind,
                "date": q.date,
                "resolved_on": q.resolved_on,
                "as_of": when,
                "lead_days": (q.date - when).days,
                "outcome": int(q.resolution),
                "forecast": cut.mean(key),
                f"low{pct}": lo,
                f"high{pct}": hi,
                "prior": prior.mean(key),
                "half": 0.5,
                "date_passed": q.date <= when,
                "resolved_before": q.resolved_on is not None and q.resolved_on <= when,
                "settled_by_evidence": cut.settled(key),
                "ess": cut.ess_of(key),
                "pareto_k": cut.pareto_k,
                "method": replay.method,
                "source": q.resolution_source,
            }
        )
    table = pd.DataFrame(rows)
    table["open"] = ~(
        table["date_passed"] | table["resolved_before"] | table["settled_by_evidence"]
    )
    for name, column in (("", "forecast"), ("_prior", "prior"), ("_half", "half")):
        table[f"brier{name}"] = brier_score(table[column], table["outcome"])
        table[f"log{name}"] = log_score(table[column], table["outcome"])
    for score in ("brier", "log"):
        table[f"{score}_skill_half"] = skill_score(table[score], table[f"{score}_half"])
        table[f"{score}_skill_prior"] = skill_score(table[score], table[f"{score}_prior"])
    settled = table.loc[table["settled_by_evidence"], "question"].tolist()
    if settled:
        logger.info(
            "settled by the evidence at their cut-off (perfect by construction): %s",
            ", ".join(settled),
        )
    return table


def score_summary(scores: pd.DataFrame, only_open: bool = False) -> pd.DataFrame:
    """Mean scores of the model and both baselines, and the skill scores.

    Parameters
    ----------
    scores : DataFrame
        From :func:`score_questions`.
    only_open : bool
        Leave out questions already decided at their cut-off (``open`` is False).

    Returns
    -------
    DataFrame
        Indexed by forecaster (``model``, ``prior alone``, ``always 50%``): ``n`` (questions
        scored), mean ``brier`` and ``log`` scores, and the skill scores of the mean scores
        against each baseline, ``brier_skill_vs_50``, ``brier_skill_vs_prior``,
        ``log_skill_vs_50``, ``log_skill_vs_prior``.
    """
    table = scores[scores["open"]] if only_open else scores
    means = {}
    for label, column in FORECASTERS.items():
        suffix = {"forecast": "", "prior": "_prior", "half": "_half"}[column]
        means[label] = (
            float(table[f"brier{suffix}"].mean()) if len(table) else np.nan,
            float(table[f"log{suffix}"].mean()) if len(table) else np.nan,
        )
    rows = []
    for label, (brier, log) in means.items():
        rows.append(
            {
                "forecaster": label,
                "n": len(table),
                "brier": brier,
                "log": log,
                "brier_skill_vs_50": float(skill_score(brier, means["always 50%"][0])),
                "brier_skill_vs_prior": float(skill_score(brier, means["prior alone"][0])),
                "log_skill_vs_50": float(skill_score(log, means["always 50%"][1])),
                "log_skill_vs_prior": float(skill_score(log, means["prior alone"][1])),
            }
        )
    return pd.DataFrame(rows).set_index("forecaster")


def calibration_table(
    forecasts: Any, outcomes: Any, bins: int = 5, labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """Reliability table: forecasts binned by probability, with the observed frequency.

    Parameters
    ----------
    forecasts : array_like
        Forecast probabilities.
    outcomes : array_like
        0/1 outcomes.
    bins : int
        Equal-width bins over [0, 1]; the last bin includes 1.
    labels : sequence of str, optional
        A name per forecast (question ids), listed per bin.

    Returns
    -------
    DataFrame
        One row per bin: ``low``, ``high``, ``n``, ``mean_forecast``, ``observed``
        (fraction that happened; NaN for an empty bin) and ``questions``.
    """
    p, o = _checked(forecasts, outcomes)
    p, o = np.atleast_1d(p), np.atleast_1d(o)
    names = list(labels) if labels is not None else [str(i) for i in range(len(p))]
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        rows.append(
            {
                "low": edges[b],
                "high": edges[b + 1],
                "n": int(inside.sum()),
                "mean_forecast": float(p[inside].mean()) if inside.any() else np.nan,
                "observed": float(o[inside].mean()) if inside.any() else np.nan,
                "questions": ", ".join(n for n, i in zip(names, inside, strict=True) if i),
            }
        )
    return pd.DataFrame(rows)
