"""Several forecasters and their pools: priors side by side, forecasts, and disagreement.

A forecaster keeps one category colour in every figure (the ``k``-th forecaster of a table,
pools left out, takes :data:`~forecast.plots.style.FORECASTER_COLOURS` ``[k]``), and every
pool is drawn in the ``pooled`` colour, told apart by its marker: so the same table order
gives the same colours in :func:`plot_forecaster_priors` and :func:`plot_pooled_forecasts`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from forecast.analysis.pooling import LINEAR_POOL, LOG_POOL, PRIOR_STAGE
from forecast.plots.style import (
    FORECASTER_COLOURS,
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    new_figure,
    plot_style,
    tag,
    wrap_rule_id,
)
from forecast.scenario.validated import Scenario

__all__ = [
    "FORECASTER_COLOURS",
    "forecaster_styles",
    "plot_disagreement",
    "plot_forecaster_priors",
    "plot_pooled_forecasts",
]

_LOGIT_TICKS = (1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)
_POOL_MARKERS = {LINEAR_POOL: "s", LOG_POOL: "D"}
_OTHER_POOL_MARKERS = ("^", "v", "P", "X", "h")
_STAGE_MARKERS = ("o", "s", "^", "v", "D")


def forecaster_styles(
    names: Sequence[str], pools: Sequence[str] = ()
) -> dict[str, tuple[str, str, str]]:
    """Role, colour and marker of each forecaster and pool, as every figure here draws them.

    Parameters
    ----------
    names : sequence of str
        Forecasters and pools, in table order.
    pools : sequence of str
        The names that are pools (drawn in the ``pooled`` colour; the linear pool as a
        square, the log pool as a diamond, others as triangles and so on, in order).

    Returns
    -------
    dict
        Name -> ``(role, colour, marker)``; a forecaster's role is ``category:<name>``.
    """
    out = {}
    people = [n for n in names if n not in pools]
    for k, name in enumerate(people):
        out[name] = (f"category:{name}", FORECASTER_COLOURS[k % len(FORECASTER_COLOURS)], "o")
    others = iter(_OTHER_POOL_MARKERS)
    for name in pools:
        marker = _POOL_MARKERS.get(name) or next(others, "o")
        out[name] = ("pooled", ROLE_COLOURS["pooled"], marker)
    return out


def _stage_styles(stages: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """Role, colour and marker of each stage: prior, the last (posterior), cut-offs (as_of).

    Several cut-offs before the last share the as-of colour and differ by marker.
    """
    later = [s for s in stages if s != PRIOR_STAGE]
    out = {}
    for k, stage in enumerate(later):
        role = "posterior" if k == len(later) - 1 else "as_of"
        out[stage] = (role, ROLE_COLOURS[role], _STAGE_MARKERS[k % len(_STAGE_MARKERS)])
    if PRIOR_STAGE in stages:
        out[PRIOR_STAGE] = ("prior", ROLE_COLOURS["prior"], "o")
    return {s: out[s] for s in stages}


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


def _legend_handles(styles: dict[str, tuple[str, str, str]]) -> list[Line2D]:
    return [
        Line2D([], [], color=colour, lw=2.2, marker=marker, ms=5, label=name)
        for name, (_, colour, marker) in styles.items()
    ]


def plot_forecaster_priors(
    prior_table: pd.DataFrame,
    scenario: Scenario,
    title: str | None = None,
    pools: Sequence[str] = (),
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
    pools : sequence of str
        Rows of the table that are pooled priors (e.g. ``"hierarchical pool"``): drawn in the
        ``pooled`` colour, as in :func:`plot_pooled_forecasts`.

    Returns
    -------
    Figure
        One axes; a row per rule destination (top to bottom in table order), a line per
        forecaster labelled ``"_<forecaster>:<rule>:<destination>"`` and tagged with its
        role (see :func:`forecaster_styles`); the stated best guesses are tagged ``stated``;
        logit x axis.
    """
    from forecast.analysis.summaries.priors import rule_condition

    low, high, pct = _interval_columns(prior_table)
    rules = {r.name: r for r in scenario.rules}
    items = list(dict.fromkeys(zip(prior_table["rule"], prior_table["destination"], strict=True)))
    names = list(dict.fromkeys(prior_table["forecaster"]))
    styles = forecaster_styles(names, [p for p in pools if p in names])
    labels = []
    for rule, destination in items:
        rule_obj = rules[rule]
        words = textwrap.wrap(
            f"{rule_obj.node}: {rule_condition(rule_obj)} → {destination} "
            f"({rule_obj.within_months} mo)",
            40,
        )
        labels.append("\n".join([*words, wrap_rule_id(rule, 40)]))
    lines_per_row = max(label.count("\n") + 1 for label in labels) if labels else 1
    row_height = max(0.2 * len(names) + 0.2, 0.16 * lines_per_row + 0.1)
    with plot_style():
        fig, ax = new_figure(MAX_WIDTH_IN, row_height * len(items) + 1.6)
        step = 0.7 / max(1, len(names))
        y = np.arange(len(items))[::-1].astype(float)
        for k, name in enumerate(names):
            role, colour, marker = styles[name]
            part = prior_table[prior_table["forecaster"] == name].set_index(["rule", "destination"])
            offset = 0.35 - step / 2 - k * step
            for i, item in enumerate(items):
                row = part.loc[item]
                line = ax.plot(
                    [row[low], row[high]],
                    [y[i] + offset] * 2,
                    color=colour,
                    lw=2.4,
                    solid_capstyle="butt",
                    label=f"_{name}:{item[0]}:{item[1]}",
                )[0]
                tag(line, role)
                tag(ax.plot([row["mean"]], [y[i] + offset], marker, color=colour, ms=5)[0], role)
                if not math.isnan(row["stated_best"]):
                    best = ax.plot(
                        [row["stated_best"]],
                        [y[i] + offset],
                        "|",
                        color=ROLE_COLOURS["stated"],
                        ms=7,
                        mew=1.2,
                    )[0]
                    tag(best, "stated")
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=9)
        ax.set_ylim(-0.6, len(items) - 0.4)
        lo = float(np.clip(prior_table[low].min() * 0.6, 1e-4, 0.05))
        hi = float(np.clip(1 - (1 - prior_table[high].max()) * 0.6, 0.95, 1 - 1e-4))
        _logit_axis(ax, lo, hi)
        ax.set_xlabel(f"P(move within the rule's N months), logit scale: mean and {pct}% interval")
        ax.grid(axis="y", visible=False)
        handles = _legend_handles(styles)
        handles.append(
            Line2D(
                [],
                [],
                color=ROLE_COLOURS["stated"],
                ls="",
                marker="|",
                ms=7,
                mew=1.2,
                label="stated best guess",
            )
        )
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5))
        ax.set_title(
            title or f"Forecasters' priors of {scenario.id}, as of {scenario.spec.priors_set_on}"
        )
    return fig


def _x_axis(ax: Axes, values: pd.DataFrame, low: str, high: str, xscale: str) -> None:
    if xscale == "logit":
        lo = float(np.clip(np.nanmin(values[[low, "mean"]].to_numpy()) * 0.6, 1e-4, 0.05))
        hi = float(
            np.clip(1 - (1 - np.nanmax(values[[high, "mean"]].to_numpy())) * 0.6, 0.95, 1 - 1e-4)
        )
        _logit_axis(ax, lo, hi)
    elif xscale == "auto":
        top_value = np.nanmax(values[[high, "mean"]].to_numpy())
        top = next((t for t in (0.05, 0.1, 0.2, 0.5) if top_value <= t), 1.0)
        ax.set_xlim(-0.02 * top, top * 1.02)
    else:
        ax.set_xlim(-0.02, 1.02)


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

    Small multiples, a dot-and-whisker panel per question, sharing their rows: a block per
    stage (the prior, then each evidence cut-off, top to bottom), and in each block a row per
    forecaster (in its category colour) and then per pool (in the pooled colour, told apart
    by marker), each the mean forecast with its central interval. The log pool has no
    interval and is drawn as its marker alone. Forecasters keep their colours of
    :func:`plot_forecaster_priors` (see :func:`forecaster_styles`).

    Parameters
    ----------
    table : DataFrame
        From :func:`forecast.analysis.pooling.pooled_forecast_table`.
    questions : sequence of str, optional
        Question ids, one panel each (default: every question in the table).
    stages : sequence of str, optional
        Stages to draw, in order (default: all, in table order).
    pools : sequence of str, optional
        Rows drawn after the forecasters, in order (default: the linear and the log pool); a
        pooled prior fitted as a forecaster of its own can be listed here too.
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
        One axes per question, in order; interval lines (markers for the log pool) are
        labelled ``"_<forecaster>:<stage>:<question>"`` and tagged with their role.
    """
    if xscale not in ("auto", "linear", "logit"):
        raise ValueError(f"xscale must be 'auto', 'linear' or 'logit', not {xscale!r}")
    low, high, pct = _interval_columns(table)
    questions = list(dict.fromkeys(table["question"])) if questions is None else list(questions)
    unknown = [q for q in questions if q not in set(table["question"])]
    if unknown:
        raise ValueError(f"unknown question(s) {', '.join(unknown)}")
    stages = list(dict.fromkeys(table["stage"])) if stages is None else list(stages)
    names = list(dict.fromkeys(table["forecaster"]))
    wanted = (LINEAR_POOL, LOG_POOL) if pools is None else tuple(pools)
    pools = [n for n in wanted if n in names]
    people = [n for n in names if n not in pools]
    rows = people + pools
    styles = forecaster_styles(rows, pools)
    block = len(rows) + 1  # a blank row between stage blocks
    ys = {
        (stage, name): -(g * block + i)
        for g, stage in enumerate(stages)
        for i, name in enumerate(rows)
    }
    ncols = max(1, min(ncols, len(questions)))
    nrows = math.ceil(len(questions) / ncols)
    panel_height = 0.11 * block * len(stages) + 0.9
    with plot_style():
        fig, axes = new_figure(
            MAX_WIDTH_IN, panel_height * nrows + 1.2, nrows, ncols, squeeze=False, sharey=True
        )
        flat = list(axes.ravel())
        for ax in flat[len(questions) :]:
            ax.remove()
        for k, (ax, qid) in enumerate(zip(flat, questions, strict=False)):
            part = table[(table["question"] == qid) & table["stage"].isin(stages)]
            for stage in stages:
                for name in rows:
                    row = part[(part["forecaster"] == name) & (part["stage"] == stage)]
                    if row.empty:
                        continue
                    row = row.iloc[0]
                    role, colour, marker = styles[name]
                    y = ys[(stage, name)]
                    label = f"_{name}:{stage}:{qid}"
                    if name == LOG_POOL or math.isnan(row[low]):
                        tag(
                            ax.plot([row["mean"]], [y], marker, color=colour, ms=5, label=label)[0],
                            role,
                        )
                        continue
                    line = ax.plot(
                        [row[low], row[high]],
                        [y, y],
                        color=colour,
                        lw=2.0,
                        solid_capstyle="butt",
                        label=label,
                    )[0]
                    tag(line, role)
                    tag(ax.plot([row["mean"]], [y], marker, color=colour, ms=4)[0], role)
            for g in range(1, len(stages)):
                ax.axhline(-(g * block) + 1, color=ROLE_COLOURS["guide"], lw=0.8)
            ax.set_title(
                "\n".join(textwrap.wrap(f"{qid}: {part.iloc[0]['text']}", 34)), fontsize=10
            )
            _x_axis(ax, part, low, high, xscale)
            ax.grid(axis="y", visible=False)
            if k + ncols >= len(questions):
                ax.set_xlabel("probability")
        centres = [-(g * block) - (len(rows) - 1) / 2 for g in range(len(stages))]
        flat[0].set_yticks(centres, [textwrap.fill(s, 12) for s in stages])
        flat[0].tick_params(axis="y", length=0)
        flat[0].set_ylim(-(len(stages) * block) + 1 - 0.2, 0.8)
        handles = _legend_handles(styles)
        handles.append(
            Line2D(
                [],
                [],
                color=ROLE_COLOURS["ink"],
                lw=2.0,
                marker="o",
                ms=4,
                label=f"mean, {pct}% interval",
            )
        )
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
        fig.suptitle(title or "Forecasts by forecaster and pool: prior and posterior")
    return fig


def plot_disagreement(
    disagreement: pd.DataFrame, questions: Sequence[str] | None = None, title: str | None = None
) -> Figure:
    """How far apart the forecasters are on each question, before and after the evidence.

    Per question, the range (max - min) of the forecasters' mean forecasts at each stage,
    joined by a line: the prior in its colour, the last stage (the most evidence) in the
    posterior colour and any earlier cut-off in the as-of colour, so a shift to the left shows
    the evidence narrowing the disagreement.

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
        One axes; markers are labelled ``"_<stage>:<question>"`` and tagged with the stage's
        role.
    """
    table = disagreement if questions is None else disagreement.loc[list(questions)]
    stages = [c[: -len(" range")] for c in table.columns if c.endswith(" range")]
    styles = _stage_styles(stages)
    labels = [
        "\n".join(textwrap.wrap(f"{qid}: {row['text']}", 56)) for qid, row in table.iterrows()
    ]
    lines_per_row = max((label.count("\n") + 1 for label in labels), default=1)
    with plot_style():
        fig, ax = new_figure(MAX_WIDTH_IN, (0.15 * lines_per_row + 0.08) * len(table) + 1.5)
        y = np.arange(len(table))[::-1].astype(float)
        for i, (qid, row) in enumerate(table.iterrows()):
            xs = [row[f"{s} range"] for s in stages]
            tag(
                ax.plot(xs, [y[i]] * len(xs), color=ROLE_COLOURS["guide"], lw=1.2, zorder=1)[0],
                "guide",
            )
            for stage, x in zip(stages, xs, strict=True):
                role, colour, marker = styles[stage]
                point = ax.plot(
                    [x], [y[i]], marker, color=colour, ms=6, zorder=2, label=f"_{stage}:{qid}"
                )[0]
                tag(point, role)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=9)
        ax.set_ylim(-0.6, len(table) - 0.4)
        ax.set_xlim(left=-0.01)
        ax.set_xlabel("range of the forecasters' mean forecasts (max − min), probability")
        ax.grid(axis="y", visible=False)
        handles = [
            Line2D([], [], color=colour, ls="", marker=marker, ms=6, label=s)
            for s, (_, colour, marker) in styles.items()
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
        ax.set_title(title or "Where the forecasters disagree, and how the evidence narrows it")
    return fig
