"""The PyMC model of a scenario: rule parameters and the exact marginal likelihood.

Beta/Dirichlet parameters carry the priors. No discrete state is sampled: the factored forward
algorithm sums them out (compiled kernel in :mod:`forecast.engine.kernels`, same contraction
plan as the numpy engine).

Priors (Beta/Dirichlet parameters), reference-class counts and evidence are ``pm.Data``, so
changing any of them re-uses the compiled model.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.xlogx import xlogy0

from forecast.elicitation import Priors, elicit, reference_log_coefficient
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.pymc_backend.ops import EvidenceLoglik, ExactAnswers
from forecast.spec.scenario import Scenario

logger = logging.getLogger(__name__)

QUESTION_VAR = "question_prob"
EVIDENCE_POTENTIAL = "evidence"


def marginal_var(node: str) -> str:
    """Name of the Deterministic holding a node's monthly state probabilities."""
    return f"p_{node}"


def state_dim(node: str) -> str:
    """Name of a node's state dimension."""
    return f"{node}_state"


def outcome_dim(rule: str) -> str:
    """Name of a Dirichlet rule's outcome dimension."""
    return f"{rule}_outcome"


def evidence_data(node: str) -> str:
    """Name of the data container of a node's evidence matrix."""
    return f"evidence__{node}"


def prior_data(rule: str) -> str:
    """Name of the data container of a rule's Beta/Dirichlet parameters."""
    return f"{rule}__alpha"


def counts_data(rule: str) -> tuple[str, str]:
    """Names of the data containers of a rule's reference-class counts and coefficient."""
    return f"{rule}__counts", f"{rule}__counts_logcoef"


def rule_outcome_vector(model: pm.Model, rule: str) -> Any:
    """The N-month outcome vector ``[stay, *destinations]`` of a rule as a tensor."""
    var = model[rule]
    return pt.stack([1.0 - var, var]) if var.ndim == 0 else var


def build_model(scenario: Scenario, priors: Priors | None = None, as_of: Any = None,
                engine: ExactEngine | None = None) -> pm.Model:
    """Build the PyMC model of a scenario.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    priors : Priors, optional
        Defaults to the priors elicited from the scenario file.
    as_of : date, optional
        Use only evidence known on or before this date.
    engine : ExactEngine, optional
        The numpy engine to share (built if not given).

    Returns
    -------
    pm.Model
        Free variables: one Beta (single destination) or Dirichlet per rule, named after the
        rule. Potentials: ``evidence`` (the exact log-likelihood) and ``<rule>__reference``
        (historical counts). Deterministics: ``question_prob`` (dim ``question``) and
        ``p_<node>`` (dims ``month``, ``<node>_state``).
    """
    priors = priors or elicit(scenario)
    engine = engine or ExactEngine(scenario)
    coords: dict[str, list[str]] = {
        "month": scenario.timeline.labels,
        "question": [q.id for q in scenario.questions],
    }
    for node in scenario.nodes:
        coords[state_dim(node.name)] = list(node.states)
    for prior in priors.rules:
        if not prior.is_beta:
            coords[outcome_dim(prior.rule)] = list(prior.labels)
    matrices = evidence_matrices(scenario, scenario.evidence_as_of(as_of))

    with pm.Model(coords=coords) as model:
        params = []
        for rule, prior in zip(scenario.rules, priors.rules, strict=True):
            alpha = pm.Data(prior_data(rule.name), prior.alpha)
            if prior.is_beta:
                move = pm.Beta(rule.name, alpha=alpha[1], beta=alpha[0])
                q = pt.stack([1.0 - move, move])
            else:
                q = pm.Dirichlet(rule.name, a=alpha, dims=outcome_dim(rule.name))
            counts = np.zeros(len(prior.alpha)) if prior.counts is None else prior.counts
            counts_name, coef_name = counts_data(rule.name)
            k = pm.Data(counts_name, counts)
            coef = pm.Data(coef_name, reference_log_coefficient(counts))
            pm.Potential(f"{rule.name}__reference", coef + pt.sum(xlogy0(k, q)))
            params.append(q)
        evidence = [
            pm.Data(evidence_data(node.name), m, dims=("month", state_dim(node.name)))
            for node, m in zip(scenario.nodes, matrices, strict=True)
        ]
        loglik_op = EvidenceLoglik(engine, key=f"{scenario.id}:{scenario.hash}")
        pm.Potential(EVIDENCE_POTENTIAL, loglik_op(*evidence, *params)[0])
        answers_op = ExactAnswers(engine, key=f"{scenario.id}:{scenario.hash}")
        answers = answers_op(*params, *evidence)
        if scenario.questions:
            pm.Deterministic(QUESTION_VAR, answers[0], dims="question")
        for k, node in enumerate(scenario.nodes):
            pm.Deterministic(marginal_var(node.name), answers[k + 1],
                             dims=("month", state_dim(node.name)))
    return model
