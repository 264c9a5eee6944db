"""The causal structure of a scenario with the article's claims on its nodes and edges."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from forecast.scenario.validated import Scenario

__all__ = ["causal_edges", "claim_sort_key", "load_claim_map", "node_claims"]

logger = logging.getLogger(__name__)

_EDGE = re.compile(r"(\w+)\s*->\s*(\w+)")
_NODE = re.compile(r"node:\s*(\w+)")


def claim_sort_key(claim: str) -> tuple[str, int, str]:
    """Sort key that puts ``C2`` before ``C10``."""
    match = re.fullmatch(r"([A-Za-z_]*)(\d+)(.*)", claim)
    if match is None:
        return claim, -1, ""
    return match.group(1), int(match.group(2)), match.group(3)


def load_claim_map(path: str | Path) -> pd.DataFrame:
    """Read a claim map (``seeds/claim_map.csv``).

    Parameters
    ----------
    path : str or Path
        CSV with at least the columns ``claim_id`` and ``models``; ``models`` names what
        carries the claim, e.g. ``node: pressure`` or ``occupation -> pressure (lag 1)``.

    Returns
    -------
    DataFrame
        The file's rows, with two added columns: ``edges`` (tuple of ``(parent, child)``
        pairs named in ``models``) and ``nodes`` (tuple of node names after ``node:``).

    Raises
    ------
    ValueError
        If a required column is missing.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"claim_id", "models"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: the claim map needs the column(s) {', '.join(sorted(missing))}")
    table["edges"] = [tuple(_EDGE.findall(text)) for text in table["models"]]
    table["nodes"] = [tuple(_NODE.findall(text)) for text in table["models"]]
    return table


def _edge_claims(claim_map: pd.DataFrame | None) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    if claim_map is None:
        return out
    for claim, edges in zip(claim_map["claim_id"], claim_map["edges"], strict=True):
        for edge in edges:
            out.setdefault(tuple(edge), set()).add(claim)
    return out


def causal_edges(scenario: Scenario, claim_map: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every parent -> child edge of a scenario with its lag and the claims it models.

    A claim belongs to an edge when the claim map says it models that edge (``parent ->
    child``); the scenario files such claims under the child node. Without a claim map the
    edges carry no claims (they stay on the nodes, see :func:`node_claims`).

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    claim_map : DataFrame, optional
        From :func:`load_claim_map`.

    Returns
    -------
    DataFrame
        Columns ``parent``, ``child``, ``lag`` (1: last month, 0: same month) and ``claims``
        (tuple of claim ids in natural order), one row per edge in the order of the nodes and
        their parents.
    """
    by_edge = _edge_claims(claim_map)
    rows = []
    for node in scenario.nodes:
        for parent, lag in node.parents:
            claims = by_edge.get((parent, node.name), set())
            unknown = claims - set(node.claims)
            if unknown:
                logger.info(
                    "claims %s model %s -> %s but are not listed under %s",
                    sorted(unknown),
                    parent,
                    node.name,
                    node.name,
                )
            rows.append(
                {
                    "parent": parent,
                    "child": node.name,
                    "lag": int(lag),
                    "claims": tuple(sorted(claims, key=claim_sort_key)),
                }
            )
    return pd.DataFrame(rows, columns=["parent", "child", "lag", "claims"])


def node_claims(
    scenario: Scenario, claim_map: pd.DataFrame | None = None
) -> dict[str, tuple[str, ...]]:
    """The claims each node carries itself, i.e. not through one of its incoming edges.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    claim_map : DataFrame, optional
        From :func:`load_claim_map`; without it every claim listed under a node stays there.

    Returns
    -------
    dict
        Node name -> tuple of claim ids in natural order.
    """
    by_edge = _edge_claims(claim_map)
    out = {}
    for node in scenario.nodes:
        on_edges: set[str] = set()
        for parent, _ in node.parents:
            on_edges |= by_edge.get((parent, node.name), set())
        out[node.name] = tuple(
            sorted((c for c in node.claims if c not in on_edges), key=claim_sort_key)
        )
    return out
