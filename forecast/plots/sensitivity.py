"""Sensitivity figures: tornado charts of prior edits, value of information, power-scaling."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from forecast.analysis.counterfactuals.voi import ValueOfInformation
from forecast.plots.style import (
    CATEGORY_COLOURS,
    MAX_WIDTH_IN,
    PALETTE,
    ROLE_COLOURS,
    fit_colour,
    new_figure,
    plot_style,
    tag,
    wrap_rule_id,
)
from forecast.scenario.validated import Scenario
from forecast.settings import PARETO_K_MAX

__all__ = ["plot_power_scaling", "plot_tornado", "plot_value_of_information"]

logger = logging.getLogger(__name__)

LOW_COLOUR = CATEGORY_COLOURS[5]  # rose
HIGH_COLOUR = CATEGORY_COLOURS[1]  # teal
"""The two ends of a tornado bar: a contrast, so category colours, not meanings."""
INK = ROLE_COLOURS["ink"]
LABEL_CHARS = 56
"""Characters per line of a tornado's rule labels (9-point text, about a third of the width)."""
ROW_LINE = 0.16
"""Inches per line of 9-point text."""


def _outcome_labels(scenario: Scenario | None) -> dict[str, str]:
    return {o.id: o.label for o in scenario.outcomes} if scenario is not None else {}


def _tornado_label(row, chars: int) -> str:
    """``node: from->to  [stated interval]`` over the rule's id, wrapped to ``chars``.

    The parent conditions of the rule's label are left out: the id below holds them.
    """
    words = textwrap.wrap(
        f"{row.label.split(' | ')[0]}  [{row.interval_low:g}, {row.interval_high:g}]",
        chars,
        break_on_hyphens=False,
    )
    return "\n".join([*words, wrap_rule_id(row.rule, chars)])


def plot_tornado(
    table: pd.DataFrame,
    scenario: Scenario | None = None,
    date: str | None = None,
    outcomes: Sequence[str] | None = None,
    top: int = 6,
    title: str | None = None,
) -> Figure:
    """One tornado per outcome: how far its forecast moves as each best guess crosses its interval.

    Each bar starts at the forecast as fitted (dark line) and ends at the forecast with one
    rule's best guess at the low end or the high end of its interval (two category colours);
    rules are sorted by swing, largest on top; whiskers are two Monte Carlo standard errors (a
    swing inside them is noise of the re-weighting). Hatched bars had heavy-tailed importance
    weights (Pareto k above the threshold): their length is uncertain. Outlined bars were
    re-computed (see ``recompute`` of ``tornado_table``). The legend lists only the kinds of
    mark the figure draws.

    Parameters
    ----------
    table : DataFrame
        From :func:`forecast.analysis.counterfactuals.sensitivity.tornado_table`.
    scenario : Scenario, optional
        For the outcomes' labels.
    date : str, optional
        Report date (``YYYY-MM-DD``) of the forecasts shown (default: the latest in the table).
    outcomes : sequence of str, optional
        Outcome ids, one panel each (default: all in the table, in its order).
    top : int
        Rules shown per panel.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes per outcome; bars carry the gid ``"<outcome>:<rule>:<destination>:<end>"``,
        the baseline and the whiskers are tagged ``ink``.

    Raises
    ------
    ValueError
        If nothing in the table matches the date and outcomes.
    """
    date = date or str(max(table["date"]))
    rows = table[table["date"] == date]
    wanted = list(dict.fromkeys(rows["outcome"])) if outcomes is None else list(outcomes)
    rows = rows[rows["outcome"].isin(wanted)]
    if rows.empty:
        raise ValueError(f"the table has no forecast for {wanted} on {date}")
    labels = _outcome_labels(scenario)
    parts = [
        rows[rows["outcome"] == o].sort_values("swing", ascending=False, kind="stable").head(top)
        for o in wanted
    ]
    ticks = [[_tornado_label(r, LABEL_CHARS) for r in part.itertuples()] for part in parts]
    lines = [sum(t.count("\n") + 1 for t in tick) for tick in ticks]
    heights = [ROW_LINE * n + 0.15 * len(tick) + 0.85 for n, tick in zip(lines, ticks, strict=True)]
    drawn: set[str] = set()
    with plot_style():
        fig, axes = new_figure(
            MAX_WIDTH_IN,
            sum(heights) + 0.9,
            len(wanted),
            1,
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
        for ax, outcome, part, tick in zip(axes[:, 0], wanted, parts, ticks, strict=True):
            baseline = float(part["baseline"].iloc[0])
            y = np.arange(len(part))[::-1].astype(float)
            for yi, row in zip(y, part.itertuples(), strict=True):
                flagged_ks = []
                for end, value, colour in (
                    ("low", row.low, LOW_COLOUR),
                    ("high", row.high, HIGH_COLOUR),
                ):
                    flagged = bool(getattr(row, f"flagged_{end}"))
                    redone = getattr(row, f"method_{end}") != "reweighted"
                    drawn.add(end)
                    if flagged:
                        flagged_ks.append(getattr(row, f"k_{end}"))
                        drawn.add("flagged")
                    if redone:
                        drawn.add("redone")
                    ax.barh(
                        yi,
                        value - baseline,
                        left=baseline,
                        height=0.62,
                        color=colour,
                        alpha=0.9,
                        hatch="///" if flagged else None,
                        edgecolor=INK if redone else ("white" if flagged else colour),
                        linewidth=1.0 if redone else 0,
                        gid=f"{outcome}:{row.rule}:{row.destination}:{end}",
                    )
                    se = float(getattr(row, f"{end}_se"))
                    if np.isfinite(se) and se > 0:
                        whisker = ax.errorbar(
                            value,
                            yi,
                            xerr=2 * se,
                            fmt="none",
                            ecolor=INK,
                            elinewidth=0.9,
                            capsize=2.5,
                        )
                        for artist in whisker.lines[2]:  # the whiskers (caps are markers)
                            tag(artist, "ink")
                        drawn.add("se")
                if flagged_ks:
                    ax.text(
                        max(row.low, row.high),
                        yi,
                        f"  k={max(flagged_ks):.2f}",
                        va="center",
                        fontsize=9,
                        color=INK,
                    )
            tag(ax.axvline(baseline, color=INK, lw=1.4), "ink")
            ax.set_yticks(y)
            ax.set_yticklabels(tick, fontsize=9, linespacing=1.1)
            ax.set_ylim(-0.6, len(part) - 0.4)
            spread = 2 * part[["low_se", "high_se"]].fillna(0).to_numpy()
            lo = float(min((part[["low", "high"]].to_numpy() - spread).min(), baseline))
            hi = float(max((part[["low", "high"]].to_numpy() + spread).max(), baseline))
            pad = max((hi - lo) * 0.12, 0.002)
            ax.set_xlim(max(0.0, lo - pad), min(1.0, hi + pad * (2.2 if "flagged" in drawn else 1)))
            name = labels.get(outcome, outcome)
            ax.set_title(
                f"{name}: forecast for {date} is {baseline:.3f} as fitted", fontsize=10, loc="left"
            )
            ax.set_xlabel(f"P({name}) by {date}", fontsize=9)
            ax.grid(axis="x", alpha=0.3)
            ax.grid(axis="y", visible=False)
        kinds = {
            "low": Patch(color=LOW_COLOUR, label="best guess at the interval's low end"),
            "high": Patch(color=HIGH_COLOUR, label="best guess at the interval's high end"),
            "flagged": Patch(
                facecolor="#bbbbbb",
                hatch="///",
                edgecolor="white",
                label=f"Pareto k > {PARETO_K_MAX}: estimate unreliable",
            ),
            "redone": Patch(
                facecolor="#bbbbbb",
                edgecolor=INK,
                linewidth=1.0,
                label=f"re-computed (k > {PARETO_K_MAX} when re-weighted)",
            ),
            "baseline": Line2D([], [], color=INK, lw=1.4, label="forecast as fitted"),
            "se": Line2D(
                [], [], color=INK, lw=0.9, marker="|", ms=6, label="±2 Monte Carlo standard errors"
            ),
        }
        handles = [h for kind, h in kinds.items() if kind in drawn or kind == "baseline"]
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9)
        fig.suptitle(
            title
            or "Which prior moves each forecast most (rule: from->to | given "
            "[stated interval], id)",
            fontsize=12,
        )
    return fig


def _watch_reason(voi: ValueOfInformation, watch: str, name: str) -> str:
    """Why the highlighted node is the one to watch, in words, for the figure's caption."""
    summary = voi.summary()
    latent = ~summary["observed_before"]
    text = f"Highlighted: the node to watch first, {name}: "
    if str(summary.index[0]) == watch:
        text += "the largest expected change of the forecasts"
    else:
        text += "the largest expected change among the nodes the scenario observes"
    if latent.any():
        text += " (hatched: latent nodes, never observed, so they cannot be watched)"
    return text + "."


def plot_value_of_information(
    voi: ValueOfInformation, scenario: Scenario | None = None, title: str | None = None
) -> Figure:
    """Expected change of every forecast if one node were observed next month.

    Left: a heat map of the expected absolute change (percentage points) of each forecast
    (columns) from observing each node (rows). Right: the change summed over the forecasts.
    The node to watch first (:meth:`ValueOfInformation.to_watch`: the largest change among the
    nodes the scenario observes) is drawn in the observation colour, the other observed nodes
    in a lighter shade and latent nodes (never observed, so they cannot be watched) hatched;
    a caption says why the highlighted node is the one to watch, also when a latent node has
    a larger bar.

    Parameters
    ----------
    voi : ValueOfInformation
        From :func:`forecast.analysis.counterfactuals.voi.value_of_information`.
    scenario : Scenario, optional
        For node labels.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        Two axes; the bars carry the gid ``"voi:<node>"``; the caption saying why the
        highlighted node is the one to watch has the gid ``"voi_reason"``.
    """
    summary = voi.summary()
    nodes = list(summary.index)
    questions = list(dict.fromkeys(voi.table["question"]))
    grid = (
        voi.table.pivot(index="node", columns="question", values="expected_abs_change")
        .loc[nodes, questions]
        .to_numpy()
        * 100
    )

    def name(node: str, wrap: int = 24) -> str:
        label = scenario.node(node).label if scenario is not None else node
        label += "" if summary.loc[node, "observed_before"] else " (latent)"
        return textwrap.fill(label, wrap)

    watch = voi.to_watch()
    with plot_style():
        fig, (ax, bars) = new_figure(
            MAX_WIDTH_IN,
            0.45 * len(nodes) + 3.0,
            1,
            2,
            gridspec_kw={"width_ratios": [max(len(questions), 3), 3.6]},
        )
        image = ax.imshow(grid, cmap="Greens", aspect="auto", vmin=0)
        peak = float(np.nanmax(grid)) if grid.size else 0.0
        for (i, j), value in np.ndenumerate(grid):
            ax.text(
                j,
                i,
                f"{value:.1f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if value > 0.6 * peak else PALETTE["ink"],
            )
        ax.set_yticks(range(len(nodes)))
        ax.set_yticklabels([name(n) for n in nodes], fontsize=9)
        ax.set_xticks(range(len(questions)))
        ax.set_xticklabels(questions, rotation=40, ha="right", fontsize=9)
        ax.set_xlabel("forecast (outcome by date)")
        ax.set_title("expected change of each forecast (percentage points)", fontsize=10)
        ax.grid(False)
        image.set_gid("voi_grid")
        totals = summary["total_abs_change"].to_numpy() * 100
        y = np.arange(len(nodes))
        colour = PALETTE["observation"]
        for yi, node, total in zip(y, nodes, totals, strict=True):
            if node == watch:
                style = {"color": colour}
            elif summary.loc[node, "observed_before"]:
                style = {"color": colour, "alpha": 0.4}
            else:
                style = {"facecolor": "white", "edgecolor": colour, "hatch": "///", "lw": 0.8}
            bars.barh(yi, total, height=0.7, gid=f"voi:{node}", **style)
            bars.text(
                total,
                yi,
                f" {total:.1f}",
                va="center",
                fontsize=9,
                color=PALETTE["ink"],
                fontweight="bold" if node == watch else "normal",
            )
        bars.set_yticks(y)
        bars.set_yticklabels([])
        bars.set_ylim(len(nodes) - 0.5, -0.5)
        bars.set_xlim(0, max(float(totals.max()) * 1.3, 0.1))
        bars.set_xlabel("summed over the forecasts (pp)")
        label = name(watch, 200).replace(" (latent)", "")
        bars.set_title(textwrap.fill(f"watch first: {label}", 26), fontsize=10, loc="left")
        reason = fig.supxlabel(textwrap.fill(_watch_reason(voi, watch, label), 130), fontsize=9)
        reason.set_gid("voi_reason")
        bars.grid(axis="y", visible=False)
        fig.suptitle(
            title
            or f"Value of observing each node in {voi.month}: expected change of the forecasts",
            fontsize=12,
        )
    return fig


QUADRANTS = (
    ("prior-data conflict:\nboth move it", 0.98, 0.98, "right", "top"),
    ("strong prior / weak likelihood:\nthe judgements drive it", 0.98, 0.02, "right", "bottom"),
    ("weak likelihood:\nneither moves it much", 0.02, 0.02, "left", "bottom"),
    ("evidence dominates:\nthe evidence drives it", 0.02, 0.98, "left", "top"),
)
"""Kallioinen's diagnoses, each in words, in the corner of its quadrant."""
X_LABEL = (
    "how much the forecast moves when the priors are made stronger or weaker\n"
    "(prior sensitivity: power-scaling, CJS distance)"
)
Y_LABEL = (
    "how much the forecast moves when the evidence\nis made stronger or weaker\n"
    "(likelihood sensitivity: power-scaling, CJS distance)"
)
LABEL_OFFSETS = tuple(
    (r * dx, r * dy)
    for r in (1.0, 2.2, 3.6, 5.2, 7.0)
    for dx, dy in ((5, 3), (5, -3), (-5, 3), (-5, -3), (0, 6), (0, -6), (7, 0), (-7, 0))
) + tuple((dx, sign * 12 * k) for k in range(3, 13) for sign in (1, -1) for dx in (12, -12))
"""Offsets (points) tried for a point's label, nearest first: rings round the point, then
stacks of label rows above and below it (a crowd's labels, with leader lines)."""


def _overlap(box, others) -> float:
    return sum(
        max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0))
        * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
        for o in others
    )


def _place_labels(ax, labelled: list[tuple[float, float, str]]) -> None:
    """Label points without overlaps: each label takes the nearest free offset.

    A label is kept clear of the other labels, of every marker, of the quadrant notes and of
    the axes' edges; a label placed away from its point gets a thin leader line. Where no
    offset is free the one with the least overlap is taken and a warning logged.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    markers = [
        line.get_window_extent(renderer).padded(1)
        for line in ax.get_lines()
        if str(line.get_gid()).startswith("psens:")
    ]
    taken = [t.get_window_extent(renderer).padded(2) for t in ax.texts if t.get_gid() == "quadrant"]
    for arrow in ax.texts:  # the moves from the first fit to the last, sampled along their line
        if arrow.get_gid() == "psens_move":
            start, end = (ax.transData.transform(p) for p in (arrow.xyann, arrow.xy))
            for t in np.linspace(0.0, 1.0, 12):
                x, y = start + t * (end - start)
                markers.append(Bbox.from_extents(x - 1, y - 1, x + 1, y + 1))
    for x, y, text in labelled:
        label = ax.annotate(
            text,
            (x, y),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=9,
            color=PALETTE["ink"],
            gid=f"psens_label:{text}",
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": PALETTE["ink"], "shrinkB": 3},
        )
        best, best_cost = LABEL_OFFSETS[0], np.inf
        for dx, dy in LABEL_OFFSETS:
            label.set_position((dx, dy))
            label.set_ha("left" if dx > 0 else "right" if dx < 0 else "center")
            label.set_va("bottom" if dy > 0 else "top" if dy < 0 else "center")
            label.update_positions(renderer)
            box = Text.get_window_extent(label, renderer).padded(1)  # the text, not its leader
            outside = (
                box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1
            )
            cost = _overlap(box, taken + markers) + (1e6 if outside else 0.0)
            if cost < best_cost:
                best, best_cost = (dx, dy), cost
            if cost == 0:
                break
        if best_cost > 0:
            logger.warning("the label of %s overlaps another label or a point", text)
        dx, dy = best
        label.set_position(best)
        label.set_ha("left" if dx > 0 else "right" if dx < 0 else "center")
        label.set_va("bottom" if dy > 0 else "top" if dy < 0 else "center")
        label.arrow_patch.set_visible(abs(dx) > 8 or abs(dy) > 8)  # a leader when away
        label.update_positions(renderer)
        taken.append(Text.get_window_extent(label, renderer).padded(2))


def plot_power_scaling(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    threshold: float = 0.05,
    kind: str = "question",
    title: str | None = None,
) -> Figure:
    """How much each forecast moves when the priors or the evidence are made stronger or weaker.

    Power-scaling (Kallioinen et al. 2023): the prior, or the likelihood, is raised to a power
    near 1 and the move of each quantity's distribution measured (cumulative Jensen-Shannon
    distance). The threshold splits the plane into Kallioinen's four diagnoses, named in words
    in their corners. Points are labelled with their quantity, each label at the nearest place
    where it overlaps no other label, point or corner note.

    Parameters
    ----------
    tables : DataFrame or mapping of str to DataFrame
        From :func:`forecast.analysis.counterfactuals.sensitivity.power_scaling`; several fits
        (label -> table) are drawn in the fit colours, with an arrow from each quantity's
        first position to its last; only the last fit's points are labelled.
    threshold : float
        The sensitivity threshold (dashed lines).
    kind : str
        ``"question"``, ``"parameter"`` or ``"all"``: the rows plotted.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes, log-log; points carry the gid ``"psens:<label>:<quantity>"`` and their labels
        ``"psens_label:<quantity>"``. Quantities fixed by the evidence (no sensitivity) are
        left out and counted in the legend, below the axes.
    """
    if isinstance(tables, pd.DataFrame):
        tables = {"fit": tables}
    floor = 1e-4
    points: dict[str, dict[str, tuple[float, float]]] = {}
    values = [threshold]
    handles = []
    labelled: list[tuple[float, float, str]] = []
    with plot_style():
        fig, ax = new_figure(9.0, 7.4)
        for k, (label, table) in enumerate(tables.items()):
            rows = table.reset_index() if "quantity" not in table.columns else table
            rows = rows if kind == "all" else rows[rows["kind"] == kind]
            finite = rows[
                np.isfinite(rows["prior_sensitivity"]) & np.isfinite(rows["likelihood_sensitivity"])
            ]
            colour = fit_colour(k) if len(tables) > 1 else PALETTE["posterior"]
            x = np.maximum(finite["prior_sensitivity"].to_numpy(), floor)
            y = np.maximum(finite["likelihood_sensitivity"].to_numpy(), floor)
            values += [*x, *y]
            fixed = len(rows) - len(finite)
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="none",
                    marker="o",
                    color=colour,
                    ms=5,
                    label=f"{label} ({fixed} fixed by the evidence, not shown)" if fixed else label,
                )
            )
            points[label] = {}
            last = k == len(tables) - 1
            for xi, yi, quantity in zip(x, y, finite["quantity"], strict=True):
                ax.plot(
                    xi,
                    yi,
                    "o",
                    color=colour,
                    ms=5 if last else 4,
                    alpha=1.0 if last else 0.7,
                    gid=f"psens:{label}:{quantity}",
                )
                if last:  # earlier fits are linked by arrows, not labelled (they would crowd)
                    labelled.append((xi, yi, quantity))
                points[label][quantity] = (xi, yi)
        if len(points) > 1:
            first, final = points[next(iter(points))], points[list(points)[-1]]
            for quantity in first.keys() & final.keys():
                (x0, y0), (x1, y1) = first[quantity], final[quantity]
                ax.annotate(
                    "",
                    (x1, y1),
                    (x0, y0),
                    arrowprops={"arrowstyle": "->", "lw": 0.6, "color": INK, "alpha": 0.5},
                    gid="psens_move",
                )
            handles.append(
                Line2D(
                    [],
                    [],
                    color=INK,
                    alpha=0.5,
                    lw=0.6,
                    marker=">",
                    ms=4,
                    label="from the first fit to the last",
                )
            )
        lo, hi = min(values) / 2, max(values) * 2
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.axvline(threshold, color=PALETTE["ink"], lw=0.9, ls="--")
        ax.axhline(threshold, color=PALETTE["ink"], lw=0.9, ls="--")
        handles.append(
            Line2D([], [], color=PALETTE["ink"], lw=0.9, ls="--", label=f"threshold {threshold}")
        )
        for text, xt, yt, ha, va in QUADRANTS:
            ax.text(
                xt,
                yt,
                text,
                ha=ha,
                va=va,
                ma=ha,
                fontsize=9.5,
                color="#6a6a6a",
                zorder=0,
                transform=ax.transAxes,
                gid="quadrant",
                linespacing=1.15,
            )
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel(Y_LABEL)
        ax.grid(alpha=0.3, which="major")
        fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9)
        ax.set_title(
            title or f"Prior vs data: power-scaling sensitivity (threshold {threshold})",
            fontsize=11,
        )
        _place_labels(ax, labelled)
    return fig
