"""The PyMC model's log-density on the sampler's unconstrained space, compiled with numba.

:func:`forecast.pymc_backend.model.build_model` states the model; this module evaluates the
very same density (priors, Jacobians of PyMC's default transforms, reference-class counts and
the exact evidence likelihood) and its gradient in one numba call, cached on disk. Nothing is
compiled per scenario, per prior or per evidence set: the scenario enters as arrays, so a
changed prior or new evidence is a new array, and a fresh process loads the machine code from
the numba cache instead of compiling a PyTensor graph. A test checks the value and gradient
against ``model.compile_logp`` / ``compile_dlogp`` at random points.

The unconstrained vector ``x`` follows PyMC's value variables in order: for each parameter
group (:func:`forecast.pymc_backend.layout.parameter_groups`), the log-odds of a vector Beta
(one entry per rule) or the ``simplex`` transform of a batched Dirichlet (``width - 1``
entries per rule, C order).

Both transforms are a softmax of ``z``: ``z = (0, x)`` for the Beta (whose outcome vector is
``(stay, move)``), ``z = (x, -sum(x))`` for the Dirichlet. With ``q = softmax(z)`` the prior
plus Jacobian is ``sum_i alpha_i log q_i`` up to constants (the log-odds Jacobian is
``log q_0 + log q_1``; the simplex one is ``log N + sum_i log q_i``), so every rule adds
``const + sum_i (alpha_i + counts_i) log q_i`` and its gradient in ``z`` is
``w_j - q_j sum(w) + q_j (G_j - q . G)`` where ``w = alpha + counts`` and ``G`` is the gradient of
the evidence log-likelihood in ``q``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy import special

from forecast.elicitation import Priors, reference_log_coefficient
from forecast.engine.compile_cache import cached
from forecast.engine.exact import ExactEngine
from forecast.engine.kernels import (
    LoweredPlan,
    flat_tables,
    loglik_and_table_grad,
    max_entry,
    params_grad,
)
from forecast.engine.slots import likelihood_pairs, rules_in_pairs
from forecast.pymc_backend.layout import ParameterGroup, parameter_groups

LOG_ODDS = 0
SIMPLEX = 1


@dataclass(frozen=True)
class DensityLayout:
    """Where each rule's parameters live, in ``x`` and in the kernels' parameter vector.

    Rules are listed in the order of PyMC's value variables (group by group).

    Attributes
    ----------
    kind : ndarray of int64
        ``LOG_ODDS`` (vector Beta) or ``SIMPLEX`` (Dirichlet) per rule.
    width : ndarray of int64
        Outcomes per rule (2 for a Beta).
    x_start : ndarray of int64
        Offset of the rule's unconstrained values in ``x``.
    q_start : ndarray of int64
        Offset of the rule's outcome vector in the kernels' flat parameter vector.
    ndim : int
        Length of ``x``.
    """

    kind: np.ndarray
    width: np.ndarray
    x_start: np.ndarray
    q_start: np.ndarray
    ndim: int


def density_layout(
    groups: list[ParameterGroup], rule_names: list[str], lowered: LoweredPlan
) -> DensityLayout:
    """Lay out the unconstrained vector for the given parameter groups."""
    order = {name: k for k, name in enumerate(rule_names)}
    kind, width, x_start, q_start = [], [], [], []
    offset = 0
    for group in groups:
        for rule in group.rules:
            kind.append(LOG_ODDS if group.is_beta else SIMPLEX)
            width.append(group.width)
            x_start.append(offset)
            q_start.append(int(lowered.rule_param_start[order[rule]]))
            offset += 1 if group.is_beta else group.width - 1
    as_int = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    return DensityLayout(as_int(kind), as_int(width), as_int(x_start), as_int(q_start), offset)


@dataclass(frozen=True)
class PriorArrays:
    """Priors in the layout's rule order: ``alpha + counts`` and the constant of each rule."""

    weight: np.ndarray
    constant: float


def prior_arrays(groups: list[ParameterGroup], priors: Priors) -> PriorArrays:
    """Flatten the priors' parameters and reference counts for the kernel.

    The constant gathers the Beta/Dirichlet normalisers, the simplex Jacobians' ``log N`` and
    the multinomial coefficients of the reference counts, so the density equals PyMC's.
    """
    weight, constant = [], 0.0
    for group in groups:
        for rule in group.rules:
            prior = priors[rule]
            alpha = np.asarray(prior.alpha, dtype=float)
            counts = (
                np.zeros_like(alpha)
                if prior.counts is None
                else np.asarray(prior.counts, dtype=float)
            )
            weight.append(alpha + counts)
            constant += math.lgamma(alpha.sum()) - sum(math.lgamma(a) for a in alpha)
            constant += reference_log_coefficient(counts)
            if not group.is_beta:
                constant += math.log(group.width)
    return PriorArrays(np.concatenate(weight) if weight else np.zeros(0), constant)


@cached(numba.njit(cache=True, nogil=True, inline="always"))
def _softmax_z(x, kind, width, x_start, k, z):  # pragma: no cover
    """Fill ``z[:width]`` with the rule's softmax inputs."""
    n = width[k]
    x0 = x_start[k]
    if kind[k] == LOG_ODDS:
        z[0] = 0.0
        z[1] = x[x0]
    else:
        total = 0.0
        for j in range(n - 1):
            z[j] = x[x0 + j]
            total += x[x0 + j]
        z[n - 1] = -total
    return n


@cached(numba.njit(cache=True, nogil=True, inline="always"))
def _log_softmax(z, n, log_q):  # pragma: no cover
    top = z[0]
    for j in range(1, n):
        top = max(top, z[j])
    acc = 0.0
    for j in range(n):
        acc += math.exp(z[j] - top)
    lse = top + math.log(acc)
    for j in range(n):
        log_q[j] = z[j] - lse


@cached(numba.njit(cache=True, nogil=True))
def flat_outcomes(x, kind, width, x_start, q_start, n_params):  # pragma: no cover
    """The kernels' flat parameter vector (every rule's outcome vector) at ``x``."""
    q = np.zeros(n_params)
    z = np.empty(max_entry(width))
    log_q = np.empty_like(z)
    for k in range(kind.shape[0]):
        n = _softmax_z(x, kind, width, x_start, k, z)
        _log_softmax(z, n, log_q)
        for j in range(n):
            q[q_start[k] + j] = math.exp(log_q[j])
    return q


# inlined into the sampler's callback (forecast.pymc_backend.nutpie_model), its only caller:
# compiled on its own as well, it would cost a first fit about a second more
@numba.njit(nogil=True, inline="always")
def unconstrained_logp_dlogp(
    x,
    kind,
    width,
    x_start,
    q_start,
    weight,
    constant,
    n_params,
    fixed,
    rule_param_start,
    rule_months,
    rule_cell_start,
    cell_row_start,
    cell_old,
    rule_dest_start,
    dest_state,
    initial,
    pair_start,
    pair_src,
    pair_cell,
    pair_out,
    pair_weight,
    slot_start,
    slot_entry,
    n_ops,
):  # pragma: no cover
    """Unconstrained log-density and its gradient (see the module docstring)."""
    grad = np.zeros(x.shape[0])
    q = flat_outcomes(x, kind, width, x_start, q_start, n_params)
    table = flat_tables(
        q,
        fixed,
        rule_param_start,
        rule_months,
        rule_cell_start,
        cell_row_start,
        cell_old,
        rule_dest_start,
        dest_state,
    )
    loglik, table_grad = loglik_and_table_grad(
        table,
        initial,
        pair_start,
        pair_src,
        pair_cell,
        pair_out,
        pair_weight,
        slot_start,
        slot_entry,
        n_ops,
        True,
    )
    if not np.isfinite(loglik):
        return -np.inf, grad
    g_q = params_grad(
        q,
        table_grad,
        rule_param_start,
        rule_months,
        rule_cell_start,
        cell_row_start,
        cell_old,
        rule_dest_start,
        dest_state,
    )
    logp = constant + loglik
    z = np.empty(max_entry(width))
    log_q = np.empty_like(z)
    g_z = np.empty_like(z)
    w0 = 0
    for k in range(kind.shape[0]):
        n = _softmax_z(x, kind, width, x_start, k, z)
        _log_softmax(z, n, log_q)
        q0 = q_start[k]
        total_w = 0.0
        mean_g = 0.0
        for j in range(n):
            w = weight[w0 + j]
            if w != 0.0:
                logp += w * log_q[j]
            total_w += w
            mean_g += q[q0 + j] * g_q[q0 + j]
        for j in range(n):
            qj = q[q0 + j]
            g_z[j] = weight[w0 + j] - qj * total_w + qj * (g_q[q0 + j] - mean_g)
        xs = x_start[k]
        if kind[k] == LOG_ODDS:
            grad[xs] = g_z[1]
        else:
            for j in range(n - 1):
                grad[xs + j] = g_z[j] - g_z[n - 1]
        w0 += n
    return logp, grad


class CompiledDensity:
    """A scenario model's unconstrained log-density and gradient, ready for a sampler.

    Parameters
    ----------
    engine : ExactEngine
        The scenario's exact engine (its plan and tables).
    priors : Priors
        Priors of every free rule.

    Notes
    -----
    :meth:`set_priors` and :meth:`set_evidence` swap arrays; nothing is recompiled.
    """

    def __init__(self, engine: ExactEngine, priors: Priors) -> None:
        scenario = engine.scenario
        self.scenario = scenario
        self.engine = engine
        self.lowered = engine.lowered
        self.initial = engine.initial_flat
        self.groups = parameter_groups(priors)
        self.layout = density_layout(self.groups, [r.name for r in scenario.rules], self.lowered)
        self.n_params = int(self.lowered.rule_param_start[-1])
        self.n_ops = int(self.lowered.out_size.shape[0])
        self.set_priors(priors)
        self.set_evidence(engine.evidence())

    @property
    def ndim(self) -> int:
        """Number of unconstrained values."""
        return self.layout.ndim

    def set_priors(self, priors: Priors) -> None:
        """Use new priors for the same rules."""
        if [g.rules for g in parameter_groups(priors)] != [g.rules for g in self.groups]:
            raise ValueError("the priors must cover the same rules with the same outcomes")
        self.prior = prior_arrays(self.groups, priors)

    def set_evidence(self, evidence: list[np.ndarray]) -> None:
        """Use new evidence matrices (one ``(months, states)`` array per node)."""
        self.pairs = likelihood_pairs(
            self.engine.engine_evidence(evidence), self.lowered, self.initial
        )

    def rules_without_evidence(self) -> list[str]:
        """The rules the current evidence's likelihood does not read (see :func:`rules_in_pairs`).

        Their posterior is their prior (updated by any reference counts), independent of the
        other rules', so it can be drawn exactly instead of by the sampler.
        """
        reached = rules_in_pairs(self.lowered, self.pairs)
        return [
            rule.name for rule, hit in zip(self.scenario.rules, reached, strict=True) if not hit
        ]

    def logp_dlogp(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log-density (with PyMC's Jacobians and constants) and its gradient at ``x``.

        Runs the compiled callback the sampler calls
        (:func:`forecast.pymc_backend.nutpie_model.call_logp`), so the density is compiled once.
        """
        from forecast.pymc_backend.nutpie_model import call_logp

        return call_logp(self, x)

    def constrained(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The model's free variables (``move_prob``, ``outcome<L>``) at ``x``.

        ``x`` may carry leading axes (``(chain, draw, ndim)`` for a whole trace); each
        variable gets the same leading axes. A Beta group's variable is each rule's
        probability of moving, ``softmax(0, x)[1]``; a Dirichlet group's is each rule's
        outcome vector, ``softmax(x, -sum(x))``: the outcome vectors the kernels use
        (:func:`flat_outcomes`, tested equal).
        """
        x = np.asarray(x, dtype=float)
        if x.ndim == 0 or x.shape[-1] != self.ndim:
            raise ValueError(
                f"x must have {self.ndim} values on its last axis, not shape {x.shape}"
            )
        lead = x.shape[:-1]
        out, start = {}, 0
        for group in self.groups:
            n = len(group.rules)
            if group.is_beta:
                out[group.name] = special.expit(x[..., start : start + n])
                start += n
            else:
                size = n * (group.width - 1)
                z = x[..., start : start + size].reshape(*lead, n, group.width - 1)
                z = np.concatenate([z, -z.sum(axis=-1, keepdims=True)], axis=-1)
                out[group.name] = special.softmax(z, axis=-1)
                start += size
        return out

    def unconstrained(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`constrained` (PyMC's ``logodds`` and ``simplex`` transforms)."""
        parts = []
        for group in self.groups:
            value = np.asarray(values[group.name], dtype=float)
            if group.is_beta:
                parts.append(np.log(value) - np.log1p(-value))
            else:
                log_value = np.log(value)
                parts.append((log_value[:, :-1] - log_value.mean(axis=1, keepdims=True)).ravel())
        return np.concatenate(parts) if parts else np.zeros(0)
