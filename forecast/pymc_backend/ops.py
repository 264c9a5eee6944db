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
from forecast.engine.kernels import loglik_and_grad
from forecast.engine.slots import EntryPairs, likelihood_pairs


class EvidenceLoglik(Op):
    """Log-likelihood of the evidence given the rules' N-month outcome vectors.

    Inputs are the per-node evidence matrices and one outcome vector per rule; outputs are the
    log-likelihood and its gradient with respect to each outcome vector, all computed in the
    compiled kernel (:mod:`forecast.engine.kernels`): tables, forward pass, reverse pass and the
    chain rule back to the parameters. ``grad`` re-uses the outputs, so a
    log-density-and-gradient evaluation runs the pass once, and the PyTensor graph stays a
    handful of nodes that compile in well under a second.
    """

    __props__ = ("key",)

    def __init__(self, engine: ExactEngine, key: str) -> None:
        self.engine = engine
        self.key = key
        self.n_nodes = len(engine.scenario.nodes)
        self.lowered = engine.lowered
        self.initial = engine.initial_flat

    def _pairs(self, evidence: list[np.ndarray]) -> EntryPairs:
        """The evidence's entry pairs, recomputed only when the evidence changed."""
        cached = getattr(self, "_cache", None)
        if cached is None or not all(
            np.array_equal(a, b) for a, b in zip(cached[0], evidence, strict=True)
        ):
            cached = (
                [np.array(e) for e in evidence],
                likelihood_pairs(self.engine.engine_evidence(evidence), self.lowered, self.initial),
            )
            self._cache = cached
        return cached[1]

    def make_node(self, *inputs: Any) -> Apply:
        """Declare inputs (evidence matrices, then outcome vectors) and outputs."""
        inputs = [pt.as_tensor(x, dtype="float64") for x in inputs]
        outputs = [pt.dscalar()] + [x.type() for x in inputs[self.n_nodes :]]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        """Run the compiled pass and the chain rule."""
        evidence, params = list(inputs[: self.n_nodes]), list(inputs[self.n_nodes :])
        loglik, grads = loglik_and_grad(self.lowered, params, self._pairs(evidence), self.initial)
        outputs[0][0] = np.asarray(loglik)
        for k, g in enumerate(grads):
            outputs[k + 1][0] = g

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Outcome vectors affect the log-likelihood; evidence is data."""
        n_out = len(node.outputs)
        return [[False] * n_out for _ in range(self.n_nodes)] + [
            [True] + [False] * (n_out - 1) for _ in node.inputs[self.n_nodes :]
        ]

    def grad(self, inputs: list[Any], output_grads: list[Any]) -> list[Any]:
        """Gradient of the log-likelihood output; the gradients are not differentiated."""
        outputs = self(*inputs)
        g = output_grads[0]
        return [disconnected_type() for _ in range(self.n_nodes)] + [g * d for d in outputs[1:]]


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
        outputs[0][0] = np.array(
            [result.questions.get(q.id, np.nan) for q in questions], dtype=float
        )
        for k, node_ in enumerate(self.engine.scenario.nodes):
            marginal = result.marginals.get(node_.name)
            if marginal is None:
                marginal = np.full((self.engine.scenario.timeline.n_steps, node_.n_states), np.nan)
            outputs[k + 1][0] = np.asarray(marginal, dtype=float)

    def grad(self, inputs: list[Any], output_grads: list[Any]) -> list[Any]:
        """Not differentiable: these are reported quantities, not part of the density."""
        raise NotImplementedError("ExactAnswers is only used for Deterministics")
