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

import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.xlogx import xlogy0

from forecast.elicitation import Priors, elicit
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.pymc_backend.layout import (
    EVIDENCE_POTENTIAL,
    QUESTION_VAR,
    evidence_data,
    group_data,
    marginal_var,
    model_coords,
    parameter_dims,
    parameter_groups,
    state_dim,
)
from forecast.pymc_backend.ops import EvidenceLoglik, ExactAnswers
from forecast.pymc_import import import_pytensor
from forecast.scenario.validated import Scenario

logger = logging.getLogger(__name__)


def rule_outcome_vectors(model: pm.Model, priors: Priors) -> dict[str, Any]:
    """Each rule's N-month outcome vector ``[stay, *destinations]`` as a tensor of the model."""
    out = {}
    for group in parameter_groups(priors):
        var = model[group.name]
        matrix = pt.stack([1.0 - var, var], axis=1) if group.is_beta else var
        for j, rule in enumerate(group.rules):
            out[rule] = matrix[j]
    return out


def build_model(
    scenario: Scenario,
    priors: Priors | None = None,
    as_of: Any = None,
    engine: ExactEngine | None = None,
) -> pm.Model:
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
    import_pytensor()  # before any graph compiles: PyTensor links the system OpenBLAS
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
            pm.Potential(
                f"{group.name}__reference",
                pt.sum(coef)
                + pt.sum(
                    xlogy0(
                        counts,
                        pt.stack([1.0 - model[group.name], model[group.name]], axis=1)
                        if group.is_beta
                        else model[group.name],
                    )
                ),
            )
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
            pm.Deterministic(
                marginal_var(node.name), answers[k + 1], dims=("month", state_dim(node.name))
            )
    return model
