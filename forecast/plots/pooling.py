"""Several forecasters and their pools: priors side by side, forecasts, and disagreement."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from forecast.analysis.pooling import LINEAR_POOL, LOG_POOL, PRIOR_STAGE
from forecast.plots.style import FIT_COLOURS, PALETTE, wrap_rule_id
from forecast.scenario.validated import Scenario

__all__ = [
    "FORECASTER_COLOURS",
    "plot_disagreement",
    "plot_forecaster_priors",
    "plot_pooled_forecasts",
]

FORECASTER_COLOURS = (*FIT_COLOURS, PALETTE["evidence"], PALETTE["lag"], PALETTE["prior"])
"""Colours of forecasters (and pools) in the order given, from the package palette."""

_LOGIT_TICKS = (1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)


def _stage_colours(stages: Sequence[str]) -> dict[str, str]:
    """The prior grey, later stages in the fit colours (cut-off orange, all evidence blue)."""
    later = [s for s in stages if s != PRIOR_STAGE]
    colours = {s: FIT_COLOURS[k % len(FIT_COLOURS)] for k, s in enumerate(later)}
    return {s: PALETTE["prior"] if s == PRIOR_STAGE else colours[s] for s in stages}


def _logit_axis(ax: Axes, lo: float, hi: float) -> None:
    ax.set_xscale("logit")
    ax.set_xlim(lo, hi)
    ticks = [t for t in _LOGIT_TICKS if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())


def _interval_columns(table: pd.DataFrame) -> tuple[str, str, int]:
    low = next(c for c in table.columns if c.startswith("low") and c[3:].isdigit())
    pct = int(low[3:])
    return low, f"high{pct}", pct


def plot_forecaster_priors(
    prior_table: pd.DataFrame, scenario: Scenario, title: str | None = None
) -> Figure:
    """Each forecaster's prior of the chosen rules side by side: mean and central interval.

    Parameters
    ----------
    prior_table : DataFrame
        From :func:`forecast.analysis.pooling.forecaster_prior_table` (forecasters and pooled
        priors, in the order they should appear).
    scenario : Scenario
        The shared structure (rule conditions for the labels).
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes; a row per rule destination (top to bottom in table order), a line per
        forecaster with gid ``"<forecaster>:<rule>:<destination>"``; logit x axis.
    """
    from forecast.analysis.summaries.priors import rule_condition

    low, high, pct = _interval_columns(prior_table)
    rules = {r.name: r for r in scenario.rules}
    items = list(dict.fromkeys(zip(prior_table["rule"], prior_table["destination"], strict=True)))
    names = list(dict.fromkeys(prior_table["forecaster"]))
    fig, ax = plt.subplots(figsize=(10.5, 0.62 * len(items) + 1.8), layout="constrained")
    step = 0.7 / max(1, len(names))
    y = np.arange(len(items))[::-1].astype(float)
    for k, name in enumerate(names):
        colour = FORECASTER_COLOURS[k % len(FORECASTER_COLOURS)]
        part = prior_table[prior_table["forecaster"] == name].set_index(["rule", "destination"])
        offset = 0.35 - step / 2 - k * step
        for i, item in enumerate(items):
            row = part.loc[item]
            ax.plot(
                [row[low], row[high]],
                [y[i] + offset] * 2,
                color=colour,
                lw=2.4,
                solid_capstyle="butt",
                gid=f"{name}:{item[0]}:{item[1]}",
            )
            ax.plot([row["mean"]], [y[i] + offset], "o", color=colour, ms=4.5)
            if not math.isnan(row["stated_best"]):
                ax.plot([row["stated_best"]], [y[i] + offset], "|", color="black", ms=7, mew=1.2)
    labels = []
    for rule, destination in items:
        rule_obj = rules[rule]
        words = textwrap.wrap(
            f"{rule_obj.node}: {rule_condition(rule_obj)} → {destination} "
            f"({rule_obj.within_months} mo)",
            46,
        )
        labels.append("\n".join([*words, wrap_rule_id(rule, 46)]))
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(-0.6, len(items) - 0.4)
    lo = float(np.clip(prior_table[low].min() * 0.6, 1e-4, 0.05))
    hi = float(np.clip(1 - (1 - prior_table[high].max()) * 0.6, 0.95, 1 - 1e-4))
    _logit_axis(ax, lo, hi)
    ax.set_xlabel(
        f"P(move within the rule's N months), logit scale: prior mean and {pct}% interval"
    )
    ax.grid(axis="x", alpha=0.3)
    handles = [
        Line2D(
            [],
            [],
            color=FORECASTER_COLOURS[k % len(FORECASTER_COLOURS)],
            lw=2.4,
            marker="o",
            ms=4.5,
            label=name,
        )
        for k, name in enumerate(names)
    ]
    handles.append(
        Line2D([], [], color="black", ls="", marker="|", ms=7, mew=1.2, label="stated best guess")
    )
    fig.legend(
        handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=9
    )
    ax.set_title(
        title or f"Forecasters' priors of {scenario.id}, as of {scenario.spec.priors_set_on}",
        fontsize=12,
    )
    return fig


def plot_pooled_forecasts(
    table: pd.DataFrame,
    questions: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
    pools: Sequence[str] | None = None,
    ncols: int = 3,
    xscale: str = "auto",
    title: str | None = None,
) -> Figure:
    """Each forecaster's and each pool's forecast of every question, by stage.

    A dot-and-whisker panel per question: a row per forecaster, then the pools below a
    line; per stage (prior grey, then the posteriors in the fit colours) the mean forecast
    with its central interval. The log pool has no interval and is drawn as a diamond.

    Parameters
    ----------
    table : DataFrame
        From :func:`forecast.analysis.pooling.pooled_forecast_table`.
    questions : sequence of str, optional
        Question ids, one panel each (default: every question in the table).
    stages : sequence of str, optional
        Stages to draw, in order (default: all, in table order).
    pools : sequence of str, optional
        Rows drawn below the line, in order (default: the linear and the log pool); a pooled
        prior fitted as a forecaster of its own can be listed here too.
    ncols : int
        Panels per row.
    xscale : {"auto", "linear", "logit"}
        Probability axis: ``"auto"`` is linear from 0 to the first of 0.05, 0.1, 0.2, 0.5
        and 1 that holds every value of the panel (rare events stay readable), ``"linear"``
        always 0 to 1, ``"logit"`` spreads out rare events (1% against 3%).
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes per question, in order; interval lines carry the gid
        ``"<forecaster>:<stage>:<question>"``.
    """
    if xscale not in ("auto", "linear", "logit"):
        raise ValueError(f"xscale must be 'auto', 'linear' or 'logit', not {xscale!r}")
    low, high, pct = _interval_columns(table)
    questions = list(dict.fromkeys(table["question"])) if questions is None else list(questions)
    unknown = [q for q in questions if q not in set(table["question"])]
    if unknown:
        raise ValueError(f"unknown question(s) {', '.join(unknown)}")
    stages = list(dict.fromkeys(table["stage"])) if stages is None else list(stages)
    colours = _stage_colours(stages)
    names = list(dict.fromkeys(table["forecaster"]))
    wanted = (LINEAR_POOL, LOG_POOL) if pools is None else tuple(pools)
    pools = [n for n in wanted if n in names]
    people = [n for n in names if n not in pools]
    rows = people + pools
    ncols = max(1, min(ncols, len(questions)))
    nrows = math.ceil(len(questions) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(5.0 * ncols, 0.42 * len(rows) * nrows + 1.3 * nrows + 0.9),
        squeeze=False,
        layout="constrained",
    )
    flat = list(axes.ravel())
    for ax in flat[len(questions) :]:
        ax.remove()
    step = 0.6 / max(1, len(stages))
    y = np.arange(len(rows))[::-1].astype(float)
    for ax, qid in zip(flat, questions, strict=False):
        part = table[table["question"] == qid]
        for k, stage in enumerate(stages):
            offset = 0.3 - step / 2 - k * step
            for i, name in enumerate(rows):
                row = part[(part["forecaster"] == name) & (part["stage"] == stage)]
                if row.empty:
                    continue
                row = row.iloc[0]
                if name == LOG_POOL or math.isnan(row[low]):
                    ax.plot(
                        [row["mean"]],
                        [y[i] + offset],
                        "D",
                        color=colours[stage],
                        ms=5,
                        gid=f"{name}:{stage}:{qid}",
                    )
                    continue
                ax.plot(
                    [row[low], row[high]],
                    [y[i] + offset] * 2,
                    color=colours[stage],
                    lw=2.2,
                    solid_capstyle="butt",
                    gid=f"{name}:{stage}:{qid}",
                )
                ax.plot([row["mean"]], [y[i] + offset], "o", color=colours[stage], ms=4)
        if pools and people:
            ax.axhline(y[len(people) - 1] - 0.5, color=PALETTE["node_edge"], lw=0.8, ls="--")
        ax.set_yticks(y)
        ax.set_yticklabels(rows, fontsize=8.5)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        first = part.iloc[0]
        ax.set_title("\n".join(textwrap.wrap(f"{qid}: {first['text']}", 48)), fontsize=9.5)
        if xscale == "logit":
            values = part[part["stage"].isin(stages)]
            lo = float(np.clip(np.nanmin(values[[low, "mean"]].to_numpy()) * 0.6, 1e-4, 0.05))
            hi = float(
                np.clip(
                    1 - (1 - np.nanmax(values[[high, "mean"]].to_numpy())) * 0.6, 0.95, 1 - 1e-4
                )
            )
            _logit_axis(ax, lo, hi)
        elif xscale == "auto":
            values = part[part["stage"].isin(stages)][[high, "mean"]].to_numpy()
            top = next((t for t in (0.05, 0.1, 0.2, 0.5) if np.nanmax(values) <= t), 1.0)
            ax.set_xlim(-0.02 * top, top * 1.02)
        else:
            ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel(f"probability (mean, {pct}% interval)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=colours[s], lw=2.2, marker="o", ms=4, label=s) for s in stages]
    if pools:
        handles.append(
            Line2D([], [], color="black", ls="", marker="D", ms=5, label="log pool (mean only)")
        )
    fig.legend(
        handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=9
    )
    fig.suptitle(title or "Forecasts by forecaster and pool: prior and posterior", fontsize=12)
    return fig


def plot_disagreement(
    disagreement: pd.DataFrame, questions: Sequence[str] | None = None, title: str | None = None
) -> Figure:
    """How far apart the forecasters are on each question, before and after the evidence.

    Per question, the range (max - min) of the forecasters' mean forecasts at each stage:
    the prior (grey) and each posterior (fit colours), joined by a line, so a shift to the
    left shows the evidence narrowing the disagreement.

    Parameters
    ----------
    disagreement : DataFrame
        From :func:`forecast.analysis.pooling.disagreement_table`.
    questions : sequence of str, optional
        Question ids (default: all, in table order), drawn top to bottom.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes; markers carry the gid ``"<stage>:<question>"``.
    """
    table = disagreement if questions is None else disagreement.loc[list(questions)]
    stages = [c[: -len(" range")] for c in table.columns if c.endswith(" range")]
    colours = _stage_colours(stages)
    fig, ax = plt.subplots(figsize=(10.0, 0.42 * len(table) + 1.6), layout="constrained")
    y = np.arange(len(table))[::-1].astype(float)
    for i, (qid, row) in enumerate(table.iterrows()):
        xs = [row[f"{s} range"] for s in stages]
        ax.plot(xs, [y[i]] * len(xs), color=PALETTE["node_edge"], lw=1, alpha=0.6, zorder=1)
        for stage, x in zip(stages, xs, strict=True):
            ax.plot([x], [y[i]], "o", color=colours[stage], ms=6, zorder=2, gid=f"{stage}:{qid}")
    ax.set_yticks(y)
    ax.set_yticklabels(
        ["\n".join(textwrap.wrap(f"{qid}: {row['text']}", 54)) for qid, row in table.iterrows()],
        fontsize=7.5,
    )
    ax.set_ylim(-0.6, len(table) - 0.4)
    ax.set_xlim(left=-0.01)
    ax.set_xlabel("disagreement: range of the forecasters' mean forecasts (max − min), probability")
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=colours[s], ls="", marker="o", ms=6, label=s) for s in stages]
    fig.legend(
        handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=9
    )
    ax.set_title(
        title or "Where the forecasters disagree, and how the evidence narrows it", fontsize=12
    )
    return fig
