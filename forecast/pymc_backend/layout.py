"""Names and layout of the model's variables, shared by every backend (no PyMC import).

The PyMC model (:mod:`forecast.pymc_backend.model`), the compiled density and the nutpie
model all name their variables, dimensions and data containers through this module, so a
fit made with either sampler has the same variables and coordinates, and the nutpie path
never imports PyMC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.elicitation import Priors, reference_log_coefficient
from forecast.scenario.validated import Scenario

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
    counts = np.stack(
        [
            np.zeros(group.width) if priors[r].counts is None else priors[r].counts
            for r in group.rules
        ]
    )
    coef = np.array([reference_log_coefficient(c) for c in counts])
    names = group.data_names
    return {names[0]: alpha, names[1]: counts, names[2]: coef}


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
