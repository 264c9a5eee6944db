"""The PyMC model of a scenario: rule parameters and the exact marginal likelihood.

Beta/Dirichlet parameters carry the priors. No discrete state is sampled: the factored forward
algorithm sums them out (compiled kernel in :mod:`forecast.engine.kernels`, same contraction
plan as the numpy engine).

Priors (Beta/Dirichlet parameters), reference-class counts and evidence are ``pm.Data``, so
changing any of them re-uses the compiled model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


def evidence_data(node: str) -> str:
    """Name of the data container of a node's evidence matrix."""
    return f"evidence__{node}"


@dataclass(frozen=True)
class ParameterGroup:
    """Rules whose parameters share one vectorised random variable.

    Single-destination rules share a vector Beta (``move_prob``, the probability of moving
    within N months); Dirichlet rules with the same number of outcomes share a batched
    Dirichlet (``outcome<L>``). One variable per group keeps the compiled graph small.
    """

    name: str
    rules: tuple[str, ...]
    width: int
    is_beta: bool

    @property
    def rule_dim(self) -> str:
        """Dimension listing the group's rules."""
        return f"{self.name}_rule"

    @property
    def outcome_dim(self) -> str:
        """Dimension of a Dirichlet group's outcomes (``stay``, ``to1``, ...)."""
        return f"{self.name}_outcome"

    @property
    def data_names(self) -> tuple[str, str, str]:
        """Names of the prior parameters, reference counts and count coefficients."""
        return f"{self.name}__alpha", f"{self.name}__counts", f"{self.name}__counts_logcoef"


def parameter_groups(priors: Priors) -> list[ParameterGroup]:
    """Group the rules of a scenario's priors into vectorised variables."""
    groups = []
    beta = tuple(r.rule for r in priors.rules if r.is_beta)
    if beta:
        groups.append(ParameterGroup("move_prob", beta, 2, True))
    for width in sorted({len(r.alpha) for r in priors.rules if not r.is_beta}):
        rules = tuple(r.rule for r in priors.rules if not r.is_beta and len(r.alpha) == width)
        groups.append(ParameterGroup(f"outcome{width}", rules, width, False))
    return groups


def group_data(group: ParameterGroup, priors: Priors) -> dict[str, np.ndarray]:
    """Values of a group's data containers for the given priors."""
    alpha = np.stack([priors[r].alpha for r in group.rules])
    counts = np.stack([np.zeros(group.width) if priors[r].counts is None else priors[r].counts
                       for r in group.rules])
    coef = np.array([reference_log_coefficient(c) for c in counts])
    names = group.data_names
    return {names[0]: alpha, names[1]: counts, names[2]: coef}


def rule_outcome_vectors(model: pm.Model, priors: Priors) -> dict[str, Any]:
    """Each rule's N-month outcome vector ``[stay, *destinations]`` as a tensor of the model."""
    out = {}
    for group in parameter_groups(priors):
        var = model[group.name]
        matrix = pt.stack([1.0 - var, var], axis=1) if group.is_beta else var
        for j, rule in enumerate(group.rules):
            out[rule] = matrix[j]
    return out


def parameter_dims(group: ParameterGroup) -> tuple[str, ...]:
    """Dimensions of a parameter group's variable."""
    return (group.rule_dim,) if group.is_beta else (group.rule_dim, group.outcome_dim)


def model_coords(scenario: Scenario, priors: Priors) -> dict[str, list[str]]:
    """Coordinates of the model's dimensions (months, questions, states, rules, outcomes)."""
    coords: dict[str, list[str]] = {
        "month": scenario.timeline.labels,
        "question": [q.id for q in scenario.questions],
    }
    for node in scenario.nodes:
        coords[state_dim(node.name)] = list(node.states)
    for group in parameter_groups(priors):
        coords[group.rule_dim] = list(group.rules)
        if not group.is_beta:
            coords[group.outcome_dim] = ["stay", *(f"to{k}" for k in range(1, group.width))]
    return coords


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
        Free variables: the vector Beta ``move_prob`` (single-destination rules) and batched
        Dirichlets ``outcome<L>`` (see :func:`parameter_groups`). Potentials: ``evidence`` (the
        exact log-likelihood) and ``<group>__reference`` (historical counts).
        Deterministics: ``question_prob`` (dim ``question``) and ``p_<node>`` (dims
        ``month``, ``<node>_state``).
    """
    priors = priors or elicit(scenario)
    engine = engine or ExactEngine(scenario)
    coords = model_coords(scenario, priors)
    groups = parameter_groups(priors)
    matrices = evidence_matrices(scenario, scenario.evidence_as_of(as_of))

    with pm.Model(coords=coords) as model:
        for group in groups:
            values = group_data(group, priors)
            alpha_name, counts_name, coef_name = group.data_names
            alpha = pm.Data(alpha_name, values[alpha_name])
            if group.is_beta:
                pm.Beta(group.name, alpha=alpha[:, 1], beta=alpha[:, 0], dims=group.rule_dim)
            else:
                pm.Dirichlet(group.name, a=alpha, dims=parameter_dims(group))
            counts = pm.Data(counts_name, values[counts_name])
            coef = pm.Data(coef_name, values[coef_name])
            pm.Potential(f"{group.name}__reference", pt.sum(coef) + pt.sum(xlogy0(
                counts, pt.stack([1.0 - model[group.name], model[group.name]], axis=1)
                if group.is_beta else model[group.name])))
        by_rule = rule_outcome_vectors(model, priors)
        params = [by_rule[rule.name] for rule in scenario.rules]
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
