"""Value of information: which node, observed next month, would move the forecasts most.

A preposterior analysis under parameter uncertainty, exact for every parameter draw: for each
node and each state it could be seen in next month, the probability of seeing it and the
forecasts after seeing it, from the exact engine run with that extra evidence row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

from forecast.analysis.counterfactuals.sensitivity import engine_for, outcome_questions
from forecast.analysis.summaries.outcomes import evidence_cutoff, rule_parameters
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.scenario.timeline import month_end
from forecast.scenario.validated import Question, Scenario

__all__ = [
    "ValueOfInformation",
    "next_month",
    "preposterior",
    "value_of_information",
]

logger = logging.getLogger(__name__)

IMPOSSIBLE = 1e-12
"""States observed with a predictive probability below this are left out (they add nothing)."""


def next_month(scenario: Scenario, as_of: dt.date | None) -> int:
    """The first month whose end state is not yet known on ``as_of``.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    as_of : date or None
        The evidence cut-off; None means the date the latest evidence became known.

    Returns
    -------
    int
        Step index: the month after the cut-off's month when the cut-off is that month's last
        day (as of 2024-09-30 -> October 2024), else the cut-off's own month.

    Raises
    ------
    ValueError
        If that month is past the horizon.
    """
    tl = scenario.timeline
    if as_of is None:
        if not scenario.evidence:
            return 0
        as_of = max(e.known_on for e in scenario.evidence)
    step = tl.step_of(as_of)
    if as_of >= month_end(as_of.year, as_of.month):
        step += 1
    step = max(step, 0)
    if step >= tl.n_steps:
        raise ValueError(
            f"nothing is left to observe after {as_of}: the horizon is {tl.labels[-1]}"
        )
    return step


@dataclass
class ValueOfInformation:
    """A preposterior analysis of observing single nodes in one month.

    Attributes
    ----------
    month : str
        The month observed (``YYYY-MM``).
    table : DataFrame
        One row per node and question: ``node``, ``month``, ``question``, ``outcome``,
        ``date``, ``current`` (the forecast now), ``current_variance`` (``p (1 - p)``, the
        variance of the event), ``expected_abs_change`` (``E_o |p_o - p|``),
        ``expected_variance_reduction`` (``Var_now - E_o[Var after o] = E_o (p_o - p)^2``),
        ``share`` (the reduction as a fraction of ``current_variance``) and
        ``observed_before`` (whether the scenario has ever observed the node).
    states : DataFrame
        One row per node, state and question: ``node``, ``state``, ``probability`` (of seeing
        it), ``question``, ``current``, ``after`` (the forecast after seeing it).
    """

    month: str
    table: pd.DataFrame
    states: pd.DataFrame

    def summary(self, percent: bool = False) -> pd.DataFrame:
        """Per node: expected absolute change summed and maximal over questions, ranked.

        Parameters
        ----------
        percent : bool
            Give the changes in percentage points, the variance reductions in squared
            percentage points and the shares in percent instead of probabilities.

        Returns
        -------
        DataFrame
            Indexed by node, columns ``total_abs_change``, ``max_abs_change``,
            ``max_question``, ``total_variance_reduction``, ``mean_variance_share`` (the
            fraction of each forecast's event variance removed, averaged over the forecasts),
            ``observed_before`` and ``rank`` (1 = the node to watch first), sorted by rank.
        """
        grouped = self.table.groupby("node", sort=False)
        out = pd.DataFrame(
            {
                "total_abs_change": grouped["expected_abs_change"].sum(),
                "max_abs_change": grouped["expected_abs_change"].max(),
                "max_question": grouped.apply(
                    lambda g: g.loc[g["expected_abs_change"].idxmax(), "question"],
                    include_groups=False,
                ),
                "total_variance_reduction": grouped["expected_variance_reduction"].sum(),
                "mean_variance_share": grouped["share"].mean(),
                "observed_before": grouped["observed_before"].first(),
            }
        )
        out = out.sort_values(
            ["total_abs_change", "max_abs_change"], ascending=False, kind="stable"
        )
        out["rank"] = np.arange(1, len(out) + 1)
        if percent:
            out[["total_abs_change", "max_abs_change"]] *= 100
            out["total_variance_reduction"] *= 100**2
            out["mean_variance_share"] *= 100
        return out

    def to_watch(self, observable_only: bool = True) -> str:
        """The node with the largest expected change of the forecasts, summed over questions.

        Parameters
        ----------
        observable_only : bool
            Skip nodes the scenario never observed (latent ones such as a pressure node).

        Returns
        -------
        str
            Node name.
        """
        summary = self.summary()
        if observable_only and summary["observed_before"].any():
            summary = summary[summary["observed_before"]]
        return str(summary.index[0])


def preposterior(
    engine: ExactEngine,
    params: list[np.ndarray],
    evidence: list[np.ndarray],
    month: int,
    nodes: Sequence[str] | None = None,
    questions: Sequence[Question] | None = None,
) -> ValueOfInformation:
    """Value of observing each node in ``month``, given parameter draws and evidence.

    For a node ``n`` and a state ``o``: ``P(o | theta)`` is the exact predictive probability
    of seeing ``n`` in ``o`` in that month for a parameter draw (the smoothed marginal given
    the evidence), ``P(o)`` its mean over the draws, and the forecast after seeing ``o`` is the
    draws re-weighted by ``P(o | theta)`` (Bayes' rule over the parameters) times each draw's
    exact forecast with the extra evidence row. Averaged over ``o`` the forecasts after equal
    the forecast now (law of total probability), and the expected variance reduction of the
    event is ``Var_now - E_o[Var after o] = E_o (p_o - p)^2`` (law of total variance).

    Parameters
    ----------
    engine : ExactEngine
        The scenario's engine (one answering only ``questions`` is derived from it when it
        answers more, see :func:`forecast.analysis.counterfactuals.sensitivity.engine_for`).
    params : list of ndarray
        One ``(draws, outcomes)`` array per rule (equally weighted draws).
    evidence : list of ndarray
        Per-node evidence matrices of what is known now.
    month : int
        Step of the month observed.
    nodes : sequence of str, optional
        Nodes to consider (default: all).
    questions : sequence of Question, optional
        Forecasts to follow (default: every question of the scenario).

    Returns
    -------
    ValueOfInformation
        The tables.
    """
    scenario = engine.scenario
    tl = scenario.timeline
    if not 0 <= month < tl.n_steps:
        raise ValueError(f"month {month} is outside the timeline (0 to {tl.n_steps - 1})")
    nodes = [n.name for n in scenario.nodes] if nodes is None else list(nodes)
    for name in nodes:
        scenario.node(name)
    questions = list(scenario.questions if questions is None else questions)
    engine = engine_for(scenario, questions, engine)
    base = engine.run_draws(params, evidence)
    if not np.all(np.isfinite(base.loglik)):
        raise ValueError("the evidence is impossible under some parameter draws")
    f_now = np.stack([base.questions[q.id] for q in questions], axis=-1)
    p_now = f_now.mean(axis=0)
    observed = {e.node for e in scenario.evidence}
    rows, state_rows = [], []
    for name in nodes:
        node = scenario.node(name)
        i = scenario.node_index[name]
        predictive = base.marginals[name][:, month, :]
        abs_change = np.zeros(len(questions))
        var_reduction = np.zeros(len(questions))
        check = np.zeros(len(questions))
        for s, state in enumerate(node.states):
            weights = predictive[:, s]
            prob = float(weights.mean())
            if prob < IMPOSSIBLE:
                continue
            extra = [m.copy() for m in evidence]
            row = np.zeros(node.n_states)
            row[s] = 1.0
            extra[i][month] = extra[i][month] * row
            after_draws = engine.run_draws(params, extra).questions
            f_after = np.stack([after_draws[q.id] for q in questions], axis=-1)
            f_after = np.where(weights[:, None] > 0, np.nan_to_num(f_after), 0.0)
            after = weights @ f_after / weights.sum()
            abs_change += prob * np.abs(after - p_now)
            var_reduction += prob * (after - p_now) ** 2
            check += prob * after
            for j, q in enumerate(questions):
                state_rows.append(
                    {
                        "node": name,
                        "state": state,
                        "probability": prob,
                        "question": q.id,
                        "current": p_now[j],
                        "after": after[j],
                    }
                )
        gap = np.max(np.abs(check - p_now)) if len(questions) else 0.0
        if gap > 1e-8:
            logger.warning(
                "observing %s: forecasts after do not average to the forecast now (gap %.2g)",
                name,
                gap,
            )
        current_var = p_now * (1.0 - p_now)
        for j, q in enumerate(questions):
            rows.append(
                {
                    "node": name,
                    "month": tl.labels[month],
                    "question": q.id,
                    "outcome": q.outcome,
                    "date": q.date.isoformat(),
                    "current": p_now[j],
                    "current_variance": current_var[j],
                    "expected_abs_change": abs_change[j],
                    "expected_variance_reduction": var_reduction[j],
                    "share": var_reduction[j] / current_var[j] if current_var[j] > 0 else 0.0,
                    "observed_before": name in observed,
                }
            )
    return ValueOfInformation(tl.labels[month], pd.DataFrame(rows), pd.DataFrame(state_rows))


def value_of_information(
    idata: az.InferenceData,
    scenario: Scenario,
    engine: ExactEngine | None = None,
    group: str = "posterior",
    as_of: dt.date | str | None = "recorded",
    month: int | str | None = None,
    nodes: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    dates: Sequence[dt.date | str] | None = None,
    max_draws: int | None = 500,
) -> ValueOfInformation:
    """What observing each node next month would do to the outcome forecasts of a fit.

    Parameters
    ----------
    idata : az.InferenceData
        A fit (``group="posterior"``) or prior draws (``group="prior"``, no evidence).
    scenario : Scenario
        The fitted scenario.
    engine : ExactEngine, optional
        Re-used if it answers exactly the questions followed.
    group : str
        ``"posterior"`` or ``"prior"``.
    as_of : date, None or "recorded"
        Evidence cut-off of the fit (``"recorded"``: from its attributes; None: all evidence).
    month : int or str, optional
        Step or ``YYYY-MM`` of the month observed (default: :func:`next_month` of the cut-off).
    nodes : sequence of str, optional
        Nodes to consider (default: all; latent ones are marked in ``observed_before``).
    outcomes : sequence of str, optional
        Outcomes whose forecasts are followed (default: all).
    dates : sequence of date or str, optional
        Report dates of those forecasts (default: all).
    max_draws : int, optional
        Draws used, evenly spaced over the chains (each state costs one exact pass over them).

    Returns
    -------
    ValueOfInformation
        See :func:`preposterior`.
    """
    if group not in ("posterior", "prior"):
        raise ValueError(f"group must be 'posterior' or 'prior', not {group!r}")
    questions = outcome_questions(scenario, outcomes, dates)
    engine = engine_for(scenario, questions, engine)
    params = rule_parameters(idata, scenario, group, max_draws)
    if group == "prior":
        cutoff = None
        evidence = evidence_matrices(scenario, ())
    else:
        cutoff = evidence_cutoff(idata) if as_of == "recorded" else as_of
        if isinstance(cutoff, str):
            cutoff = dt.date.fromisoformat(cutoff)
        evidence = evidence_matrices(scenario, scenario.evidence_as_of(cutoff))
    if month is None:
        step = next_month(scenario, cutoff) if group == "posterior" else 0
    elif isinstance(month, str):
        step = scenario.timeline.step_of(month)
    else:
        step = int(month)
    logger.info(
        "value of information of %s, %d draws",
        scenario.timeline.labels[step],
        params[0].shape[0] if params else 0,
    )
    return preposterior(engine, params, evidence, step, nodes, questions)
