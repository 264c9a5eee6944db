"""A naive PyMC model of a scenario that samples every discrete state (the baseline).

Same scenario, same Beta/Dirichlet priors and reference-class potentials as
:func:`forecast.pymc_backend.model.build_model`, but instead of summing the discrete states out
exactly, every node's state in every month is a ``pm.Categorical``:

* the rule parameters (N-month outcome vectors) become monthly transition tables with
  :func:`forecast.engine.tables.build_tables`, run on PyTensor tensors;
* node ``i`` in month ``t`` is ``Categorical(p=table_i[parent states..., old state])``, the row
  of its table picked by plain PyTensor indexing with the (symbolic, integer) states of its
  parents (lag 1: last month, lag 0: this month) and of itself last month. Month ``-1`` holds
  the ``initial`` states (a constant when the initial distribution is one-hot, else a free
  Categorical);
* evidence with a single state makes that month's variable observed (``observed=``); a month
  without evidence is free; evidence allowing several (not all) states is a free variable plus
  a potential ``log(evidence row[state])`` (the Kursk scenario has none of those).

``pm.sample`` then uses PyMC's default compound step: NUTS for the continuous parameters and
BinaryGibbsMetropolis / CategoricalGibbsMetropolis for the discrete states. Question
probabilities are the means of indicators computed from the sampled state paths
(:func:`question_indicators`).

This module is a benchmark baseline only; nothing in the package imports it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.xlogx import xlogy0

from forecast.elicitation import Priors, elicit, reference_log_coefficient
from forecast.engine.exact import evidence_matrices
from forecast.engine.plan import scenario_plan
from forecast.engine.tables import build_tables, node_tables
from forecast.scenario.validated import Question, Scenario


class PtOps:
    """The array module :func:`build_tables` needs, on PyTensor, without ``pt.einsum``.

    ``build_tables`` calls ``xp.einsum`` with three unbatched two-operand patterns, all of
    which are a plain matrix/vector product; ``pt.dot`` compiles much faster than
    ``pt.einsum``. Anything else falls back to ``pt.einsum``.
    """

    _DOT: ClassVar[frozenset[str]] = frozenset({"d,dk->k", "cr,r->c", "cr,rk->ck"})

    @staticmethod
    def einsum(spec: str, *operands: Any) -> Any:
        """``a @ b`` for the patterns build_tables uses (unbatched)."""
        if spec in PtOps._DOT and len(operands) == 2:
            return pt.dot(pt.as_tensor(operands[0]), pt.as_tensor(operands[1]))
        return pt.einsum(spec, *operands)  # pragma: no cover - not used by build_tables

    @staticmethod
    def stack(tensors: list[Any], axis: int = 0) -> Any:
        """``pt.stack``."""
        return pt.stack(tensors, axis=axis)


def state_var(node: str, label: str) -> str:
    """Name of the state variable of a node in a month (``label`` is ``YYYY-MM``)."""
    return f"{node}@{label}"


def initial_var(node: str) -> str:
    """Name of a node's free initial-state variable (month -1)."""
    return f"{node}@initial"


@dataclasses.dataclass
class NaiveModel:
    """The naive model and where each node-month state lives.

    Attributes
    ----------
    model : pm.Model
    states : dict
        ``(node index, month)`` -> ``("free", var name)``, ``("observed", state index)`` or
        ``("constrained", var name)`` (free with a partial-evidence potential).
    n_free_discrete : int
        Number of free discrete (state) variables.
    n_observed : int
        Number of observed node-months.
    """

    model: pm.Model
    states: dict[tuple[int, int], tuple[str, Any]]
    n_free_discrete: int
    n_observed: int


def build_naive_model(
    scenario: Scenario, priors: Priors | None = None, as_of: dt.date | None = None
) -> NaiveModel:
    """Build the naive (state-sampling) PyMC model of a scenario."""
    priors = priors or elicit(scenario)
    layout = node_tables(scenario)
    plan = scenario_plan(scenario)
    matrices = evidence_matrices(scenario, scenario.evidence_as_of(as_of))
    labels = scenario.timeline.labels
    states: dict[tuple[int, int], tuple[str, Any]] = {}
    n_free = n_obs = 0
    with pm.Model() as model:
        params = []
        for rule, prior in zip(scenario.rules, priors.rules, strict=True):
            if prior.is_beta:
                move = pm.Beta(rule.name, alpha=prior.alpha[1], beta=prior.alpha[0])
                q = pt.stack([1.0 - move, move])
            else:
                q = pm.Dirichlet(rule.name, a=prior.alpha)
            if prior.counts is not None:
                counts = np.asarray(prior.counts, dtype=float)
                pm.Potential(
                    f"{rule.name}__reference",
                    reference_log_coefficient(counts) + pt.sum(xlogy0(counts, q)),
                )
            params.append(q)
        tables = [pt.as_tensor(t) for t in build_tables(layout, params, PtOps)]

        sym: dict[tuple[int, int], Any] = {}
        for i, node in enumerate(scenario.nodes):
            init = np.asarray(node.initial, dtype=float)
            if np.count_nonzero(init) == 1:
                sym[(i, -1)] = pt.constant(int(np.argmax(init)), dtype="int64")
            else:
                sym[(i, -1)] = pm.Categorical(initial_var(node.name), p=init)
                n_free += 1
        index = scenario.node_index
        for t in range(scenario.timeline.n_steps):
            for i in plan.update_order:  # same-month (lag 0) parents come first
                node = scenario.nodes[i]
                parents = [sym[(index[p], t - 1 if lag == 1 else t)] for p, lag in node.parents]
                probs = tables[i][(*parents, sym[(i, t - 1)])]
                name = state_var(node.name, labels[t])
                row = matrices[i][t]
                allowed = np.flatnonzero(row > 0)
                if len(allowed) == 1:
                    k = int(allowed[0])
                    pm.Categorical(name, p=probs, observed=k)
                    sym[(i, t)] = pt.constant(k, dtype="int64")
                    states[(i, t)] = ("observed", k)
                    n_obs += 1
                else:
                    var = pm.Categorical(name, p=probs)
                    sym[(i, t)] = var
                    n_free += 1
                    if len(allowed) == node.n_states:
                        states[(i, t)] = ("free", name)
                    else:
                        with np.errstate(divide="ignore"):
                            log_row = pt.constant(np.log(row))
                        pm.Potential(f"{name}__evidence", log_row[var])
                        states[(i, t)] = ("constrained", name)
    return NaiveModel(model, states, n_free, n_obs)


def state_paths(naive: NaiveModel, scenario: Scenario, posterior: Any) -> list[np.ndarray]:
    """Per node, the sampled state path, an int array ``(chain, draw, months)``."""
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    out = []
    for i, _node in enumerate(scenario.nodes):
        path = np.empty((*shape, scenario.timeline.n_steps), dtype=np.int64)
        for t in range(scenario.timeline.n_steps):
            kind, value = naive.states[(i, t)]
            path[..., t] = value if kind == "observed" else posterior[value].values
        out.append(path)
    return out


def question_indicators(
    scenario: Scenario, paths: list[np.ndarray], questions: tuple[Question, ...] | None = None
) -> dict[str, np.ndarray]:
    """Per question, its 0/1 indicator on every sampled path, ``(chain, draw)``.

    ``in_state``: the node is in a target state in the question's month; ``reached``: it is in
    a target state in some month from ``window_start`` to the question's month (the initial
    state does not count, as in the exact engine).
    """
    out = {}
    for q in scenario.questions if questions is None else questions:
        node = scenario.node(q.node)
        target = np.array([s in q.states for s in node.states])
        hit = target[paths[scenario.node_index[q.node]]]
        if q.kind == "in_state":
            out[q.id] = hit[..., q.step].astype(float)
        else:
            out[q.id] = hit[..., q.window_start_step : q.step + 1].any(axis=-1).astype(float)
    return out


def truncate_scenario(scenario: Scenario, months: int) -> Scenario:
    """The scenario cut to its first ``months`` months (same nodes, rules and priors).

    Evidence after the new horizon is dropped, questions after it are dropped, and every
    outcome gets a question at the new horizon (``<outcome>_by_<YYYY_MM>``), as the loader
    does for the real horizon. Built in memory; the scenario file is not touched.
    """
    from forecast.scenario.timeline import Timeline

    tl = scenario.timeline
    if months >= tl.n_steps:
        return scenario
    start = tl.start
    last = start[0] * 12 + (start[1] - 1) + months - 1
    timeline = Timeline(start, (last // 12, last % 12 + 1))
    horizon_date = timeline.month_end_date(months - 1)
    questions = [q for q in scenario.questions if q.step < months]
    seen = {q.id for q in questions}
    for outcome in scenario.outcomes:
        qid = f"{outcome.id}_by_{horizon_date:%Y_%m}"
        if qid in seen:
            continue
        states = (outcome.state,) if isinstance(outcome.state, str) else tuple(outcome.state)
        questions.append(
            Question(
                id=qid,
                text=f"{outcome.label} by {horizon_date}",
                node=outcome.node,
                states=states,
                date=horizon_date,
                kind=outcome.kind,
                window_start=None,
                step=months - 1,
                window_start_step=0,
                resolution=None,
                resolved_on=None,
                resolution_source="",
                outcome=outcome.id,
            )
        )
    evidence = tuple(e for e in scenario.evidence if timeline.contains(e.date))
    return dataclasses.replace(
        scenario, timeline=timeline, questions=tuple(questions), evidence=evidence
    )
