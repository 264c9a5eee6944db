"""What-if figures: outcome curves under the baseline, an intervention and an observation."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from forecast.analysis.counterfactuals.whatif import CASES, WhatIf
from forecast.plots.style import FIT_COLOURS, PALETTE, format_month_axis
from forecast.scenario.validated import Scenario

__all__ = ["CASE_STYLES", "plot_what_if"]

CASE_STYLES = {
    "baseline": (PALETTE["posterior"], "-", "baseline (fit)"),
    "do": (FIT_COLOURS[2], "-", "do(): node forced"),
    "observe": (FIT_COLOURS[3], "--", "observe(): node seen"),
}
"""Colour, mean line style and legend name of each case."""

WINDOW_COLOUR = "#f3eef8"
"""Background of the months a contrast forces or observes (a light tint of the do colour)."""


def _draw_case(ax: Axes, curve: pd.DataFrame, case: str) -> None:
    colour, style, name = CASE_STYLES[case]
    dates = list(curve["date"])
    if {"low50", "high50"} <= set(curve.columns):
        ax.fill_between(
            dates,
            curve["low50"],
            curve["high50"],
            color=colour,
            alpha=0.2,
            linewidth=0,
            label=f"{name}: 50% band",
        )
    if {"low90", "high90"} <= set(curve.columns):
        # the 90% band as its two edges: three overlaid filled bands would hide each other
        ax.plot(
            dates,
            curve["low90"],
            color=colour,
            lw=0.9,
            ls=style,
            alpha=0.75,
            label=f"{name}: 90% band (edges)",
        )
        ax.plot(dates, curve["high90"], color=colour, lw=0.9, ls=style, alpha=0.75)
    ax.plot(dates, curve["mean"], color=colour, lw=2.2, ls=style, label=f"{name}: mean")


def _y_range(top: float) -> tuple[float, float]:
    """A range that shows small probabilities (at least 0 to 0.05), or 0 to 1."""
    top = 1.0 if top > 0.6 else max(0.05, top * 1.15)
    return -0.03 * top, top * 1.03


def plot_what_if(
    result: WhatIf,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    contrasts: Sequence[str] | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (4.6, 2.3),
) -> Figure:
    """Outcome probabilities by month under the baseline, do() and observe(), side by side.

    One column per contrast and one row per outcome; each panel overlays the three cases with
    their means, 50% bands (shaded) and 90% bands (thin lines at their edges), which show the
    parameter uncertainty the fit left. The months the contrast forces
    or observes are shaded, the fit's evidence cut-off is a dotted line, and each column's
    title gives the effective sample size of the re-weighted draws under the observation.
    Rows share their y range so that contrasts compare at a glance.

    Parameters
    ----------
    result : WhatIf
        From :func:`forecast.analysis.counterfactuals.whatif.what_if`.
    scenario : Scenario
        The scenario.
    outcomes : sequence of str, optional
        Outcome ids, one row each (default: all in the result).
    contrasts : sequence of str, optional
        Contrast labels, one column each (default: all in the result).
    title : str, optional
        Figure title.
    panel_size : tuple of float
        Width and height of one panel, in inches.

    Returns
    -------
    Figure
        Axes in row-major order (outcomes by contrasts).
    """
    curves = result.curves
    rows = list(result.outcomes if outcomes is None else outcomes)
    cols = list(result.contrasts if contrasts is None else contrasts)
    missing = [o for o in rows if o not in result.outcomes] + [
        c for c in cols if c not in result.contrasts
    ]
    if missing:
        raise ValueError(f"not in the result: {', '.join(missing)}")
    width, height = panel_size
    fig, axes = plt.subplots(
        len(rows),
        len(cols),
        figsize=(width * len(cols) + 0.8, height * len(rows) + 1.4),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )
    ess = result.ess.set_index(["contrast", "case"])
    labels = {o.id: o.label for o in scenario.outcomes}
    kinds = {o.id: o.kind for o in scenario.outcomes}
    for j, contrast in enumerate(cols):
        forced = result.contrasts[contrast]
        periods = [i.period(scenario) for i in forced]
        setting = "\n".join(
            f"{i.node} = {i.state}, " + i.describe().split(", ", 1)[1].rstrip(")") for i in forced
        )
        row_ess = ess.loc[(contrast, "observe")]
        header = (
            f"{contrast}\n{setting}\nobserve: ESS {row_ess['ess']:.0f} of "
            f"{row_ess['draws']:.0f} draws"
        )
        for i, oid in enumerate(rows):
            ax = axes[i, j]
            for start, end in periods:
                ax.axvspan(
                    start,
                    end,
                    color=WINDOW_COLOUR,
                    zorder=0,
                    linewidth=0,
                    label="months forced (do) or seen (observe)",
                )
            if result.as_of is not None:
                ax.axvline(
                    result.as_of,
                    color="black",
                    lw=1,
                    ls=":",
                    label=f"evidence cut-off {result.as_of}",
                )
            here = curves[(curves["contrast"] == contrast) & (curves["outcome"] == oid)]
            for case in CASES:
                _draw_case(ax, here[here["case"] == case], case)
            ax.grid(alpha=0.3)
            format_month_axis(ax, months=(1, 7), label="month (end)" if i == len(rows) - 1 else "")
            if i == 0:
                ax.set_title(header, fontsize=9.5)
            if j == 0:
                when = "by month end" if kinds[oid] == "reached" else "at month end"
                ax.set_ylabel(
                    textwrap.fill(f"{labels[oid]} ({when})", 24) + "\nprobability", fontsize=8.5
                )
    for i, oid in enumerate(rows):
        here = curves[(curves["outcome"] == oid) & curves["contrast"].isin(cols)]
        low, high = _y_range(
            float(here["high90"].max()) if "high90" in here else float(here["mean"].max())
        )
        for ax in axes[i]:
            ax.set_ylim(low, high)
    handles: dict[str, object] = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=4,
        frameon=False,
        fontsize=8.5,
    )
    fig.suptitle(title or f"{scenario.spec.title}: what if?", fontsize=12)
    return fig
