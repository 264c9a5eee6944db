"""The exact forward-backward algorithm over the factored joint state, for numpy or PyTensor.

Every function takes the array module as ``xp`` so that the numpy engine and the PyMC model
run the same algorithm. Arrays may carry a leading batch axis (parameter draws) when
``batched`` is true; evidence is shared across the batch.

Every month uses the same ``tables`` unless ``month_tables`` is given: then month ``t``'s
transition (from month ``t - 1`` into month ``t``) uses ``month_tables[t]``, a full list of
node tables (see :func:`forecast.engine.exact.month_tables`; interventions replace a node's
table from a month on).
"""

from __future__ import annotations

from typing import Any

from forecast.engine.plan import BATCH, StepPlan


def _b(letters: str, batched: bool) -> str:
    return BATCH + letters if batched else letters


def tables_at(tables: list[Any], month_tables: list[list[Any]] | None, t: int) -> list[Any]:
    """The node tables of month ``t``'s transition: ``month_tables[t]``, else ``tables``."""
    return tables if month_tables is None else month_tables[t]


def initial_joint(initials: list[Any], plan: StepPlan, xp: Any) -> Any:
    """Joint distribution of month 0 as the product of each node's initial distribution."""
    spec = ",".join(plan.axes) + "->" + plan.axes
    return xp.einsum(spec, *initials[: len(plan.axes)])


def transition(
    joint: Any, tables: list[Any], plan: StepPlan, xp: Any, batched: bool = False
) -> Any:
    """Apply one month's transition to a joint tensor, node by node."""
    for op in plan.contractions:
        table_batched = batched and tables[op.node].ndim > len(op.table)
        spec = f"{_b(op.inputs, batched)},{_b(op.table, table_batched)}->{_b(op.output, batched)}"
        joint = xp.einsum(spec, joint, tables[op.node])
    return joint


def transition_adjoint(
    message: Any, tables: list[Any], plan: StepPlan, xp: Any, batched: bool = False
) -> Any:
    """Apply the transpose of one month's transition (the backward message update)."""
    for op in reversed(plan.contractions):
        table_batched = batched and tables[op.node].ndim > len(op.table)
        spec = f"{_b(op.output, batched)},{_b(op.table, table_batched)}->{_b(op.inputs, batched)}"
        message = xp.einsum(spec, message, tables[op.node])
    return message


def weigh(
    joint: Any,
    evidence_t: list[Any],
    plan: StepPlan,
    xp: Any,
    batched: bool = False,
    tables: list[Any] | None = None,
) -> Any:
    """Multiply the joint by each node's evidence likelihood vector for one month.

    A folded node (:attr:`StepPlan.factors`) multiplies in its table summed against its
    evidence, ``sum_k table[parents, 0, k] * evidence[k]``, so ``tables`` are needed then.
    """
    kept = len(plan.axes)
    spec = f"{_b(plan.axes, batched)}," + ",".join(plan.axes) + f"->{_b(plan.axes, batched)}"
    joint = xp.einsum(spec, joint, *evidence_t[:kept])
    if not plan.factors:
        return joint
    assert tables is not None, "a plan with folded nodes weighs with their tables"
    # the factors name the nodes' new axes; after the month these are the joint's axes
    rename = dict(zip(plan.contractions[-1].output, plan.axes, strict=True))
    for op in plan.factors:
        table = tables[op.node][..., 0, :]  # the table ignores the old state
        table_batched = batched and table.ndim > len(op.table) - 1
        letters = "".join(rename[c] for c in op.table[:-2]) + op.table[-1]
        spec = (
            f"{_b(plan.axes, batched)},{_b(letters, table_batched)},{op.table[-1]}"
            f"->{_b(plan.axes, batched)}"
        )
        joint = xp.einsum(spec, joint, table, evidence_t[op.node])
    return joint


def total(joint: Any, plan: StepPlan, xp: Any, batched: bool = False) -> Any:
    """Sum of a joint tensor over all node axes (per batch row when batched)."""
    return xp.einsum(f"{_b(plan.axes, batched)}->{BATCH if batched else ''}", joint)


def scale(joint: Any, by: Any, batched: bool) -> Any:
    """Divide a joint tensor by a scalar (or a per-batch vector)."""
    if not batched:
        return joint / by
    return joint / by.reshape((-1,) + (1,) * (joint.ndim - 1))


def forward_step(
    alpha: Any,
    evidence_t: list[Any],
    tables: list[Any],
    plan: StepPlan,
    xp: Any,
    batched: bool = False,
) -> tuple[Any, Any]:
    """One month of the forward pass: transition, weigh by evidence, normalise."""
    moved = transition(alpha, tables, plan, xp, batched)
    joint = weigh(moved, evidence_t, plan, xp, batched, tables)
    norm = total(joint, plan, xp, batched)
    return scale(joint, norm, batched), norm


def backward_step(
    beta: Any,
    evidence_t: list[Any],
    norm_t: Any,
    tables: list[Any],
    plan: StepPlan,
    xp: Any,
    batched: bool = False,
) -> Any:
    """One month of the backward pass: from the message of month t to that of month t - 1."""
    message = weigh(beta, evidence_t, plan, xp, batched, tables)
    return scale(transition_adjoint(message, tables, plan, xp, batched), norm_t, batched)


def masked_step(
    joint: Any,
    evidence_t: list[Any],
    norm_t: Any,
    outside: Any,
    node: int,
    tables: list[Any],
    plan: StepPlan,
    xp: Any,
    batched: bool = False,
) -> Any:
    """One month of a pass that also requires ``node`` to be outside the target states.

    It is scaled by the unmasked pass's normaliser, so that joining it to the backward
    message gives a probability given all the evidence.
    """
    masked = list(evidence_t)
    masked[node] = masked[node] * outside
    moved = transition(joint, tables, plan, xp, batched)
    return scale(weigh(moved, masked, plan, xp, batched, tables), norm_t, batched)


def start_joint(
    initials: list[Any], tables: list[Any], plan: StepPlan, xp: Any, batched: bool = False
) -> Any:
    """Joint distribution just before month 0: the product of the nodes' initial states.

    Month 0 is reached by one transition from it, so same-month edges act in month 0 too and a
    one-month scenario is an ordinary Bayesian network.
    """
    joint = initial_joint(initials, plan, xp)
    if batched:
        joint = xp.einsum(
            f"{plan.axes},{BATCH}->{BATCH}{plan.axes}", joint, xp.ones(tables_batch(tables, plan))
        )
    return joint


def forward(
    initials: list[Any],
    tables: list[Any],
    evidence: list[list[Any]],
    plan: StepPlan,
    xp: Any,
    batched: bool = False,
    month_tables: list[list[Any]] | None = None,
) -> tuple[list[Any], list[Any]]:
    """Filtered joints and normalisers for every month (a Python loop over months).

    Returns
    -------
    alphas : list
        ``alphas[t]`` is P(state at t | evidence up to t).
    norms : list
        ``norms[t]`` is P(evidence at t | evidence before t); the evidence log-likelihood is
        the sum of their logs.
    """
    alpha = start_joint(initials, tables, plan, xp, batched)
    alphas, norms = [], []
    for t, evidence_t in enumerate(evidence):
        alpha, norm = forward_step(
            alpha, evidence_t, tables_at(tables, month_tables, t), plan, xp, batched
        )
        alphas.append(alpha)
        norms.append(norm)
    return alphas, norms


def tables_batch(tables: list[Any], plan: StepPlan) -> int:
    """Batch size of batched tables (1 when no table has a batch axis)."""
    for op in plan.operations:
        table = tables[op.node]
        if table.ndim > len(op.table):
            return table.shape[0]
    return 1


def backward(
    tables: list[Any],
    evidence: list[list[Any]],
    norms: list[Any],
    plan: StepPlan,
    xp: Any,
    batched: bool = False,
    like: Any = None,
    month_tables: list[list[Any]] | None = None,
) -> list[Any]:
    """Scaled backward messages: ``alphas[t] * betas[t]`` is P(state at t | all evidence)."""
    beta = xp.ones_like(like)
    betas = [beta]
    for t in range(len(evidence) - 1, 0, -1):
        beta = backward_step(
            beta, evidence[t], norms[t], tables_at(tables, month_tables, t), plan, xp, batched
        )
        betas.append(beta)
    return betas[::-1]


def node_marginal(joint: Any, axis: int, plan: StepPlan, xp: Any, batched: bool = False) -> Any:
    """Marginal over one node's states of a joint tensor."""
    return xp.einsum(f"{_b(plan.axes, batched)}->{_b(plan.axes[axis], batched)}", joint)


def never_in(
    initials: list[Any],
    alphas: list[Any],
    betas: list[Any],
    tables: list[Any],
    evidence: list[list[Any]],
    norms: list[Any],
    plan: StepPlan,
    node: int,
    outside: Any,
    start: int,
    stop: int,
    xp: Any,
    batched: bool = False,
    month_tables: list[list[Any]] | None = None,
) -> Any:
    """P(node is never in the target states during months ``start..stop`` | all evidence).

    ``outside`` is the indicator vector of the states outside the target set. The pass starts
    from the filtered joint before ``start`` and is joined to the backward message at ``stop``.
    """
    joint = start_joint(initials, tables, plan, xp, batched) if start == 0 else alphas[start - 1]
    for t in range(start, stop + 1):
        joint = masked_step(
            joint,
            evidence[t],
            norms[t],
            outside,
            node,
            tables_at(tables, month_tables, t),
            plan,
            xp,
            batched,
        )
    return total(joint * betas[stop], plan, xp, batched)
