"""Bayesian-network files in: a one-month scenario of fixed tables (``forecast import``).

pyAgrum reads the network (BIF, XMLBIF as .bifxml, Hugin NET, GeNIe XDSL, UAI and the other
formats its ``loadBN`` knows); each variable becomes a memoryless node with its table as
``cpt`` rows and its parents in the same month, on a timeline of one month, so the scenario is
the network (the month's state of every node is drawn from its table given its parents).
Names that are not valid scenario names (letters, digits and ``_``, starting with a letter)
are mapped to ones that are, and the mapping is kept: a node's ``label`` is the network's
variable name and each state's definition is the network's state label. A table column that
adds up to 1 only within rounding (sachs's, within 1e-7) is normalised, and the largest such
correction is stated in the node's rationale. pyAgrum is imported only here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast.errors import ScenarioError
from forecast.settings import MAX_SCENARIO_BYTES, MAX_YAML_NODES

__all__ = ["NetworkImport", "network_scenario", "scenario_name"]

NORMALISE_TOLERANCE = 1e-6
"""Largest deviation from 1 of a table column that is normalised on import (else refused)."""


def scenario_name(text: str, taken: set[str]) -> str:
    """A valid scenario name for ``text``, unlike every name in ``taken`` (which it joins).

    Characters other than letters, digits and ``_`` become ``_``; a name that does not start
    with a letter gets ``n_`` in front; a name already taken gets ``_2``, ``_3``, ...
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", text.strip()) or "n"
    if not name[0].isalpha() or not name.isascii():
        name = f"n_{name}"
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    taken.add(candidate)
    return candidate


@dataclass
class NetworkImport:
    """A network read as a scenario.

    Attributes
    ----------
    scenario : dict
        The scenario's fields, ready to write as YAML or to load with
        :func:`forecast.scenario.scenario_from_dict`.
    renamed : dict
        Network name -> scenario name, for variables and (as ``variable.state``) states
        whose names changed.
    normalised : dict
        Scenario node -> largest deviation from 1 of a table column normalised.
    """

    scenario: dict[str, Any]
    renamed: dict[str, str] = field(default_factory=dict)
    normalised: dict[str, float] = field(default_factory=dict)


def _load(path: Path) -> Any:
    try:
        import pyagrum as gum
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ScenarioError.single(
            str(path), "", "pyAgrum is not installed", "pip install pyagrum"
        ) from None
    if not path.is_file():
        raise ScenarioError.single(str(path), "", "file not found", "a Bayesian-network file")
    try:
        return gum.loadBN(str(path))
    except Exception as exc:  # pyAgrum raises its own kinds for every format's errors
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError.single(
            str(path),
            "",
            f"cannot be read as a Bayesian network: {text}",
            "a network file pyAgrum reads: .bif, .bifxml, .net, .xdsl, .dsl, .uai or .o3prm",
        ) from None


def network_scenario(
    path: str | Path, start: str = "2024-01", priors_set_on: dt.date | None = None
) -> NetworkImport:
    """Read a Bayesian-network file as a one-month scenario of fixed, memoryless tables.

    Parameters
    ----------
    path : str or Path
        The network file.
    start : str
        The scenario's month (``YYYY-MM``); start and horizon alike.
    priors_set_on : date, optional
        The date the tables count as stated (default: today).

    Returns
    -------
    NetworkImport

    Raises
    ------
    ScenarioError
        If the file cannot be read, or a table column is not a probability distribution.
    """
    path = Path(path)
    bn = _load(path)
    taken: set[str] = set()
    renamed: dict[str, str] = {}
    normalised: dict[str, float] = {}
    names: dict[int, str] = {}
    labels: dict[int, list[str]] = {}
    states: dict[int, list[str]] = {}
    order = list(bn.topologicalOrder())
    for n in order:
        variable = bn.variable(n)
        names[n] = scenario_name(variable.name(), taken)
        if names[n] != variable.name():
            renamed[variable.name()] = names[n]
        labels[n] = list(variable.labels())
        own: set[str] = set()
        states[n] = [scenario_name(label, own) for label in labels[n]]
        for label, state in zip(labels[n], states[n], strict=True):
            if label != state:
                renamed[f"{variable.name()}.{label}"] = f"{names[n]}.{state}"
    nodes: dict[str, Any] = {}
    for n in order:
        variable = bn.variable(n)
        parents = sorted(bn.parents(n), key=order.index)
        cpt = bn.cpt(n)
        rows = []
        worst = 0.0
        for config in itertools.product(*(range(len(labels[p])) for p in parents)):
            at = {bn.variable(p).name(): labels[p][i] for p, i in zip(parents, config, strict=True)}
            values = [float(v) for v in (cpt[at] if at else cpt.toarray())]
            total = math.fsum(values)
            where = ", ".join(f"{k}={v}" for k, v in at.items()) or "no parents"
            if any(not (math.isfinite(v) and v >= 0.0) for v in values) or not math.isfinite(total):
                raise ScenarioError.single(
                    str(path),
                    f"{variable.name()} ({where})",
                    f"the table column {values} holds a value that is not a probability",
                    "numbers of at least 0 that add up to 1",
                )
            if abs(total - 1.0) > NORMALISE_TOLERANCE:
                raise ScenarioError.single(
                    str(path),
                    f"{variable.name()} ({where})",
                    f"the table column adds up to {total:.12g}, not 1",
                    f"columns that add up to 1 (within {NORMALISE_TOLERANCE:g})",
                )
            worst = max(worst, abs(total - 1.0))
            values = [v / total for v in values]
            rows.append([*(states[p][i] for p, i in zip(parents, config, strict=True)), *values])
        rationale = f"imported from {path.name}: the network's table of {variable.name()}"
        if worst > 0.0:
            normalised[names[n]] = worst
            rationale += f" (columns normalised; they added up to 1 within {worst:.1e})"
        description = variable.description().strip() if variable.description() else ""
        nodes[names[n]] = {
            "label": variable.name(),
            "description": description or f"variable {variable.name()} of the network",
            "states": dict(zip(states[n], labels[n], strict=True)),
            **({"parents": {names[p]: 0 for p in parents}} if parents else {}),
            "initial": states[n][0],
            "cpt": {"rationale": rationale, "rows": rows},
        }
    values = sum(len(row) for node in nodes.values() for row in node["cpt"]["rows"])
    if values > MAX_YAML_NODES:
        raise ScenarioError.single(
            str(path),
            "",
            f"the network's tables hold {values:,} values, more than a scenario file may hold "
            f"({MAX_YAML_NODES:,}, forecast.settings.MAX_YAML_NODES)",
            "a network with smaller tables; larger networks are read by pyAgrum or pgmpy directly",
        )
    raw_name = bn.property("name") if "name" in bn.properties() else path.stem
    stem = scenario_name(path.name.split(".")[0], set())
    scenario = {
        "id": stem,
        "title": f"{raw_name if raw_name != 'unknown' else path.stem} (network from {path.name})",
        "source": {"citation": f"Bayesian network file {path.name}"},
        "author": "forecast import",
        "priors_set_on": priors_set_on or dt.date.today(),
        "start": start,
        "horizon": start,
        "nodes": nodes,
    }
    return NetworkImport(scenario, renamed, normalised)


def scenario_yaml(scenario: dict[str, Any], header: str, network: str | Path = "") -> str:
    """A scenario's fields as YAML text, with a comment line on top (table rows on one line).

    Raises
    ------
    ScenarioError
        If the text would be larger than a scenario file may be
        (:data:`~forecast.settings.MAX_SCENARIO_BYTES`), naming ``network``.
    """
    import yaml

    body = yaml.safe_dump(
        scenario, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
    )
    text = f"# {header}\n{body}"
    size = len(text.encode("utf-8"))
    if size > MAX_SCENARIO_BYTES:
        raise ScenarioError.single(
            str(network),
            "",
            f"as a scenario the network would be a file of {size:,} bytes, more than the "
            f"limit of {MAX_SCENARIO_BYTES:,} (forecast.settings.MAX_SCENARIO_BYTES)",
            "a network whose tables fit a scenario file; larger networks are read by pyAgrum "
            "or pgmpy directly",
        )
    return text
