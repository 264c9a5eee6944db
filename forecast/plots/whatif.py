"""What-if figures: outcome curves under the baseline, an intervention and an observation."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from forecast.analysis.counterfactuals.whatif import CASES, WhatIf
from forecast.plots.style import (
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    format_month_axis,
    new_figure,
    plot_style,
    tag,
)
from forecast.scenario.validated import Scenario

__all__ = ["CASE_STYLES", "plot_what_if", "plot_what_ifs"]

CASE_ROLES = {"baseline": "posterior", "do": "intervention", "observe": "observation"}
"""The meaning (and so the colour) of each case."""

CASE_STYLES = {
    "baseline": (ROLE_COLOURS["posterior"], "-", "baseline (fit)"),
    "do": (ROLE_COLOURS["intervention"], "-", "do(): node set"),
    "observe": (ROLE_COLOURS["observation"], "--", "observe(): node seen"),
}
"""Colour, mean line style and legend name of each case."""


def _draw_case(ax: Axes, curve: pd.DataFrame, case: str) -> None:
    colour, style, _ = CASE_STYLES[case]
    role = CASE_ROLES[case]
    dates = list(curve["date"])
    if {"low50", "high50"} <= set(curve.columns):
        tag(
            ax.fill_between(
                dates, curve["low50"], curve["high50"], color=colour, alpha=0.18, linewidth=0
            ),
            role,
        )
    if {"low90", "high90"} <= set(curve.columns):
        # the 90% band as its two edges: three overlaid filled bands would hide each other
        for edge in ("low90", "high90"):
            tag(ax.plot(dates, curve[edge], color=colour, lw=0.9, ls=style, alpha=0.75)[0], role)
    tag(ax.plot(dates, curve["mean"], color=colour, lw=2.2, ls=style)[0], role)


def _y_range(top: float) -> tuple[float, float]:
    """A range that shows small probabilities (at least 0 to 0.05), or 0 to 1."""
    top = 1.0 if top > 0.6 else max(0.05, top * 1.15)
    return -0.03 * top, top * 1.03


def _setting_lines(result: WhatIf, contrast: str) -> list[str]:
    """One line per node the contrast sets: ``node = state, 2024-11 on``."""
    return [
        f"{i.node} = {i.state}, " + i.describe().split(", ", 1)[1].rstrip(")")
        for i in result.contrasts[contrast]
    ]


def _ess_text(result: WhatIf, contrast: str) -> str:
    row = result.ess.set_index(["contrast", "case"]).loc[(contrast, "observe")]
    return f"observe: ESS {row['ess']:.0f} of {row['draws']:.0f} draws"


def _outcome_label(scenario: Scenario, oid: str, width: int) -> str:
    spec = next(o for o in scenario.outcomes if o.id == oid)
    when = "by month end" if spec.kind == "reached" else "at month end"
    return textwrap.fill(f"{spec.label} ({when})", width)


def _panel(
    ax: Axes, result: WhatIf, scenario: Scenario, contrast: str, oid: str, xlabel: bool
) -> None:
    """The three cases of one outcome under one contrast, the set months shaded."""
    for setting in result.contrasts[contrast]:
        start, end = setting.period(scenario)
        tag(
            ax.axvspan(start, end, color=ROLE_COLOURS["guide"], alpha=0.35, lw=0, zorder=0), "guide"
        )
    if result.as_of is not None:
        tag(ax.axvline(result.as_of, color=ROLE_COLOURS["ink"], lw=1, ls=":"), "ink")
    curves = result.curves
    here = curves[(curves["contrast"] == contrast) & (curves["outcome"] == oid)]
    for case in CASES:
        _draw_case(ax, here[here["case"] == case], case)
    format_month_axis(ax, months=(1, 7), label="month (end)" if xlabel else "")


def _y_limits(result: WhatIf, oid: str, contrasts: Sequence[str]) -> tuple[float, float]:
    curves = result.curves
    here = curves[(curves["outcome"] == oid) & curves["contrast"].isin(contrasts)]
    column = "high90" if "high90" in here else "mean"
    return _y_range(float(here[column].max()))


def _legend(fig: Figure, result: WhatIf, ncol: int) -> None:
    handles: list[object] = []
    labels: list[str] = []
    for case in CASES:
        colour, style, name = CASE_STYLES[case]
        handles.append(
            (Patch(color=colour, alpha=0.18, lw=0), Line2D([], [], color=colour, lw=2.2, ls=style))
        )
        labels.append(f"{name}: mean, 50% band")
    handles.append(Line2D([], [], color=ROLE_COLOURS["ink"], lw=0.9, alpha=0.75))
    labels.append("thin lines: 90% band edges")
    handles.append(Patch(color=ROLE_COLOURS["guide"], alpha=0.35, lw=0))
    labels.append("months set (do) or seen (observe)")
    if result.as_of is not None:
        handles.append(Line2D([], [], color=ROLE_COLOURS["ink"], lw=1, ls=":"))
        labels.append(f"evidence cut-off {result.as_of}")
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol)


def _check(result: WhatIf, outcomes: Sequence[str], contrasts: Sequence[str]) -> None:
    missing = [o for o in outcomes if o not in result.outcomes] + [
        c for c in contrasts if c not in result.contrasts
    ]
    if missing:
        raise ValueError(f"not in the result: {', '.join(missing)}")


def plot_what_if(
    result: WhatIf,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    contrasts: Sequence[str] | None = None,
    title: str | None = None,
    panel_height: float = 2.3,
) -> Figure:
    """Outcome probabilities by month under the baseline, do() and observe(), side by side.

    One column per contrast and one row per outcome, in one figure at most
    :data:`~forecast.plots.style.MAX_WIDTH_IN` wide: meant for two or three contrasts; for
    more, :func:`plot_what_ifs` draws one figure per contrast. Each panel overlays the
    three cases (baseline in the posterior colour, do() in the intervention colour,
    observe() in the observation colour, dashed) with their means, 50% bands (shaded) and
    90% bands (thin lines at their edges), which show the parameter uncertainty the fit
    left. The months the contrast sets or sees are shaded, the fit's evidence cut-off is a
    dotted line, and each column's title gives the effective sample size of the re-weighted
    draws under the observation. Rows share their y range so that contrasts compare at a
    glance.

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
    panel_height : float
        Height of one panel, in inches.

    Returns
    -------
    Figure
        Axes in row-major order (outcomes by contrasts).
    """
    rows = list(result.outcomes if outcomes is None else outcomes)
    cols = list(result.contrasts if contrasts is None else contrasts)
    _check(result, rows, cols)
    with plot_style():
        fig, axes = new_figure(
            MAX_WIDTH_IN,
            panel_height * len(rows) + 2.2,
            len(rows),
            len(cols),
            squeeze=False,
            sharex=True,
        )
        for j, contrast in enumerate(cols):
            lines = [contrast, *_setting_lines(result, contrast), _ess_text(result, contrast)]
            # about as many 10 pt characters as a column holds, so that titles do not meet
            header = "\n".join(textwrap.fill(line, max(16, 120 // len(cols))) for line in lines)
            for i, oid in enumerate(rows):
                ax = axes[i, j]
                _panel(ax, result, scenario, contrast, oid, xlabel=i == len(rows) - 1)
                ax.set_ylim(*_y_limits(result, oid, cols))
                if i == 0:
                    ax.set_title(header, fontsize=10)
                if j == 0:
                    ax.set_ylabel(_outcome_label(scenario, oid, 22) + "\nprobability")
        _legend(fig, result, ncol=3)
        fig.suptitle(title or f"{scenario.spec.title}: what if?")
    return fig


def plot_what_ifs(
    result: WhatIf,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    contrasts: Sequence[str] | None = None,
    ncols: int = 2,
    title: str | None = None,
    panel_height: float = 2.4,
) -> list[Figure]:
    """One figure per contrast: each outcome's probability by month, baseline, do(), observe().

    A figure's panels are the outcomes (``ncols`` to a row, sharing the month axis), each
    drawn as in :func:`plot_what_if`: the baseline in the posterior colour, do() in the
    intervention colour, observe() in the observation colour (dashed), each with its mean,
    50% band (shaded) and 90% band (thin edges); the months set or seen are shaded and the
    evidence cut-off is dotted. An outcome keeps the same y range in every figure, so the
    figures compare panel by panel. The title names the contrast, the nodes it sets and the
    effective sample size of the observation's re-weighted draws.

    Parameters
    ----------
    result : WhatIf
        From :func:`forecast.analysis.counterfactuals.whatif.what_if`.
    scenario : Scenario
        The scenario.
    outcomes : sequence of str, optional
        Outcome ids, one panel each (default: all in the result).
    contrasts : sequence of str, optional
        Contrast labels, one figure each (default: all in the result, in order).
    ncols : int
        Panels per row.
    title : str, optional
        Words put before each figure's title (e.g. the fit's cut-off).
    panel_height : float
        Height of one panel, in inches.

    Returns
    -------
    list of Figure
        One per contrast, in order; a figure's axes are its outcomes, in order.
    """
    rows = list(result.outcomes if outcomes is None else outcomes)
    cols = list(result.contrasts if contrasts is None else contrasts)
    _check(result, rows, cols)
    ncols = max(1, min(ncols, len(rows)))
    nrows = math.ceil(len(rows) / ncols)
    limits = {oid: _y_limits(result, oid, cols) for oid in rows}
    figures = []
    with plot_style():
        for contrast in cols:
            fig, axes = new_figure(
                MAX_WIDTH_IN, panel_height * nrows + 1.9, nrows, ncols, squeeze=False, sharex=True
            )
            flat = list(axes.ravel())
            for ax in flat[len(rows) :]:
                ax.remove()
            for k, (ax, oid) in enumerate(zip(flat, rows, strict=False)):
                last_row = k + ncols >= len(rows)
                _panel(ax, result, scenario, contrast, oid, xlabel=last_row)
                if not last_row:
                    ax.tick_params(labelbottom=False)
                ax.set_ylim(*limits[oid])
                ax.set_title(_outcome_label(scenario, oid, 48), fontsize=10)
                if k % ncols == 0:
                    ax.set_ylabel("probability")
            head = f"{title}: " if title else ""
            settings = "; ".join(_setting_lines(result, contrast))
            fig.suptitle(
                f"{head}what if {contrast}? ({settings})\n{_ess_text(result, contrast)}",
                fontsize=11,
            )
            _legend(fig, result, ncol=3)
            figures.append(fig)
    return figures
