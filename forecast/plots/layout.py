"""A fixed layered (Sugiyama-style) layout of a scenario's causal graph, top to bottom.

Every node goes in the layer of its longest path from a node without parents, then moves down
next to its nearest child where that shortens its edges (a side chain); an edge that
spans several layers is routed through reserved slots ("dummies") so that it never crosses a
node box; the order within each layer is chosen by barycentre sweeps that reduce crossings,
and x positions by averaging two packings that respect the order and the gaps. Everything is
deterministic: ties keep the scenario's node order. Units are inches.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from forecast.scenario.validated import Scenario

__all__ = ["GraphLayout", "layered_layout"]

logger = logging.getLogger(__name__)

Point = tuple[float, float]


@dataclass(frozen=True)
class GraphLayout:
    """Where a causal graph's nodes and edges go.

    Attributes
    ----------
    centres : dict
        Node -> ``(x, y)`` of its box centre.
    sizes : dict
        Node -> ``(width, height)`` of its box.
    layers : tuple of tuple of str
        Items of each layer from the top, left to right; dummies are named
        ``"<parent>-><child>#<k>"``.
    routes : dict
        ``(parent, child)`` -> waypoints from the parent's box to the child's box: the
        parent's bottom port, then an entry and exit point per spanned layer, then the child's
        top port.
    dummies : dict
        ``(parent, child)`` -> the centres of its dummy slots (empty for adjacent layers).
    bounds : tuple of float
        ``(xmin, xmax, ymin, ymax)`` of all boxes and slots.
    """

    centres: dict[str, Point]
    sizes: dict[str, tuple[float, float]]
    layers: tuple[tuple[str, ...], ...]
    routes: dict[tuple[str, str], tuple[Point, ...]]
    dummies: dict[tuple[str, str], tuple[Point, ...]]
    bounds: tuple[float, float, float, float]

    def box(self, node: str) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of a node's box."""
        (x, y), (w, h) = self.centres[node], self.sizes[node]
        return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def _crossings(layers: list[list[str]], succ: Mapping[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        pos = {item: k for k, item in enumerate(lower)}
        pairs = [(i, pos[s]) for i, item in enumerate(upper) for s in succ[item]]
        total += sum(
            1
            for a in range(len(pairs))
            for b in range(a + 1, len(pairs))
            if (pairs[a][0] - pairs[b][0]) * (pairs[a][1] - pairs[b][1]) < 0
        )
    return total


def _reorder(
    layer: list[str], reference: list[str], neighbours: Mapping[str, list[str]]
) -> list[str]:
    pos = {item: k for k, item in enumerate(reference)}
    keys = {}
    for k, item in enumerate(layer):
        near = [pos[n] for n in neighbours[item] if n in pos]
        # scale to the other layer's length so items without neighbours keep their place
        keys[item] = (
            float(np.mean(near)) if near else k * max(1, len(reference)) / max(1, len(layer))
        )
    return sorted(layer, key=lambda item: keys[item])


def _place(desired: list[float], seps: list[float]) -> list[float]:
    n = len(desired)
    left = list(desired)
    for k in range(1, n):
        left[k] = max(desired[k], left[k - 1] + seps[k - 1])
    right = list(desired)
    for k in range(n - 2, -1, -1):
        right[k] = min(desired[k], right[k + 1] - seps[k])
    return [(a + b) / 2 for a, b in zip(left, right, strict=True)]


def _sink_towards_children(dag: nx.DiGraph, order: list[str], layer_of: dict[str, int]) -> None:
    """Move nodes down to the layer just above their nearest child where that saves slots.

    Longest-path layering puts every node without parents in the top layer, so a side chain
    (e.g. an election feeding a push feeding talks) would run long edges down the whole
    graph and widen every layer it passes. Bottom up, a node with at least as many children
    as parents moves to the lowest layer its parents allow: its out-edges shorten by as much
    as its in-edges lengthen, or more, so no edge gains dummies overall.
    """
    for name in reversed(order):
        children = list(dag.successors(name))
        if not children or len(children) < dag.in_degree(name):
            continue
        lowest = min(layer_of[c] for c in children) - 1
        highest = max((layer_of[p] + 1 for p in dag.predecessors(name)), default=0)
        if lowest > layer_of[name] and lowest >= highest:
            layer_of[name] = lowest


def layered_layout(
    scenario: Scenario,
    sizes: Mapping[str, tuple[float, float]],
    dummy_width: float = 0.55,
    layer_gap: float = 0.55,
    item_gap: float = 0.3,
    sweeps: int = 8,
) -> GraphLayout:
    """Lay out a scenario's nodes in layers from top (no parents) to bottom.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario; every parent -> child edge is laid out, whatever its lag.
    sizes : mapping of str to (float, float)
        Node -> box ``(width, height)`` in inches.
    dummy_width : float
        Width of the slot an edge takes in a layer it passes through (room for its label).
    layer_gap : float
        Vertical gap between the boxes of consecutive layers.
    item_gap : float
        Horizontal gap between neighbouring boxes or slots.
    sweeps : int
        Barycentre sweeps (down and up) used to reduce crossings.

    Returns
    -------
    GraphLayout
        Box centres, layers, edge routes and bounds.
    """
    names = [n.name for n in scenario.nodes]
    rank = {n: k for k, n in enumerate(names)}
    dag = nx.DiGraph()
    dag.add_nodes_from(names)
    oriented: dict[tuple[str, str], tuple[str, str]] = {}
    for node in scenario.nodes:
        for parent, _ in node.parents:
            # a lag-1 edge may close a cycle; lay it out upwards
            edge = (
                (node.name, parent) if nx.has_path(dag, node.name, parent) else (parent, node.name)
            )
            dag.add_edge(*edge)
            oriented[(parent, node.name)] = edge
    layer_of: dict[str, int] = {}
    order = list(nx.lexicographical_topological_sort(dag, key=lambda n: rank[n]))
    for name in order:
        layer_of[name] = max((layer_of[p] + 1 for p in dag.predecessors(name)), default=0)
    _sink_towards_children(dag, order, layer_of)
    chains: dict[tuple[str, str], list[str]] = {}
    succ: dict[str, list[str]] = {n: [] for n in names}
    pred: dict[str, list[str]] = {n: [] for n in names}
    width = {n: float(sizes[n][0]) for n in names}
    for edge, (a, b) in oriented.items():
        chain = [a] + [f"{edge[0]}->{edge[1]}#{k}" for k in range(1, layer_of[b] - layer_of[a])]
        chain.append(b)
        for k, item in enumerate(chain[1:-1], start=1):
            layer_of[item] = layer_of[a] + k
            width[item] = dummy_width
            succ.setdefault(item, [])
            pred.setdefault(item, [])
        for u, v in itertools.pairwise(chain):
            succ[u].append(v)
            pred[v].append(u)
        chains[edge] = chain
    n_layers = max(layer_of.values()) + 1
    order_key = {
        item: (rank[item], 0, "") if item in rank else (rank[item.split("->")[0]], 1, item)
        for item in layer_of
    }
    layers = [
        sorted((i for i in layer_of if layer_of[i] == k), key=lambda i: order_key[i])
        for k in range(n_layers)
    ]
    best, best_cross = [list(la) for la in layers], _crossings(layers, succ)
    for _ in range(sweeps):
        for k in range(1, n_layers):
            layers[k] = _reorder(layers[k], layers[k - 1], pred)
        for k in range(n_layers - 2, -1, -1):
            layers[k] = _reorder(layers[k], layers[k + 1], succ)
        cross = _crossings(layers, succ)
        if cross < best_cross:
            best, best_cross = [list(la) for la in layers], cross
    layers = best
    heights = [max(float(sizes[i][1]) for i in la if i in rank) for la in layers]
    ys = [0.0]
    for k in range(1, n_layers):
        ys.append(ys[-1] - heights[k - 1] / 2 - layer_gap - heights[k] / 2)
    x: dict[str, float] = {}
    for la in layers:
        seps = [width[a] / 2 + width[b] / 2 + item_gap for a, b in itertools.pairwise(la)]
        start = -sum(seps) / 2
        for k, item in enumerate(la):
            x[item] = start + sum(seps[:k])
    for _ in range(sweeps):
        for direction in (range(1, n_layers), range(n_layers - 2, -1, -1)):
            for k in direction:
                la = layers[k]
                near = pred if direction.step == 1 else succ
                desired = [float(np.mean([x[n] for n in near[i]])) if near[i] else x[i] for i in la]
                seps = [width[a] / 2 + width[b] / 2 + item_gap for a, b in itertools.pairwise(la)]
                for item, value in zip(la, _place(desired, seps), strict=True):
                    x[item] = value
    centres = {n: (x[n], ys[layer_of[n]]) for n in names}
    routes: dict[tuple[str, str], tuple[Point, ...]] = {}
    dummies: dict[tuple[str, str], tuple[Point, ...]] = {}
    ports_out: dict[str, list[tuple[float, tuple[str, str]]]] = {n: [] for n in names}
    ports_in: dict[str, list[tuple[float, tuple[str, str]]]] = {n: [] for n in names}
    for edge, chain in chains.items():
        ports_out[chain[0]].append((x[chain[1]], edge))
        ports_in[chain[-1]].append((x[chain[-2]], edge))
    port_x: dict[tuple[str, tuple[str, str]], float] = {}
    for ports, end in ((ports_out, "out"), (ports_in, "in")):
        for node, items in ports.items():
            items.sort(key=lambda t: (t[0], rank[t[1][0]], rank[t[1][1]]))
            for k, (_, edge) in enumerate(items):
                port_x[(end, edge)] = x[node] + ((k + 1) / (len(items) + 1) - 0.5) * (
                    width[node] * 0.6
                )
    for edge, chain in chains.items():
        a, b = chain[0], chain[-1]
        points: list[Point] = [(port_x[("out", edge)], centres[a][1] - sizes[a][1] / 2)]
        slots = []
        for item in chain[1:-1]:
            k = layer_of[item]
            points += [(x[item], ys[k] + heights[k] / 2), (x[item], ys[k] - heights[k] / 2)]
            slots.append((x[item], ys[k]))
        points.append((port_x[("in", edge)], centres[b][1] + sizes[b][1] / 2))
        if oriented[edge] != edge:
            points.reverse()
            slots.reverse()
        routes[edge] = tuple(points)
        dummies[edge] = tuple(slots)
    xs = [x[i] - width[i] / 2 for i in layer_of] + [x[i] + width[i] / 2 for i in layer_of]
    bounds = (min(xs), max(xs), ys[-1] - heights[-1] / 2, ys[0] + heights[0] / 2)
    logger.debug("layout of %s: %d layers, %d crossings", scenario.id, n_layers, best_cross)
    return GraphLayout(
        centres,
        {n: (float(sizes[n][0]), float(sizes[n][1])) for n in names},
        tuple(tuple(la) for la in layers),
        routes,
        dummies,
        bounds,
    )
