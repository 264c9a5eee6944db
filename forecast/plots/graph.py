"""The causal graph of a scenario: nodes in plain words, edges with the claims they model.

:func:`plot_causal_graph` draws the structure; :func:`plot_belief_graph` draws the same graph
with each node's state probabilities at one month as horizontal bars with intervals, in the
style of Bayesian-network tools. Both use :func:`forecast.plots.layout.layered_layout`, so
the drawing is fixed (no randomness) and no edge runs through a node box.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import textwrap
from collections.abc import Callable

import arviz as az
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch, Rectangle
from matplotlib.path import Path
from matplotlib.transforms import Bbox

from forecast.analysis.summaries.claims import causal_edges, node_claims
from forecast.analysis.summaries.outcomes import evidence_cutoff
from forecast.analysis.summaries.tables import state_probabilities
from forecast.plots.layout import GraphLayout, layered_layout
from forecast.plots.style import FIGURE_DPI, PALETTE, plot_style, tag
from forecast.scenario.validated import Node, Scenario

__all__ = ["plot_belief_graph", "plot_causal_graph"]

logger = logging.getLogger(__name__)

LINE = 0.17  # inches per line of 9-point text
FONT = 9.0
"""Size of every text but the title: the smallest the style allows."""
TOP_MARGIN = 0.8
LEGEND_ROW = 0.2
SIDE_MARGIN = 0.3


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [text]


def _text_width(text: str) -> float:
    """Width in inches of ``text`` at the graph's font size, from the font's glyph metrics."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(
        text, FontProperties(size=FONT), ismath=False
    )
    return width / 72


def _edge_path(points: tuple[tuple[float, float], ...]) -> tuple[Path, list[tuple]]:
    """A smooth path through the waypoints: curves between layers, lines through slots."""
    verts = [points[0]]
    codes = [Path.MOVETO]
    segments = []
    for k, (p, q) in enumerate(itertools.pairwise(points)):
        if k % 2 == 1:  # through a layer the edge passes (a reserved slot)
            verts.append(q)
            codes.append(Path.LINETO)
            segments.append(("line", p, q))
            continue
        half = (q[1] - p[1]) / 2
        c1, c2 = (p[0], p[1] + half), (q[0], q[1] - half)
        verts += [c1, c2, q]
        codes += [Path.CURVE4] * 3
        segments.append(("curve", p, c1, c2, q))
    return Path(verts, codes), segments


def _bezier(p, c1, c2, q, t: float) -> tuple[float, float]:
    s = 1 - t
    return tuple(
        float(s**3 * a + 3 * s * s * t * b + 3 * s * t * t * c + t**3 * d)
        for a, b, c, d in zip(p, c1, c2, q, strict=True)
    )


def _label_candidates(segments: list[tuple]) -> list[tuple[float, float]]:
    slots = [((s[1][0] + s[2][0]) / 2, (s[1][1] + s[2][1]) / 2) for s in segments if s[0] == "line"]
    curves = [s for s in segments if s[0] == "curve"]
    middle = len(curves) // 2
    ordered = sorted(range(len(curves)), key=lambda k: abs(k - middle))
    points = [
        _bezier(*curves[k][1:], t) for k in ordered for t in (0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8)
    ]
    return slots + points


def _new_figure(layout: GraphLayout, min_width: float, bottom: float) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    xmin, xmax, ymin, ymax = layout.bounds
    width = max(xmax - xmin + 2 * SIDE_MARGIN, min_width)
    height = ymax - ymin + TOP_MARGIN + bottom
    extra = (width - (xmax - xmin)) / 2
    fig = plt.figure(figsize=(width, height), dpi=FIGURE_DPI)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(xmin - extra, xmax + extra)
    ax.set_ylim(ymin - bottom, ymax + TOP_MARGIN)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _draw_edges(
    ax: Axes, scenario: Scenario, layout: GraphLayout, edges: pd.DataFrame, obstacles: list[Bbox]
) -> None:
    """Edges as arrows, solid for lag 1 and dashed for lag 0, labelled with claim ids."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    placed = list(obstacles)
    for row in edges.itertuples():
        edge = (row.parent, row.child)
        colour = PALETTE["lag"] if row.lag == 1 else PALETTE["same_month"]
        path, segments = _edge_path(layout.routes[edge])
        arrow = FancyArrowPatch(
            path=path,
            arrowstyle="-|>",
            mutation_scale=13,
            color=colour,
            lw=1.4,
            ls="-" if row.lag == 1 else (0, (4, 2.5)),
            zorder=1,
            gid=f"edge:{row.parent}->{row.child}:lag{row.lag}",
        )
        ax.add_patch(arrow)
        if not row.claims:
            continue
        text = ax.text(
            0,
            0,
            ", ".join(row.claims),
            ha="center",
            va="center",
            fontsize=FONT,
            color=colour,
            zorder=4,
            gid=f"edge_label:{row.parent}->{row.child}",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "lw": 0.6},
        )
        best, best_overlap = None, np.inf
        for point in _label_candidates(segments):
            text.set_position(point)
            box = text.get_window_extent(renderer).padded(3)
            overlap = sum(
                max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0))
                * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
                for o in placed
            )
            if overlap < best_overlap:
                best, best_overlap = point, overlap
            if overlap == 0:
                break
        if best_overlap > 0:
            logger.warning("label of %s -> %s overlaps another label or a node", *edge)
        text.set_position(best)
        placed.append(text.get_window_extent(renderer).padded(3))


def _legend_handles(node_claims: bool, extra: list | None) -> list:
    handles = [
        Line2D([], [], color=PALETTE["lag"], lw=1.4, label="acts on the next month (lag 1)"),
        Line2D(
            [],
            [],
            color=PALETTE["same_month"],
            lw=1.4,
            ls=(0, (4, 2.5)),
            label="acts in the same month (lag 0)",
        ),
        Patch(
            fc="white",
            ec=PALETTE["lag"],
            lw=0.6,
            label="C1, C2 on an edge: claims it models (seeds/claim_map.csv)",
        ),
        Patch(
            fc=PALETTE["node_face"],
            ec=PALETTE["node_edge"],
            lw=0.6,
            label="[C1] in a node: claims about the node itself",
        ),
    ]
    if not node_claims:
        handles.pop()
    return handles + (extra or [])


def _draw(
    scenario: Scenario,
    sizes: dict[str, tuple[float, float]],
    paint: Callable[[Axes, Node, tuple[float, float, float, float]], None],
    title: str,
    claim_map: pd.DataFrame | None,
    min_width: float,
    legend_extra: list | None = None,
) -> Figure:
    with plot_style():
        layout = layered_layout(scenario, sizes)
        handles = _legend_handles(legend_extra is None, legend_extra)
        rows = -(-len(handles) // 2)
        fig, ax = _new_figure(layout, min_width, bottom=0.3 + LEGEND_ROW * rows)
        x_mid = sum(ax.get_xlim()) / 2
        ax.text(
            x_mid,
            ax.get_ylim()[1] - 0.15,
            title,
            ha="center",
            va="top",
            fontsize=11,
            linespacing=1.3,
            gid="title",
        )
        for node in scenario.nodes:
            x0, y0, x1, y1 = layout.box(node.name)
            ax.add_patch(
                FancyBboxPatch(
                    (x0, y0),
                    x1 - x0,
                    y1 - y0,
                    boxstyle="round,pad=0,rounding_size=0.07",
                    fc=PALETTE["node_face"],
                    ec=PALETTE["node_edge"],
                    lw=1.1,
                    zorder=2,
                    gid=f"node:{node.name}",
                )
            )
            paint(ax, node, (x0, y0, x1, y1))
        ax.legend(
            handles=handles,
            loc="lower center",
            ncol=2,
            frameon=False,
            fontsize=FONT,
            bbox_to_anchor=(0.5, 0.0),
            handlelength=2.6,
        )
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        obstacles = [
            p.get_window_extent(renderer).padded(2)
            for p in ax.patches
            if str(p.get_gid()).startswith("node:")
        ]
        obstacles += [t.get_window_extent(renderer) for t in ax.texts if t.get_gid() == "title"]
        _draw_edges(ax, scenario, layout, causal_edges(scenario, claim_map), obstacles)
    return fig


def plot_causal_graph(
    scenario: Scenario,
    claim_map: pd.DataFrame | None = None,
    title: str | None = None,
    wrap: int = 20,
) -> Figure:
    """Draw a scenario's causal graph with a fixed layered layout, top to bottom.

    Each node is a box with its label in plain words, its name in the scenario file and the
    claims it carries itself; each edge is an arrow, solid when the parent acts on the next
    month (lag 1) and dashed when it acts in the same month (lag 0), labelled with the ids of
    the claims it models.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    claim_map : DataFrame, optional
        From :func:`forecast.analysis.summaries.claims.load_claim_map`; tells which claims sit on
        edges. Without it every claim is shown on its node.
    title : str, optional
        Figure title.
    wrap : int
        Characters per line of a node label.

    Returns
    -------
    Figure
        Node boxes have the gid ``"node:<name>"``, edges ``"edge:<parent>-><child>:lag<k>"``
        and edge labels ``"edge_label:<parent>-><child>"``.
    """
    claims = node_claims(scenario, claim_map)
    texts = {n.name: _wrap(n.label, wrap) for n in scenario.nodes}
    sizes = {n.name: (1.75, 0.3 + LINE * len(texts[n.name]) + 0.15) for n in scenario.nodes}

    def paint(ax: Axes, node: Node, box: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = box
        ax.text(
            (x0 + x1) / 2,
            y1 - 0.09,
            "\n".join(texts[node.name]),
            ha="center",
            va="top",
            fontsize=FONT,
            fontweight="bold",
            linespacing=1.15,
            zorder=3,
            gid=f"node_label:{node.name}",
        )
        sub = node.name + ("  [" + ", ".join(claims[node.name]) + "]" if claims[node.name] else "")
        ax.text(
            (x0 + x1) / 2,
            y0 + 0.08,
            sub,
            ha="center",
            va="bottom",
            fontsize=FONT,
            color=PALETTE["ink"],
            family="monospace",
            zorder=3,
            gid=f"node_name:{node.name}",
        )

    title = title or f"Causal chain of {scenario.id}\n{textwrap.shorten(scenario.spec.title, 80)}"
    return _draw(scenario, sizes, paint, title, claim_map, min_width=7.5)


def plot_belief_graph(
    idata: az.InferenceData,
    scenario: Scenario,
    month: str | dt.date,
    claim_map: pd.DataFrame | None = None,
    group: str = "posterior",
    interval: float = 0.9,
    label: str | None = None,
    wrap: int = 30,
) -> Figure:
    """The causal graph with each node's state probabilities at one month as bars.

    Each node box lists its states with a bar for the mean probability at the end of
    ``month``, a line for the central interval, the mean as a number and, when the fit has a
    ``prior`` group, a grey tick at the prior mean.

    Parameters
    ----------
    idata : az.InferenceData
        A fit (or prior draws with ``group="prior"``).
    scenario : Scenario
        The fitted scenario.
    month : str or date
        ``YYYY-MM`` or a date in the month.
    claim_map : DataFrame, optional
        From :func:`forecast.analysis.summaries.claims.load_claim_map`.
    group : str
        ``"posterior"`` or ``"prior"``.
    interval : float
        Mass of the central interval.
    label : str, optional
        Name of the fit for the title (default: its evidence cut-off).
    wrap : int
        Characters per line of a node label.

    Returns
    -------
    Figure
        Bars have the label ``"bar:<node>:<state>"`` and are tagged with the group's meaning
        (``posterior`` or ``prior``), intervals ``"interval:<node>:<state>"`` (tagged ``ink``)
        and prior means ``"prior_mean:<node>:<state>"`` (tagged ``prior``); boxes, edges and
        labels have gids as in :func:`plot_causal_graph`.
    """
    table = state_probabilities(idata, scenario, month, group, interval)
    prior = (
        state_probabilities(idata, scenario, month, "prior", interval)
        if group != "prior" and "prior" in idata.groups()
        else None
    )
    step = scenario.timeline.step_of(month)
    month_label = scenario.timeline.month_label(step)
    texts = {n.name: _wrap(n.label, wrap) for n in scenario.nodes}
    row_h = 0.22
    # the state names' column fits the longest name, so a box never clips one
    bar_x0 = max(1.0, max(_text_width(s) for n in scenario.nodes for s in n.states) + 0.17)
    value_w = 0.05 + _text_width("0.00") + 0.1
    # boxes stay 2.5 in wide where the bars keep 0.8 in; longer names widen every box
    bar_w = max(0.8, min(1.05, 2.5 - bar_x0 - value_w))
    width = bar_x0 + bar_w + value_w
    sizes = {
        n.name: (width, 0.14 + LINE * len(texts[n.name]) + 0.06 + row_h * n.n_states + 0.08)
        for n in scenario.nodes
    }
    role = "prior" if group == "prior" else "posterior"
    colour = PALETTE[role]

    def paint(ax: Axes, node: Node, box: tuple[float, float, float, float]) -> None:
        x0, _y0, x1, y1 = box
        lines = texts[node.name]
        ax.text(
            (x0 + x1) / 2,
            y1 - 0.08,
            "\n".join(lines),
            ha="center",
            va="top",
            fontsize=FONT,
            fontweight="bold",
            linespacing=1.1,
            zorder=3,
            gid=f"node_label:{node.name}",
        )
        top = y1 - 0.14 - LINE * len(lines) - 0.06
        rows = table[table["node"] == node.name].reset_index(drop=True)
        for k, r in rows.iterrows():
            yc = top - row_h * (k + 0.5)
            ax.text(
                x0 + bar_x0 - 0.07,
                yc,
                r["state"],
                ha="right",
                va="center",
                fontsize=FONT,
                zorder=3,
                gid=f"state_label:{node.name}:{r['state']}",
            )
            ax.add_patch(
                Rectangle(
                    (x0 + bar_x0, yc - 0.06),
                    bar_w,
                    0.12,
                    fc="white",
                    ec=PALETTE["guide"],
                    lw=0.6,
                    zorder=2.5,
                )
            )
            bar = Rectangle(
                (x0 + bar_x0, yc - 0.06),
                bar_w * r["mean"],
                0.12,
                fc=colour,
                lw=0,
                zorder=2.6,
                label=f"bar:{node.name}:{r['state']}",
            )
            ax.add_patch(tag(bar, role))
            spread = Line2D(
                [x0 + bar_x0 + bar_w * r["low"], x0 + bar_x0 + bar_w * r["high"]],
                [yc, yc],
                color=PALETTE["ink"],
                lw=1.1,
                marker="|",
                ms=4,
                zorder=2.8,
                label=f"interval:{node.name}:{r['state']}",
            )
            ax.add_line(tag(spread, "ink"))
            if prior is not None:
                p = float(
                    prior[(prior["node"] == node.name) & (prior["state"] == r["state"])][
                        "mean"
                    ].iloc[0]
                )
                tick = Line2D(
                    [x0 + bar_x0 + bar_w * p] * 2,
                    [yc - 0.085, yc + 0.085],
                    color=PALETTE["prior"],
                    lw=1.8,
                    zorder=2.7,
                    label=f"prior_mean:{node.name}:{r['state']}",
                )
                ax.add_line(tag(tick, "prior"))
            ax.text(
                x0 + bar_x0 + bar_w + 0.05,
                yc,
                f"{r['mean']:.2f}",
                ha="left",
                va="center",
                fontsize=FONT,
                zorder=3,
            )

    if label is None:
        cutoff = evidence_cutoff(idata)
        label = (
            "prior"
            if group == "prior"
            else (f"evidence as of {cutoff}" if cutoff else "all evidence")
        )
    extra = [
        Patch(fc=colour, label=f"{group} mean"),
        Line2D(
            [], [], color=PALETTE["ink"], lw=1.1, marker="|", ms=4, label=f"{interval:.0%} interval"
        ),
    ]
    if prior is not None:
        extra.append(
            Line2D(
                [],
                [],
                color=PALETTE["prior"],
                lw=1.8,
                ls="none",
                marker="|",
                ms=8,
                label="prior mean",
            )
        )
    title = f"{scenario.id}: state probabilities at the end of {month_label}\n({group}, {label})"
    return _draw(scenario, sizes, paint, title, claim_map, min_width=8.0, legend_extra=extra)
