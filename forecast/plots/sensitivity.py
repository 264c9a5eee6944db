"""Sensitivity figures: tornado charts of prior edits, value of information, power-scaling."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from forecast.analysis.counterfactuals.voi import ValueOfInformation
from forecast.plots.style import FIT_COLOURS, PALETTE
from forecast.scenario.validated import Scenario
from forecast.settings import PARETO_K_MAX

__all__ = ["plot_power_scaling", "plot_tornado", "plot_value_of_information"]

logger = logging.getLogger(__name__)

LOW_COLOUR = PALETTE["as_of"]
HIGH_COLOUR = PALETTE["posterior"]


def _outcome_labels(scenario: Scenario | None) -> dict[str, str]:
    return {o.id: o.label for o in scenario.outcomes} if scenario is not None else {}


def plot_tornado(
    table: pd.DataFrame,
    scenario: Scenario | None = None,
    date: str | None = None,
    outcomes: Sequence[str] | None = None,
    top: int = 6,
    title: str | None = None,
) -> Figure:
    """One tornado per outcome: how far its forecast moves as each best guess crosses its interval.

    Each bar starts at the forecast as fitted (black line) and ends at the forecast with one
    rule's best guess at the low end (orange) or the high end (blue) of its interval; rules
    are sorted by swing, largest on top; whiskers are two Monte Carlo standard errors (a swing
    inside them is noise of the re-weighting). Hatched bars had heavy-tailed importance weights
    (Pareto k above the threshold): their length is uncertain. Bars outlined in black were
    re-computed (see ``recompute`` of ``tornado_table``).

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
        One axes per outcome; bars carry the gid ``"<outcome>:<rule>:<destination>:<end>"``.

    Raises
    ------
    ValueError
        If nothing in the table matches the date and outcomes.
    """
    import matplotlib.pyplot as plt

    date = date or str(max(table["date"]))
    rows = table[table["date"] == date]
    wanted = list(dict.fromkeys(rows["outcome"])) if outcomes is None else list(outcomes)
    rows = rows[rows["outcome"].isin(wanted)]
    if rows.empty:
        raise ValueError(f"the table has no forecast for {wanted} on {date}")
    labels = _outcome_labels(scenario)
    heights = [min(top, int((rows["outcome"] == o).sum())) for o in wanted]
    fig, axes = plt.subplots(
        len(wanted),
        1,
        figsize=(11.0, sum(0.42 * h + 1.0 for h in heights) + 0.9),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": [h + 2.0 for h in heights]},
    )
    for ax, outcome in zip(axes[:, 0], wanted, strict=True):
        part = (
            rows[rows["outcome"] == outcome]
            .sort_values("swing", ascending=False, kind="stable")
            .head(top)
        )
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
                if flagged:
                    flagged_ks.append(getattr(row, f"k_{end}"))
                ax.barh(
                    yi,
                    value - baseline,
                    left=baseline,
                    height=0.62,
                    color=colour,
                    alpha=0.85,
                    hatch="///" if flagged else None,
                    edgecolor="black" if redone else ("white" if flagged else colour),
                    linewidth=1.0 if redone else 0,
                    gid=f"{outcome}:{row.rule}:{row.destination}:{end}",
                )
                se = float(getattr(row, f"{end}_se"))
                if np.isfinite(se) and se > 0:
                    ax.errorbar(
                        value,
                        yi,
                        xerr=2 * se,
                        fmt="none",
                        ecolor="#333333",
                        elinewidth=0.9,
                        capsize=2.5,
                    )
            if flagged_ks:
                ax.text(
                    max(row.low, row.high),
                    yi,
                    f"  k={max(flagged_ks):.2f}",
                    va="center",
                    fontsize=7.5,
                    color="#444444",
                )
        ax.axvline(baseline, color="black", lw=1.2)
        ax.set_yticks(y)
        ax.set_yticklabels(
            [
                f"{r.label}  [{r.interval_low:g}, {r.interval_high:g}]\n{r.rule}"
                for r in part.itertuples()
            ],
            fontsize=7.5,
            linespacing=1.1,
        )
        ax.set_ylim(-0.6, len(part) - 0.4)
        spread = 2 * part[["low_se", "high_se"]].fillna(0).to_numpy()
        lo = float(min((part[["low", "high"]].to_numpy() - spread).min(), baseline))
        hi = float(max((part[["low", "high"]].to_numpy() + spread).max(), baseline))
        pad = max((hi - lo) * 0.12, 0.002)
        ax.set_xlim(max(0.0, lo - pad), min(1.0, hi + pad * 2.2))
        name = labels.get(outcome, outcome)
        ax.set_title(
            f"{name}: forecast for {date} is {baseline:.3f} as fitted", fontsize=10, loc="left"
        )
        ax.set_xlabel(f"P({name}) by {date}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    handles = [
        Patch(color=LOW_COLOUR, label="best guess at the interval's low end"),
        Patch(color=HIGH_COLOUR, label="best guess at the interval's high end"),
        Patch(
            facecolor="#bbbbbb",
            hatch="///",
            edgecolor="white",
            label=f"Pareto k > {PARETO_K_MAX}: estimate unreliable",
        ),
        Patch(
            facecolor="#bbbbbb",
            edgecolor="black",
            linewidth=1.0,
            label=f"re-computed (k > {PARETO_K_MAX} when re-weighted)",
        ),
        plt.Line2D([], [], color="black", lw=1.2, label="forecast as fitted"),
        plt.Line2D(
            [],
            [],
            color="#333333",
            lw=0.9,
            marker="|",
            ms=6,
            label="±2 Monte Carlo standard errors",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=8.5)
    fig.suptitle(
        title
        or "Which prior moves each forecast most (rule: from->to | given [stated interval], id)",
        fontsize=12,
    )
    return fig


def plot_value_of_information(
    voi: ValueOfInformation, scenario: Scenario | None = None, title: str | None = None
) -> Figure:
    """Expected change of every forecast if one node were observed next month.

    Left: a heat map of the expected absolute change (percentage points) of each forecast
    (columns) from observing each node (rows). Right: the change summed over the forecasts,
    the node to watch first highlighted. Nodes the scenario never observes are marked latent.

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
        Two axes; the bars carry the gid ``"voi:<node>"``.
    """
    import matplotlib.pyplot as plt

    summary = voi.summary()
    nodes = list(summary.index)
    questions = list(dict.fromkeys(voi.table["question"]))
    grid = (
        voi.table.pivot(index="node", columns="question", values="expected_abs_change")
        .loc[nodes, questions]
        .to_numpy()
        * 100
    )

    def name(node: str) -> str:
        label = scenario.node(node).label if scenario is not None else node
        return label + ("" if summary.loc[node, "observed_before"] else " (latent)")

    fig, (ax, bars) = plt.subplots(
        1,
        2,
        figsize=(11.5, 0.42 * len(nodes) + 2.9),
        layout="constrained",
        gridspec_kw={"width_ratios": [max(len(questions), 3), 3.2]},
    )
    image = ax.imshow(grid, cmap="Blues", aspect="auto", vmin=0)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(
            j,
            i,
            f"{value:.1f}",
            ha="center",
            va="center",
            fontsize=7.5,
            color="white" if value > 0.6 * np.nanmax(grid) else "black",
        )
    ax.set_yticks(range(len(nodes)))
    ax.set_yticklabels([name(n) for n in nodes], fontsize=8.5)
    ax.set_xticks(range(len(questions)))
    ax.set_xticklabels(questions, rotation=40, ha="right", fontsize=8)
    ax.set_xlabel("forecast (outcome by date)")
    fig.colorbar(image, ax=ax, label="expected absolute change (percentage points)", shrink=0.8)
    watch = voi.to_watch()
    totals = summary["total_abs_change"].to_numpy() * 100
    y = np.arange(len(nodes))
    for yi, node, total in zip(y, nodes, totals, strict=True):
        colour = PALETTE["evidence"] if node == watch else PALETTE["posterior"]
        bars.barh(yi, total, color=colour, alpha=0.85, gid=f"voi:{node}")
        bars.text(total, yi, f" {total:.1f}", va="center", fontsize=8)
    bars.set_yticks(y)
    bars.set_yticklabels([])
    bars.set_ylim(len(nodes) - 0.5, -0.5)
    bars.set_xlim(0, max(float(totals.max()) * 1.3, 0.1))
    bars.set_xlabel("summed over forecasts (pp)")
    bars.set_title(f"watch first: {name(watch)}", fontsize=9, color=PALETTE["evidence"])
    bars.grid(axis="x", alpha=0.3)
    fig.suptitle(
        title or f"Value of observing each node in {voi.month}: expected change of the forecasts",
        fontsize=12,
    )
    return fig


def plot_power_scaling(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    threshold: float = 0.05,
    kind: str = "question",
    title: str | None = None,
) -> Figure:
    """Prior against likelihood power-scaling sensitivity, with Kallioinen's quadrants.

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
        One axes, log-log; points carry the gid ``"psens:<label>:<quantity>"``. Quantities
        fixed by the evidence (no sensitivity) are left out and counted in the legend.
    """
    import matplotlib.pyplot as plt

    if isinstance(tables, pd.DataFrame):
        tables = {"fit": tables}
    fig, ax = plt.subplots(figsize=(9.0, 6.6), layout="constrained")
    floor = 1e-4
    points: dict[str, dict[str, tuple[float, float]]] = {}
    values = [threshold]
    for k, (label, table) in enumerate(tables.items()):
        rows = table.reset_index() if "quantity" not in table.columns else table
        rows = rows if kind == "all" else rows[rows["kind"] == kind]
        finite = rows[
            np.isfinite(rows["prior_sensitivity"]) & np.isfinite(rows["likelihood_sensitivity"])
        ]
        colour = FIT_COLOURS[k % len(FIT_COLOURS)] if len(tables) > 1 else PALETTE["posterior"]
        x = np.maximum(finite["prior_sensitivity"].to_numpy(), floor)
        y = np.maximum(finite["likelihood_sensitivity"].to_numpy(), floor)
        values += [*x, *y]
        fixed = len(rows) - len(finite)
        ax.plot(
            [],
            [],
            "o",
            color=colour,
            ms=5,
            label=f"{label} ({fixed} fixed by the evidence, not shown)" if fixed else label,
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
            if last:  # earlier fits are linked by arrows, not labelled (they would overlap)
                ax.annotate(
                    quantity,
                    (xi, yi),
                    xytext=(4, 2),
                    textcoords="offset points",
                    fontsize=7,
                    color="#333333",
                )
            points[label][quantity] = (xi, yi)
    if len(points) > 1:
        first, last = points[next(iter(points))], points[list(points)[-1]]
        for quantity in first.keys() & last.keys():
            (x0, y0), (x1, y1) = first[quantity], last[quantity]
            ax.annotate(
                "",
                (x1, y1),
                (x0, y0),
                arrowprops={"arrowstyle": "->", "lw": 0.6, "color": "#9a9a9a"},
            )
    lo, hi = min(values) / 2, max(values) * 2
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.axvline(threshold, color="black", lw=0.9, ls="--")
    ax.axhline(threshold, color="black", lw=0.9, ls="--")
    for text, xt, yt, ha, va in (
        ("prior-data conflict", 0.98, 0.98, "right", "top"),
        ("strong prior / weak likelihood", 0.98, 0.02, "right", "bottom"),
        ("weak likelihood", 0.02, 0.02, "left", "bottom"),
        ("evidence dominates", 0.02, 0.90, "left", "top"),
    ):
        ax.text(
            xt,
            yt,
            text,
            ha=ha,
            va=va,
            fontsize=10,
            color="#7a7a7a",
            zorder=0,
            transform=ax.transAxes,
        )
    ax.set_xlabel("prior sensitivity (power-scaling, CJS distance)")
    ax.set_ylabel("likelihood sensitivity (power-scaling, CJS distance)")
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="upper left", fontsize=8.5, frameon=False)
    ax.set_title(
        title or f"Prior vs data: power-scaling sensitivity (threshold {threshold})", fontsize=11
    )
    return fig
