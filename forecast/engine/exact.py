"""The exact engine in plain numpy: answers and evidence likelihood for given parameters.

No sampling and no PyMC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from forecast.engine import forward as fw
from forecast.engine.plan import StepPlan, scenario_plan
from forecast.engine.static import StaticNetwork, memoryless, static_network
from forecast.engine.tables import (
    NodeTable,
    build_tables,
    collapse_states,
    duration_caps,
    engine_sizes,
    expand_states,
    initial_distribution,
    kept_entry,
    node_tables,
)
from forecast.scenario.validated import EvidenceItem, Question, Scenario

if TYPE_CHECKING:
    from forecast.engine.kernels import LoweredPlan, QuestionArrays


def evidence_matrices(
    scenario: Scenario, items: tuple[EvidenceItem, ...] | list[EvidenceItem]
) -> list[np.ndarray]:
    """Per node, a ``(months, states)`` matrix of evidence likelihoods (1 where unobserved)."""
    steps = scenario.timeline.n_steps
    mats = [np.ones((steps, node.n_states)) for node in scenario.nodes]
    for item in items:
        node = scenario.node(item.node)
        t = scenario.timeline.step_of(item.date)
        row = np.zeros(node.n_states)
        if item.likelihood is None:
            row[[node.state_index(s) for s in item.states]] = 1.0
        else:
            for state, weight in item.likelihood:
                row[node.state_index(state)] = weight
        mats[scenario.node_index[item.node]][t] *= row
    return mats


def fill_folded_marginals(
    scenario: Scenario,
    tables: Mapping[int, np.ndarray] | Sequence[np.ndarray],
    evidence: list[np.ndarray],
    marginals: dict[str, np.ndarray],
) -> None:
    """Add the folded (source report) nodes' marginals to ``marginals``, from their parent's.

    A report depends on its one parent alone and nothing depends on it, so given all the
    evidence ``P(report = k) = sum_s P(parent = s) * T[s, k] e[k] / sum_j T[s, j] e[j]``.
    ``tables`` (every node's, or the reports' by node index) may carry a leading axis of
    draws, as the parent's marginal then does.
    """
    for node in scenario.nodes:
        if not node.is_source:
            continue
        ((parent, _),) = node.parents
        i = scenario.node_index[node.name]
        cap = scenario.node(parent).duration_cap  # the report ignores the months in state
        table = np.asarray(tables[i])[..., ::cap, 0, :]  # (draws?, parent states, reports)
        weighted = table[..., None, :, :] * evidence[i][:, None, :]  # (..., months, s, k)
        total = weighted.sum(-1, keepdims=True)
        given = np.divide(weighted, total, out=np.zeros_like(weighted), where=total > 0)
        marginals[node.name] = np.einsum("...ts,...tsk->...tk", marginals[parent], given)


def by_month(matrices: list[Any], steps: int) -> list[list[Any]]:
    """Regroup per-node evidence matrices into per-month lists of vectors."""
    return [[m[t] for m in matrices] for t in range(steps)]


def target_indicator(scenario: Scenario, question: Question) -> np.ndarray:
    """Indicator over the question node's states of the question's target states."""
    node = scenario.node(question.node)
    return np.array([1.0 if s in question.states else 0.0 for s in node.states])


def can_leave(
    scenario: Scenario, question: Question, overrides: Sequence[TableOverride] = ()
) -> bool:
    """Whether the target set can be left (if not, 'reached by d' equals 'in state at d').

    A node whose table an override replaces may leave even its absorbing states.
    """
    node = scenario.node(question.node)
    if any(o.node == scenario.node_index[question.node] for o in overrides):
        return True
    return any(s not in node.absorbing for s in question.states)


REACHED_VAR = "reached_prob"
"""Per draw, each leavable "reached" outcome's probability of being reached by each month."""


def reached_by_month(scenario: Scenario, outcomes: Sequence[str] | None = None) -> dict:
    """The questions "reached by the end of month t", for every month, of leavable outcomes.

    A ``reached`` outcome whose states can be left is not a monthly marginal: each month's
    value is its own question (one masked pass). Outcomes that cannot be left, and
    ``in_state`` outcomes, are read off the marginals and are not listed.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    outcomes : sequence of str, optional
        Outcome ids (default: all of the scenario's).

    Returns
    -------
    dict
        Outcome id -> one question per month (ids ``"<outcome>@<t>"``).
    """
    wanted = [o.id for o in scenario.outcomes] if outcomes is None else list(outcomes)
    specs = {o.id: o for o in scenario.outcomes}
    out = {}
    for oid in wanted:
        template = next((q for q in scenario.questions if q.outcome == oid), None)
        if template is None or specs[oid].kind != "reached" or not can_leave(scenario, template):
            continue
        out[oid] = monthly_questions(scenario, template, oid)
    return out


def monthly_questions(scenario: Scenario, template: Question, name: str) -> tuple[Question, ...]:
    """``template`` asked at the end of every month from the first (ids ``"<name>@<t>"``)."""
    import dataclasses

    tl = scenario.timeline
    return tuple(
        dataclasses.replace(
            template,
            id=f"{name}@{t}",
            step=t,
            date=tl.month_end_date(t),
            window_start=None,
            window_start_step=0,
        )
        for t in range(tl.n_steps)
    )


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


@dataclass(frozen=True)
class TableOverride:
    """One node's transition table replaced in some months (an intervention, for instance).

    The replacement holds for every parameter draw: it is fixed, not built from the rules.

    Attributes
    ----------
    node : int
        Position of the node in ``scenario.nodes``.
    months : tuple of int
        Steps whose transition (from month ``t - 1`` into month ``t``) uses ``table``.
    table : ndarray
        The replacement, shaped like the node's table ``(*parent_sizes, k_old, k_new)``
        (rows are the parents' and the node's old states, columns its new state).
    """

    node: int
    months: tuple[int, ...]
    table: np.ndarray


def forced_state(scenario: Scenario, node: str, state: str, months: Iterable[int]) -> TableOverride:
    """The override of ``do(node = state)`` in the given months.

    Every row of the node's table becomes the indicator of ``state``: whatever its parents and
    its old state, the node is in ``state`` at the end of each of these months. Its causes are
    cut; its children still see the forced state through their own tables.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    node : str
        The node forced.
    state : str
        The state it is forced into.
    months : iterable of int
        Steps of the timeline.

    Returns
    -------
    TableOverride
        For :meth:`ExactEngine.run` and :meth:`ExactEngine.run_draws`.
    """
    spec = scenario.node(node)
    if state not in spec.states:
        raise ValueError(f"node '{node}' has no state '{state}' (states: {', '.join(spec.states)})")
    caps = duration_caps(scenario)
    cap = caps[scenario.node_index[node]]
    parents = [scenario.node(p).n_states * caps[scenario.node_index[p]] for p, _ in spec.parents]
    k = spec.n_states * cap
    table = np.zeros((*parents, k, k))
    forced = spec.state_index(state)
    counted = spec.state_duration_caps
    for old in range(k):  # forced into the state: one more month in it, or its first month
        was, held = divmod(old, cap)
        table[
            ..., old, kept_entry(forced, held, cap, counted) if was == forced else forced * cap
        ] = 1.0
    return TableOverride(scenario.node_index[node], tuple(int(t) for t in months), table)


def check_overrides(
    scenario: Scenario, layout: list[NodeTable], overrides: Sequence[TableOverride]
) -> None:
    """Raise ValueError unless every override fits its node, months and the other overrides."""
    steps = scenario.timeline.n_steps
    seen: set[tuple[int, int]] = set()
    for override in overrides:
        if not 0 <= override.node < len(layout):
            raise ValueError(f"override of node {override.node}: no such node")
        name = scenario.nodes[override.node].name
        if scenario.nodes[override.node].is_source:
            raise ValueError(f"override of '{name}': a source's reports cannot be replaced")
        if np.shape(override.table) != layout[override.node].shape:
            raise ValueError(
                f"override of '{name}': table shaped {np.shape(override.table)}, "
                f"the node's table is {layout[override.node].shape}"
            )
        for t in override.months:
            if not 0 <= t < steps:
                raise ValueError(
                    f"override of '{name}': month {t} is outside the timeline (0..{steps - 1})"
                )
            if (override.node, t) in seen:
                raise ValueError(f"two overrides of '{name}' in month {t}")
            seen.add((override.node, t))


def month_tables(
    tables: list[Any], overrides: Sequence[TableOverride], steps: int
) -> list[list[Any]] | None:
    """Per month, the node tables with the overrides applied (None when there are none).

    Months without an override share the list ``tables`` itself.
    """
    if not overrides:
        return None
    out = [tables] * steps
    for override in overrides:
        for t in override.months:
            if out[t] is tables:
                out[t] = list(tables)
            out[t][override.node] = np.asarray(override.table, dtype=float)
    return out


def central_params(scenario: Scenario) -> list[np.ndarray]:
    """An interior parameter point: every N-month outcome equally likely."""
    return [
        np.full(len(r.destinations) + 1, 1.0 / (len(r.destinations) + 1)) for r in scenario.rules
    ]


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


def question_arrays(
    scenario: Scenario, questions: tuple[Question, ...], overrides: Sequence[TableOverride] = ()
):
    """The questions as arrays for the compiled :func:`forecast.engine.smoothing.smooth_draws`."""
    from forecast.engine.kernels import QuestionArrays

    sizes = engine_sizes(scenario)
    target = np.zeros((len(questions), max(sizes)))
    for k, q in enumerate(questions):
        expanded = expand_states(target_indicator(scenario, q), scenario.node(q.node).duration_cap)
        target[k, : expanded.shape[0]] = expanded
    return QuestionArrays(
        node=np.array([scenario.node_index[q.node] for q in questions], dtype=np.int64),
        target=target,
        start=np.array([q.window_start_step for q in questions], dtype=np.int64),
        stop=np.array([q.step for q in questions], dtype=np.int64),
        reached=np.array(
            [q.kind == "reached" and can_leave(scenario, q, overrides) for q in questions],
            dtype=np.bool_,
        ),
    )


class ExactEngine:
    """Exact inference on a scenario for fixed parameters.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.layout: list[NodeTable] = node_tables(scenario)
        self.caps = duration_caps(scenario)
        self.initials = [
            initial_distribution(node, cap)
            for node, cap in zip(scenario.nodes, self.caps, strict=True)
        ]
        self.static: StaticNetwork | None = static_network(scenario, self.layout)

    @cached_property
    def plan(self) -> StepPlan:
        """The monthly update over the joint state (planned on first use).

        A static network (:mod:`forecast.engine.static`) is answered without it, so it may
        have more nodes than the joint's plan allows.
        """
        return scenario_plan(self.scenario)

    @cached_property
    def lowered(self) -> LoweredPlan:
        """The plan and tables as flat arrays for the compiled kernels (built on first use).

        Shared by :meth:`run_draws` and the samplers' densities, so a scenario is lowered once.
        """
        from forecast.engine.kernels import lower_plan

        return lower_plan(self.plan, self.layout, engine_sizes(self.scenario))

    @cached_property
    def initial_flat(self) -> np.ndarray:
        """The joint distribution just before month 0, flat (built on first use)."""
        return np.ascontiguousarray(
            fw.initial_joint(self.initials, self.plan, np).ravel(), dtype=float
        )

    def engine_evidence(self, evidence: list[np.ndarray]) -> list[np.ndarray]:
        """Per-node evidence matrices on the engine's axes (repeated over months in state).

        A node that counts its months in state (:func:`forecast.engine.tables.duration_caps`)
        has ``states * cap`` entries on its axis; evidence about its state holds for every
        count. Other nodes' matrices are returned as they are.
        """
        return [
            expand_states(np.asarray(m), cap) for m, cap in zip(evidence, self.caps, strict=True)
        ]

    def _collapsed(self, per_node: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Marginals on the engine's axes summed back to each node's states."""
        caps = dict(zip((n.name for n in self.scenario.nodes), self.caps, strict=True))
        return {name: collapse_states(m, caps[name]) for name, m in per_node.items()}

    @cached_property
    def _question_arrays(self) -> QuestionArrays:
        return question_arrays(self.scenario, self.scenario.questions)

    def run_draws(
        self,
        params: list[np.ndarray],
        evidence: list[np.ndarray] | None = None,
        questions: tuple[Question, ...] | None = None,
        overrides: Sequence[TableOverride] = (),
    ) -> ExactResult:
        """:meth:`run` for many parameter draws, one compiled pass per draw, draws in parallel.

        The same algorithm as :meth:`run` (and tested equal to it), for the thousands of
        posterior draws of a fit, where the batched numpy pass is slow.

        Parameters
        ----------
        params : list of ndarray
            One ``(draws, outcomes)`` array per rule.
        evidence : list of ndarray, optional
            Per-node evidence matrices; none means no evidence.
        questions : tuple of Question, optional
            Defaults to the scenario's questions.
        overrides : sequence of TableOverride
            Node tables replaced in some months (see :func:`forced_state`).
        """
        from forecast.engine.kernels import lower_overrides
        from forecast.engine.slots import node_weights
        from forecast.engine.smoothing import smooth_draws

        scenario = self.scenario
        if (replaced := self._static_overrides(overrides)) is not None:
            one = self._static_run(evidence, questions, replaced)
            return ExactResult(
                np.atleast_1d(one.loglik),
                one.norms[None],
                {name: m[None] for name, m in one.marginals.items()},
                {q: np.atleast_1d(v) for q, v in one.questions.items()},
            )
        if evidence is None:
            evidence = evidence_matrices(scenario, ())
        wanted = scenario.questions if questions is None else questions
        arrays = (
            self._question_arrays
            if questions is None and not overrides
            else question_arrays(scenario, wanted, overrides)
        )
        check_overrides(scenario, self.layout, overrides)
        lowered_overrides = (
            lower_overrides(self.lowered, overrides, scenario.timeline.n_steps)
            if overrides
            else None
        )
        weights = node_weights(self.engine_evidence(evidence))
        norms, answers, per_node = smooth_draws(
            self.lowered,
            params,
            weights,
            self.initial_flat,
            arrays,
            engine_sizes(scenario),
            overrides=lowered_overrides,
        )
        marginals = self._collapsed(
            {node.name: m for node, m in zip(scenario.nodes, per_node, strict=True)}
        )
        reports = [i for i, node in enumerate(scenario.nodes) if node.is_source]
        if reports:  # only the reports' tables, for every draw
            layout = [self.layout[i] for i in reports]
            drawn = build_tables(layout, [np.asarray(p, dtype=float) for p in params], np)
            fill_folded_marginals(
                scenario, dict(zip(reports, drawn, strict=True)), evidence, marginals
            )
        return ExactResult(
            log_likelihood(norms),
            norms,
            marginals,
            {q.id: answers[:, k] for k, q in enumerate(wanted)},
        )

    def _static_overrides(
        self, overrides: Sequence[TableOverride]
    ) -> dict[int, dict[int, np.ndarray]] | None:
        """Month -> node -> replaced table, when the static path answers (else None).

        A static network answers unless an override makes a node remember its state.
        """
        if self.static is None:
            return None
        check_overrides(self.scenario, self.layout, overrides)
        by_month: dict[int, dict[int, np.ndarray]] = {}
        for override in overrides:
            table = memoryless(override.table)
            if table is None:
                return None
            for t in override.months:
                by_month.setdefault(t, {})[override.node] = table
        return by_month

    def _static_run(
        self,
        evidence: list[np.ndarray] | None,
        questions: tuple[Question, ...] | None,
        replaced: dict[int, dict[int, np.ndarray]],
    ) -> ExactResult:
        """:meth:`run` of a static network, each month by variable elimination.

        ``replaced``: month -> node -> table, from :meth:`_static_overrides`.
        """
        assert self.static is not None
        scenario = self.scenario
        steps = scenario.timeline.n_steps
        if evidence is None:
            evidence = evidence_matrices(scenario, ())
        done: dict[bytes, tuple[float, list[np.ndarray]]] = {}
        logs, per_month = [], []
        for t in range(steps):
            seen = {i: m[t] for i, m in enumerate(evidence) if not np.all(m[t] == 1.0)}
            swapped = replaced.get(t, {})
            key = b"".join(np.int64(i).tobytes() + v.tobytes() for i, v in seen.items())
            key += b"|" + b"".join(np.int64(i).tobytes() + v.tobytes() for i, v in swapped.items())
            if key not in done:  # months with the same evidence and tables: the same answer
                done[key] = self.static.month(seen, swapped)
            log_norm, marginals = done[key]
            logs.append(log_norm)
            per_month.append(marginals)
        norms = np.exp(np.array(logs))
        marginals = {
            node.name: np.stack([m[i] for m in per_month]) for i, node in enumerate(scenario.nodes)
        }
        answers = {}
        for q in scenario.questions if questions is None else questions:
            inside = np.clip(marginals[q.node] @ target_indicator(scenario, q), 0.0, 1.0)
            if q.kind == "in_state":
                answers[q.id] = float(inside[q.step])
            else:  # the months are independent given their evidence
                window = inside[q.window_start_step : q.step + 1]
                answers[q.id] = float(1.0 - np.prod(1.0 - window))
        return ExactResult(float(np.sum(logs)), norms, marginals, answers)

    def evidence(self, as_of=None) -> list[np.ndarray]:
        """Evidence matrices of the scenario's evidence known by ``as_of``."""
        return evidence_matrices(self.scenario, self.scenario.evidence_as_of(as_of))

    def tables(self, params: list[np.ndarray]) -> list[np.ndarray]:
        """Transition tables for parameters (batched if the parameters have a leading axis)."""
        return build_tables(self.layout, [np.asarray(p, dtype=float) for p in params], np)

    def loglik(
        self,
        params: list[np.ndarray],
        evidence: list[np.ndarray],
        overrides: Sequence[TableOverride] = (),
    ) -> Any:
        """Log-likelihood of the evidence (the forward pass only), under the overrides."""
        if (replaced := self._static_overrides(overrides)) is not None:
            return self._static_run(evidence, (), replaced).loglik
        batched = np.ndim(params[0]) > 1 if params else False
        tables = self.tables(params)
        check_overrides(self.scenario, self.layout, overrides)
        steps = self.scenario.timeline.n_steps
        per_month = month_tables(tables, overrides, steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            months = by_month(self.engine_evidence(evidence), steps)
            _, norms = fw.forward(
                self.initials, tables, months, self.plan, np, batched, month_tables=per_month
            )
            return log_likelihood(np.stack(norms, axis=-1))

    def run(
        self,
        params: list[np.ndarray],
        evidence: list[np.ndarray] | None = None,
        questions: tuple[Question, ...] | None = None,
        overrides: Sequence[TableOverride] = (),
    ) -> ExactResult:
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
        overrides : sequence of TableOverride
            Node tables replaced in some months (see :func:`forced_state`); the default path
            (none) uses one set of tables for every month.
        """
        scenario = self.scenario
        if (replaced := self._static_overrides(overrides)) is not None:
            return self._static_run(evidence, questions, replaced)
        batched = np.ndim(params[0]) > 1 if params else False
        if evidence is None:
            evidence = evidence_matrices(scenario, ())
        months = by_month(self.engine_evidence(evidence), self.scenario.timeline.n_steps)
        tables = self.tables(params)
        check_overrides(scenario, self.layout, overrides)
        per_month = month_tables(tables, overrides, scenario.timeline.n_steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            alphas, norms = fw.forward(
                self.initials, tables, months, self.plan, np, batched, month_tables=per_month
            )
            norms_arr = np.stack(norms, axis=-1)
            loglik = log_likelihood(norms_arr)
        if np.any(norms_arr == 0):
            return ExactResult(loglik, norms_arr, {}, {})
        betas = fw.backward(
            tables, months, norms, self.plan, np, batched, like=alphas[-1], month_tables=per_month
        )
        marginals = {}
        for i, node in enumerate(scenario.nodes[: len(self.plan.axes)]):
            marginals[node.name] = np.stack(
                [
                    fw.node_marginal(a * b, i, self.plan, np, batched)
                    for a, b in zip(alphas, betas, strict=True)
                ],
                axis=-2,
            )
        marginals = self._collapsed(marginals)
        fill_folded_marginals(scenario, tables, evidence, marginals)
        answers = {}
        for q in scenario.questions if questions is None else questions:
            target = target_indicator(scenario, q)
            if q.kind == "in_state" or not can_leave(scenario, q, overrides):
                answers[q.id] = np.clip(marginals[q.node][..., q.step, :] @ target, 0.0, 1.0)
            else:
                stay_out = fw.never_in(
                    self.initials,
                    alphas,
                    betas,
                    tables,
                    months,
                    norms,
                    self.plan,
                    scenario.node_index[q.node],
                    1.0 - expand_states(target, scenario.node(q.node).duration_cap),
                    q.window_start_step,
                    q.step,
                    np,
                    batched,
                    month_tables=per_month,
                )
                answers[q.id] = np.clip(1.0 - stay_out, 0.0, 1.0)
        return ExactResult(loglik, norms_arr, marginals, answers)
