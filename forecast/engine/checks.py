"""Checks of a scenario that need the engine: its size, and evidence no parameters explain."""

from __future__ import annotations

import os
import re

import numpy as np

from forecast import settings
from forecast.engine.exact import ExactEngine, central_params
from forecast.engine.plan import MAX_NODES, SizeEstimate, scenario_size
from forecast.engine.static import static_network
from forecast.errors import Problem, ScenarioError
from forecast.scenario.validated import Scenario


def memory_limit() -> int:
    """Bytes the engine may use.

    ``settings.ENGINE_MEMORY_BYTES``, or the machine's physical memory when that is less.
    """
    limit = settings.ENGINE_MEMORY_BYTES
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return limit
    return min(limit, physical) if physical > 0 else limit


def memory_text(n: float) -> str:
    """A number of bytes in the largest binary unit under it (``1.5 GiB``)."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{int(n)} bytes"


def model_size(scenario: Scenario) -> SizeEstimate:
    """The scenario's size and the memory a fit with the default settings needs.

    An upper bound (:func:`forecast.engine.plan.size_estimate`), with ``settings.DRAWS *
    CHAINS`` draws and one thread per CPU.
    """
    return scenario_size(scenario, settings.DRAWS * settings.CHAINS, os.cpu_count() or 1)


def _nodes_at(scenario: Scenario) -> tuple[str, str, int | None]:
    """File, field and line of the scenario's ``nodes`` (line: the first ``nodes:``)."""
    file = str(scenario.path) if scenario.path is not None else scenario.evidence_where[""][0]
    found = re.search(r"^nodes\s*:", scenario.text, flags=re.MULTILINE)
    line = scenario.text.count("\n", 0, found.start()) + 1 if found else None
    return file, "nodes", line if scenario.path is not None else None


def size_problems(scenario: Scenario) -> list[Problem]:
    """The scenario is larger than the engine can plan, or than the memory it may use.

    The engine plans at most :data:`forecast.engine.plan.MAX_NODES` nodes (two einsum
    letters each, old and new state); its memory estimate is :func:`model_size`, refused
    above :func:`memory_limit`.
    """
    file, field, line = _nodes_at(scenario)
    network = static_network(scenario)
    if network is not None:  # variable elimination: its cost is the width, not the joint
        largest = network.width()
        limit = memory_limit()
        if 8 * largest <= limit:
            return []
        return [
            Problem(
                file,
                field,
                f"the network's variable elimination would make a factor of {largest:,} "
                f"entries, about {memory_text(8 * largest)}, more than the "
                f"{memory_text(limit)} it may use",
                "fewer parents per node or fewer states, so that no elimination step joins "
                "that many states",
                line,
            )
        ]
    size = model_size(scenario)
    described = f"{size.nodes} nodes with {size.joint:,} joint states over {size.months} months"
    if size.nodes > MAX_NODES:
        return [
            Problem(
                file,
                field,
                f"the scenario has {described}; the engine handles at most {MAX_NODES} "
                "nodes (each needs two axis letters of the monthly update's einsum plan, "
                "forecast.engine.plan.MAX_NODES)",
                f"at most {MAX_NODES} nodes: merge nodes, drop nodes that no question, "
                "outcome or evidence needs, or split the scenario in two",
                line,
            )
        ]
    limit = memory_limit()
    if size.nbytes <= limit:
        return []
    return [
        Problem(
            file,
            field,
            f"the scenario is too large to fit: {described} (largest contraction "
            f"{size.largest:,} entries); the engine would need about {memory_text(size.nbytes)}, "
            f"more than the {memory_text(limit)} it may use",
            f"a scenario whose engine needs at most {memory_text(limit)} "
            "(forecast.settings.ENGINE_MEMORY_BYTES, or the machine's memory if less): "
            "fewer nodes or states per node, fewer parents per node, or a shorter horizon",
            line,
        )
    ]


def impossible_evidence(scenario: Scenario) -> list[Problem]:
    """Evidence that has probability zero under the scenario, for every parameter value.

    Transition probabilities allowed by a rule are strictly between 0 and 1 for every
    parameter value, so the evidence has probability zero everywhere exactly when it has
    probability zero at one interior point. The problem points at the first observation of
    the impossible month (``scenario.evidence_where``).
    """
    engine = ExactEngine(scenario)
    result = engine.run(central_params(scenario), engine.evidence(), questions=())
    zero = np.flatnonzero(result.norms == 0)
    if not zero.size:
        return []
    step = int(zero[0])
    month = scenario.timeline.month_label(step)
    here = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) == step]
    earlier = [e for e in scenario.evidence if scenario.timeline.step_of(e.date) < step]
    shown = "; ".join(f"{e.node} in {e.shown} ({e.origin})" for e in here)
    context = (
        f"given the initial states and {len(earlier)} earlier observation(s)"
        if earlier
        else "given the initial states"
    )
    where = scenario.evidence_where
    default = where.get("", (str(scenario.path or scenario.id), "evidence", None))
    at_file, at_field, at_line = where.get(here[0].origin if here else "", default)
    return [
        Problem(
            at_file,
            at_field,
            f"the evidence of {month} has probability zero under the scenario {context}: {shown}",
            "evidence that some path allowed by the transition rules can produce "
            "(check absorbing states, 'stays' rules and initial states)",
            at_line,
        )
    ]


def check_evidence_possible(scenario: Scenario) -> Scenario:
    """The scenario, once its size is shown workable and its evidence possible.

    Raises
    ------
    ScenarioError
        If the scenario is too large for the engine (:func:`size_problems`), or some
        month's evidence has probability zero (see :func:`impossible_evidence`).
    """
    problems = size_problems(scenario) or impossible_evidence(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario
