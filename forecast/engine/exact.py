"""The exact engine in plain numpy: answers and evidence likelihood for given parameters.

No sampling and no PyMC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.engine import forward as fw
from forecast.engine.plan import StepPlan, scenario_plan
from forecast.engine.tables import NodeTable, build_tables, node_tables
from forecast.spec.scenario import EvidenceItem, Question, Scenario


def evidence_matrices(scenario: Scenario, items: tuple[EvidenceItem, ...] | list[EvidenceItem]
                      ) -> list[np.ndarray]:
    """Per node, a ``(months, states)`` matrix of evidence likelihoods (1 where unobserved)."""
    steps = scenario.timeline.n_steps
    mats = [np.ones((steps, node.n_states)) for node in scenario.nodes]
    for item in items:
        node = scenario.node(item.node)
        t = scenario.timeline.step_of(item.date)
        row = np.zeros(node.n_states)
        row[[node.state_index(s) for s in item.states]] = 1.0
        mats[scenario.node_index[item.node]][t] *= row
    return mats


def by_month(matrices: list[Any], steps: int) -> list[list[Any]]:
    """Regroup per-node evidence matrices into per-month lists of vectors."""
    return [[m[t] for m in matrices] for t in range(steps)]


def target_indicator(scenario: Scenario, question: Question) -> np.ndarray:
    """Indicator over the question node's states of the question's target states."""
    node = scenario.node(question.node)
    return np.array([1.0 if s in question.states else 0.0 for s in node.states])


def can_leave(scenario: Scenario, question: Question) -> bool:
    """Whether the target set can be left (if not, 'reached by d' equals 'in state at d')."""
    node = scenario.node(question.node)
    return any(s not in node.absorbing for s in question.states)


def log_likelihood(norms: np.ndarray) -> Any:
    """Sum of the logs of the monthly normalisers (last axis), ``-inf`` once one is zero.

    After a month whose evidence has probability zero the filtered joint is 0/0, so the later
    normalisers are NaN; the log-likelihood is still ``-inf``, not NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = np.sum(np.log(norms), axis=-1)
    impossible = np.any(norms == 0, axis=-1)
    if np.ndim(loglik) == 0:
        return np.float64(-np.inf) if impossible else loglik
    return np.where(impossible, -np.inf, loglik)


def central_params(scenario: Scenario) -> list[np.ndarray]:
    """An interior parameter point: every N-month outcome equally likely."""
    return [np.full(len(r.destinations) + 1, 1.0 / (len(r.destinations) + 1))
            for r in scenario.rules]


@dataclass
class ExactResult:
    """What one exact pass computes.

    Attributes
    ----------
    loglik : float or ndarray
        Log-likelihood of the evidence (per draw when batched).
    norms : ndarray
        Per-month normalisers, ``(months,)`` or ``(draws, months)``.
    marginals : dict
        Node -> smoothed state probabilities ``([draws,] months, states)``.
    questions : dict
        Question id -> probability (per draw when batched).
    """

    loglik: Any
    norms: np.ndarray
    marginals: dict[str, np.ndarray]
    questions: dict[str, Any]


def question_arrays(scenario: Scenario, questions: tuple[Question, ...]):
    """The questions as arrays for the compiled :func:`forecast.engine.kernels.smooth`."""
    from forecast.engine.kernels import QuestionArrays

    width = max(n.n_states for n in scenario.nodes)
    target = np.zeros((len(questions), width))
    for k, q in enumerate(questions):
        target[k, :scenario.node(q.node).n_states] = target_indicator(scenario, q)
    return QuestionArrays(
        node=np.array([scenario.node_index[q.node] for q in questions], dtype=np.int64),
        target=target,
        start=np.array([q.window_start_step for q in questions], dtype=np.int64),
        stop=np.array([q.step for q in questions], dtype=np.int64),
        reached=np.array([q.kind == "reached" and can_leave(scenario, q) for q in questions],
                         dtype=np.bool_))


class ExactEngine:
    """Exact inference on a scenario for fixed parameters.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.plan: StepPlan = scenario_plan(scenario)
        self.layout: list[NodeTable] = node_tables(scenario)
        self.initials = [node.initial for node in scenario.nodes]

    def run_draws(self, params: list[np.ndarray], evidence: list[np.ndarray] | None = None
                  ) -> ExactResult:
        """:meth:`run` for many parameter draws, one compiled pass per draw, draws in parallel.

        The same algorithm as :meth:`run` (and tested equal to it), for the thousands of
        posterior draws of a fit, where the batched numpy pass is slow.
        """
        from forecast.engine.forward import initial_joint
        from forecast.engine.kernels import joint_weights, lower_plan, smooth_draws

        scenario = self.scenario
        if evidence is None:
            evidence = evidence_matrices(scenario, ())
        if not hasattr(self, "_lowered"):
            self._lowered = lower_plan(self.plan, self.layout,
                                       [n.n_states for n in scenario.nodes])
            self._initial = initial_joint(self.initials, self.plan, np).ravel()
            self._questions = question_arrays(scenario, scenario.questions)
        weights = joint_weights(evidence, self._lowered.state_of)
        norms, answers, per_node = smooth_draws(
            self._lowered, params, weights, self._initial, self._questions,
            [n.n_states for n in scenario.nodes])
        marginals = {node.name: m for node, m in zip(scenario.nodes, per_node, strict=True)}
        return ExactResult(log_likelihood(norms), norms, marginals,
                           {q.id: answers[:, k] for k, q in enumerate(scenario.questions)})

    def evidence(self, as_of=None) -> list[np.ndarray]:
        """Evidence matrices of the scenario's evidence known by ``as_of``."""
        return evidence_matrices(self.scenario, self.scenario.evidence_as_of(as_of))

    def tables(self, params: list[np.ndarray]) -> list[np.ndarray]:
        """Transition tables for parameters (batched if the parameters have a leading axis)."""
        return build_tables(self.layout, [np.asarray(p, dtype=float) for p in params], np)

    def loglik(self, params: list[np.ndarray], evidence: list[np.ndarray]) -> Any:
        """Log-likelihood of the evidence (the forward pass only)."""
        batched = np.ndim(params[0]) > 1 if params else False
        tables = self.tables(params)
        with np.errstate(divide="ignore", invalid="ignore"):
            months = by_month(evidence, self.scenario.timeline.n_steps)
            _, norms = fw.forward(self.initials, tables, months, self.plan, np, batched)
            return log_likelihood(np.stack(norms, axis=-1))

    def run(self, params: list[np.ndarray], evidence: list[np.ndarray] | None = None,
            questions: tuple[Question, ...] | None = None) -> ExactResult:
        """Evidence likelihood, smoothed monthly marginals and question probabilities.

        Parameters
        ----------
        params : list of ndarray
            One N-month outcome vector per rule (see :func:`forecast.engine.tables.build_tables`);
            a leading axis of draws runs them all at once.
        evidence : list of ndarray, optional
            Per-node evidence matrices; none means no evidence.
        questions : tuple of Question, optional
            Defaults to the scenario's questions.
        """
        scenario = self.scenario
        batched = np.ndim(params[0]) > 1 if params else False
        if evidence is None:
            evidence = evidence_matrices(scenario, ())
        months = by_month(evidence, self.scenario.timeline.n_steps)
        tables = self.tables(params)
        with np.errstate(divide="ignore", invalid="ignore"):
            alphas, norms = fw.forward(self.initials, tables, months, self.plan, np, batched)
            norms_arr = np.stack(norms, axis=-1)
            loglik = log_likelihood(norms_arr)
        if np.any(norms_arr == 0):
            return ExactResult(loglik, norms_arr, {}, {})
        betas = fw.backward(tables, months, norms, self.plan, np, batched, like=alphas[-1])
        marginals = {}
        for i, node in enumerate(scenario.nodes):
            marginals[node.name] = np.stack(
                [fw.node_marginal(a * b, i, self.plan, np, batched)
                 for a, b in zip(alphas, betas, strict=True)], axis=-2)
        answers = {}
        for q in scenario.questions if questions is None else questions:
            target = target_indicator(scenario, q)
            if q.kind == "in_state" or not can_leave(scenario, q):
                answers[q.id] = np.clip(marginals[q.node][..., q.step, :] @ target, 0.0, 1.0)
            else:
                stay_out = fw.never_in(
                    self.initials, alphas, betas, tables, months, norms, self.plan,
                    scenario.node_index[q.node], 1.0 - target, q.window_start_step, q.step, np,
                    batched)
                answers[q.id] = np.clip(1.0 - stay_out, 0.0, 1.0)
        return ExactResult(loglik, norms_arr, marginals, answers)
