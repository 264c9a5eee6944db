"""PyTensor Ops that run the engine.

The evidence log-likelihood with its gradient, and the exact question probabilities and
monthly marginals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from forecast.engine.exact import ExactEngine
from forecast.engine.forward import initial_joint
from forecast.engine.kernels import joint_weights, loglik_and_grad, lower_plan
from forecast.engine.tables import build_tables, params_gradient


class EvidenceLoglik(Op):
    """Log-likelihood of the evidence given the rules' N-month outcome vectors.

    Inputs are the per-node evidence matrices and one outcome vector per rule; outputs are the
    log-likelihood and its gradient with respect to each outcome vector. Tables are built with
    the engine's :func:`~forecast.engine.tables.build_tables`, the pass runs in the compiled
    kernel (:mod:`forecast.engine.kernels`) and the chain rule back to the parameters is
    :func:`~forecast.engine.tables.params_gradient`. ``grad`` re-uses the outputs, so a
    log-density-and-gradient evaluation runs the pass once, and the PyTensor graph stays a
    handful of nodes that compile in well under a second.
    """

    __props__ = ("key",)

    def __init__(self, engine: ExactEngine, key: str) -> None:
        self.engine = engine
        self.key = key
        scenario = engine.scenario
        self.n_nodes = len(scenario.nodes)
        self.lowered = lower_plan(engine.plan, engine.layout, [n.n_states for n in
                                                               scenario.nodes])
        self.initial = np.ascontiguousarray(
            initial_joint(engine.initials, engine.plan, np).ravel(), dtype=float)

    def make_node(self, *inputs: Any) -> Apply:
        """Declare inputs (evidence matrices, then outcome vectors) and outputs."""
        inputs = [pt.as_tensor(x, dtype="float64") for x in inputs]
        outputs = [pt.dscalar()] + [x.type() for x in inputs[self.n_nodes:]]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        """Run the compiled pass and the chain rule."""
        evidence, params = list(inputs[:self.n_nodes]), list(inputs[self.n_nodes:])
        tables = build_tables(self.engine.layout, params, np)
        weights = joint_weights(evidence, self.lowered.state_of)
        loglik, table_grads = loglik_and_grad(self.lowered, tables, weights, self.initial)
        outputs[0][0] = np.asarray(loglik)
        if not np.isfinite(loglik):
            grads = [np.zeros_like(p) for p in params]
        else:
            grads = params_gradient(self.engine.layout, params, table_grads)
        for k, g in enumerate(grads):
            outputs[k + 1][0] = g

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Outcome vectors affect the log-likelihood; evidence is data."""
        n_out = len(node.outputs)
        return ([[False] * n_out for _ in range(self.n_nodes)]
                + [[True] + [False] * (n_out - 1) for _ in node.inputs[self.n_nodes:]])

    def grad(self, inputs: list[Any], output_grads: list[Any]) -> list[Any]:
        """Gradient of the log-likelihood output; the gradients are not differentiated."""
        outputs = self(*inputs)
        g = output_grads[0]
        return ([disconnected_type() for _ in range(self.n_nodes)]
                + [g * d for d in outputs[1:]])


class ExactAnswers(Op):
    """Question probabilities and smoothed monthly marginals from the numpy engine.

    Inputs are the rule parameters (N-month outcome vectors) and the per-node evidence
    matrices; outputs are the question probabilities and one ``(months, states)`` marginal per
    node. Used for Deterministics, which need no gradient.
    """

    __props__ = ("key",)

    def __init__(self, engine: ExactEngine, key: str) -> None:
        self.engine = engine
        self.key = key

    def make_node(self, *inputs: Any) -> Apply:
        """Declare inputs and outputs."""
        inputs = [pt.as_tensor(x, dtype="float64") for x in inputs]
        outputs = [pt.dvector()] + [pt.dmatrix() for _ in self.engine.scenario.nodes]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        """Run the exact engine."""
        n_rules = len(self.engine.scenario.rules)
        params, evidence = list(inputs[:n_rules]), list(inputs[n_rules:])
        result = self.engine.run(params, evidence)
        questions = self.engine.scenario.questions
        outputs[0][0] = np.array([result.questions.get(q.id, np.nan) for q in questions],
                                 dtype=float)
        for k, node_ in enumerate(self.engine.scenario.nodes):
            marginal = result.marginals.get(node_.name)
            if marginal is None:
                marginal = np.full((self.engine.scenario.timeline.n_steps, node_.n_states),
                                   np.nan)
            outputs[k + 1][0] = np.asarray(marginal, dtype=float)

    def grad(self, inputs: list[Any], output_grads: list[Any]) -> list[Any]:
        """Not differentiable: these are reported quantities, not part of the density."""
        raise NotImplementedError("ExactAnswers is only used for Deterministics")
