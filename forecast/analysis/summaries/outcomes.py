"""Outcome and question probabilities from a fit or from prior draws: curves and tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd

from forecast.engine.exact import (
    REACHED_VAR,
    ExactEngine,
    can_leave,
    evidence_matrices,
    monthly_questions,
    reached_by_month,
)
from forecast.scenario.validated import Question, Scenario

__all__ = [
    "QUESTION_VAR",
    "evidence_cutoff",
    "headline_table",
    "outcome_curves",
    "question_summary",
    "rule_parameters",
    "select_outcomes",
    "with_reached_curves",
]

QUESTION_VAR = "question_prob"


def _flat(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.reshape(-1, *values.shape[2:])


def _pct(band: float) -> int:
    return round(band * 100)


def evidence_cutoff(idata: az.InferenceData) -> dt.date | None:
    """The evidence cut-off a fit recorded in its attributes (None: all evidence).

    Parameters
    ----------
    idata : az.InferenceData
        From :meth:`forecast.pymc_backend.fitting.ScenarioFitter.fit`.

    Returns
    -------
    datetime.date or None
        The ``as_of`` date, or None when the fit used all evidence or recorded nothing.
    """
    group = "posterior" if "posterior" in idata.groups() else idata.groups()[0]
    text = str(idata[group].attrs.get("as_of", ""))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def rule_parameters(
    idata: az.InferenceData,
    scenario: Scenario,
    group: str = "posterior",
    max_draws: int | None = None,
) -> list[np.ndarray]:
    """Each rule's N-month outcome vector ``[stay, *destinations]`` for every draw.

    Parameters
    ----------
    idata : az.InferenceData
        Holds one variable per rule (named ``rule.name``) in ``group``: the probability of
        moving for a single-destination rule, the outcome vector otherwise.
    scenario : Scenario
        The fitted scenario.
    group : str
        ``"posterior"`` or ``"prior"``.
    max_draws : int, optional
        Keep at most this many draws, evenly spaced over all chains (deterministic thinning).

    Returns
    -------
    list of ndarray
        One ``(draws, outcomes)`` array per rule, in ``scenario.rules`` order.
    """
    out = []
    keep = None
    for rule in scenario.rules:
        flat = _flat(idata[group][rule.name].values)
        if keep is None:
            n = flat.shape[0]
            keep = (
                np.arange(n)
                if max_draws is None or n <= max_draws
                else np.unique(np.linspace(0, n - 1, max_draws).round().astype(int))
            )
        flat = flat[keep]
        out.append(np.stack([1.0 - flat, flat], axis=-1) if flat.ndim == 1 else flat)
    return out


def _summarise(prob: np.ndarray, bands: Sequence[float]) -> dict[str, np.ndarray]:
    out = {"mean": prob.mean(axis=0)}
    for band in bands:
        out[f"low{_pct(band)}"] = np.quantile(prob, (1 - band) / 2, axis=0)
        out[f"high{_pct(band)}"] = np.quantile(prob, 1 - (1 - band) / 2, axis=0)
    return out


def select_outcomes(scenario: Scenario, outcomes: Sequence[str] | None = None) -> list[str]:
    """The outcome ids asked for (all of the scenario's when None), checked to exist.

    Raises
    ------
    ValueError
        If an id is not one of the scenario's outcomes.
    """
    known = [o.id for o in scenario.outcomes]
    wanted = known if outcomes is None else list(outcomes)
    unknown = [o for o in wanted if o not in known]
    if unknown:
        raise ValueError(
            f"unknown outcome(s) {', '.join(unknown)}; the scenario has "
            f"{', '.join(known) or 'none'}"
        )
    return wanted


def outcome_curves(
    idata: az.InferenceData,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    group: str = "posterior",
    bands: Sequence[float] = (0.5, 0.9),
    max_draws: int | None = 1000,
    as_of: dt.date | str | None = "recorded",
) -> pd.DataFrame:
    """Each outcome's probability at the end of every month, with central bands.

    An ``in_state`` outcome is the node's probability of being in the outcome's states that
    month. A ``reached`` outcome is the probability of having been in them at any month up to
    that one; when the states cannot be left this equals the monthly marginal, otherwise it is
    computed exactly for every draw by the engine (one masked pass per month).

    Parameters
    ----------
    idata : az.InferenceData
        A fit, or :meth:`~forecast.pymc_backend.fitting.ScenarioFitter.prior_draws`.
    scenario : Scenario
        The fitted scenario.
    outcomes : sequence of str, optional
        Outcome ids (default: every outcome of the scenario).
    group : str
        ``"posterior"`` or ``"prior"``.
    bands : sequence of float
        Masses of the central bands.
    max_draws : int, optional
        Draws used for the exact "reached" passes (evenly spaced, so deterministic); the
        marginal-based curves use every draw.
    as_of : date, None or "recorded"
        Evidence cut-off of the posterior; ``"recorded"`` reads it from the fit's attributes.
        Ignored for the prior, which uses no evidence.

    Returns
    -------
    DataFrame
        One row per outcome and month: ``outcome``, ``label``, ``kind``, ``month``
        (``YYYY-MM``), ``date`` (month end), ``mean``, ``low50``, ``high50``, ...
    """
    specs = {o.id: o for o in scenario.outcomes}
    wanted = select_outcomes(scenario, outcomes)
    tl = scenario.timeline
    dates = [tl.month_end_date(t) for t in range(tl.n_steps)]
    probs: dict[str, np.ndarray] = {}
    masked: list[Question] = []
    stored = idata[group][REACHED_VAR] if REACHED_VAR in idata[group] else None
    for oid in wanted:
        spec = specs[oid]
        template = next(q for q in scenario.questions if q.outcome == oid)
        if spec.kind == "reached" and can_leave(scenario, template):
            if stored is not None and oid in stored["reached_outcome"].values:
                probs[oid] = _flat(stored.sel(reached_outcome=oid).values)
                continue
            masked += monthly_questions(scenario, template, oid)
            continue
        da = idata[group][f"p_{spec.node}"]
        probs[oid] = _flat(
            da.sel({f"{spec.node}_state": list(template.states)}).sum(f"{spec.node}_state").values
        )
    if masked:
        engine = ExactEngine(dataclasses.replace(scenario, questions=tuple(masked)))
        evidence = None
        if group != "prior":
            cutoff = evidence_cutoff(idata) if as_of == "recorded" else as_of
            evidence = evidence_matrices(scenario, scenario.evidence_as_of(cutoff))
        answers = engine.run_draws(
            rule_parameters(idata, scenario, group, max_draws), evidence
        ).questions
        for oid in wanted:
            if oid not in probs:
                probs[oid] = np.stack([answers[f"{oid}@{t}"] for t in range(tl.n_steps)], axis=-1)
    frames = []
    for oid in wanted:
        frame = pd.DataFrame(
            {
                "outcome": oid,
                "label": specs[oid].label,
                "kind": specs[oid].kind,
                "month": tl.labels,
                "date": dates,
                **_summarise(probs[oid], bands),
            }
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def with_reached_curves(
    idata: az.InferenceData, scenario: Scenario, as_of: dt.date | str | None = "recorded"
) -> az.InferenceData:
    """A copy of a fit whose posterior also holds :data:`REACHED_VAR` for every draw.

    The "reached by month t" curves of leavable outcomes are then read, not recomputed, by
    :func:`outcome_curves`, and re-weightings of the fit carry them along.
    """
    questions = reached_by_month(scenario)
    out = idata.copy()
    if not questions or "posterior" not in idata.groups():
        return out
    cutoff = evidence_cutoff(idata) if as_of == "recorded" else as_of
    evidence = evidence_matrices(scenario, scenario.evidence_as_of(cutoff))
    engine = ExactEngine(scenario)
    flat = tuple(q for qs in questions.values() for q in qs)
    answers = engine.run_draws(
        rule_parameters(idata, scenario, "posterior"), evidence, questions=flat
    ).questions
    post = idata.posterior
    shape = (post.sizes["chain"], post.sizes["draw"])
    values = np.stack(
        [np.stack([answers[q.id] for q in qs], axis=-1) for qs in questions.values()], axis=-2
    )
    out.posterior[REACHED_VAR] = (
        ("chain", "draw", "reached_outcome", "month"),
        values.reshape(*shape, *values.shape[1:]),
    )
    out.posterior = out.posterior.assign_coords(reached_outcome=list(questions))
    return out


def question_summary(
    idata: az.InferenceData, scenario: Scenario, group: str = "prior", interval: float = 0.9
) -> pd.DataFrame:
    """Every question's mean probability and central interval under the prior or posterior.

    Parameters
    ----------
    idata : az.InferenceData
        Holds ``question_prob`` in ``group``.
    scenario : Scenario
        The scenario.
    group : str
        ``"prior"`` or ``"posterior"``.
    interval : float
        Mass of the central interval.

    Returns
    -------
    DataFrame
        Columns ``question``, ``text``, ``date``, ``kind``, ``mean``, ``low<pct>``,
        ``high<pct>``, one row per question in scenario order.
    """
    values = _flat(idata[group][QUESTION_VAR].values)
    pct = _pct(interval)
    return pd.DataFrame(
        {
            "question": [q.id for q in scenario.questions],
            "text": [q.text for q in scenario.questions],
            "date": [q.date.isoformat() for q in scenario.questions],
            "kind": [q.kind for q in scenario.questions],
            "mean": values.mean(axis=0),
            f"low{pct}": np.quantile(values, (1 - interval) / 2, axis=0),
            f"high{pct}": np.quantile(values, 1 - (1 - interval) / 2, axis=0),
        }
    )


def headline_table(
    fits: Mapping[str, az.InferenceData],
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    decimals: int = 2,
    prior: bool = True,
) -> pd.DataFrame:
    """Posterior means of the outcome questions of one or more fits, rounded.

    Rounded numbers make a table that a re-run reproduces exactly (nbval compares it).

    Parameters
    ----------
    fits : mapping of str to InferenceData
        Column label -> fit, e.g. ``{"as of 2024-09-30": early, "all evidence": latest}``.
    scenario : Scenario
        The fitted scenario.
    outcomes : sequence of str, optional
        Outcome ids, in the order wanted (default: every outcome).
    decimals : int
        Decimals kept.
    prior : bool
        Add a ``prior`` column from the first fit's ``prior`` group.

    Returns
    -------
    DataFrame
        Indexed by question id, with ``outcome`` (label), ``date`` and one column per fit.
    """
    wanted = [o.id for o in scenario.outcomes] if outcomes is None else list(outcomes)
    labels = {o.id: o.label for o in scenario.outcomes}
    rows = [(k, q) for oid in wanted for k, q in enumerate(scenario.questions) if q.outcome == oid]
    table = pd.DataFrame(
        {
            "outcome": [labels[q.outcome] for _, q in rows],
            "date": [q.date.isoformat() for _, q in rows],
        },
        index=pd.Index([q.id for _, q in rows], name="question"),
    )
    columns = {}
    first = next(iter(fits.values()))
    if prior and "prior" in first.groups():
        columns["prior"] = first.prior
    for label, idata in fits.items():
        columns[label] = idata.posterior
    for label, group in columns.items():
        means = _flat(group[QUESTION_VAR].values).mean(axis=0)
        table[label] = np.round([float(means[k]) for k, _ in rows], decimals)
    return table
