"""Backtest figures: forecast trajectories by evidence cut-off, and a reliability diagram."""

from __future__ import annotations

import datetime as dt
import logging
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from forecast.analysis.evaluation.scoring import FORECASTERS, calibration_table
from forecast.plots.style import FIT_COLOURS, PALETTE, format_month_axis
from forecast.scenario.validated import Scenario

__all__ = ["CATEGORY_COLOURS", "plot_calibration", "plot_replay", "read_events"]

logger = logging.getLogger(__name__)

CATEGORY_COLOURS = (
    PALETTE["evidence"],
    PALETTE["posterior"],
    PALETTE["as_of"],
    PALETTE["stated"],
    "#6a3d9a",
    PALETTE["lag"],
    PALETTE["prior"],
    "#8c564b",
)
"""Colours of event categories, in order of first appearance."""
PRIOR_OFFSET = dt.timedelta(days=30)
"""The prior (no evidence) is drawn this far before the first cut-off."""
FORECASTER_COLOURS = {
    "model": PALETTE["posterior"],
    "prior alone": PALETTE["prior"],
    "always 50%": PALETTE["as_of"],
}


def read_events(path: str | Path) -> pd.DataFrame:
    """A dated events file (``date,event,category[,source_url]``) with parsed dates.

    Parameters
    ----------
    path : str or Path
        CSV file, e.g. ``data/events.csv``.

    Returns
    -------
    DataFrame
        The file's rows, ``date`` as :class:`datetime.date`, sorted by date.

    Raises
    ------
    ValueError
        If a column is missing or a date cannot be read.
    """
    events = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("date", "event", "category") if c not in events.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; need date, event, category"
        )
    dates = []
    for k, text in enumerate(events["date"], start=2):
        try:
            dates.append(dt.date.fromisoformat(text.strip()))
        except ValueError:
            raise ValueError(f"{path}: row {k}: date '{text}' is not YYYY-MM-DD") from None
    return events.assign(date=dates).sort_values("date", kind="stable").reset_index(drop=True)


def _date_colours(dates: Sequence[dt.date]) -> dict[dt.date, str]:
    """A colour per question date, the latest in the posterior blue, the same in every panel."""
    ordered = sorted(set(dates))
    others = [c for c in FIT_COLOURS if c != PALETTE["posterior"]]
    cycle = [*others, "#8c564b", "#e377c2", "#17becf"]
    return {
        d: PALETTE["posterior"] if k == len(ordered) - 1 else cycle[k % len(cycle)]
        for k, d in enumerate(ordered)
    }


def _y_top(sub: pd.DataFrame, pct: int) -> float:
    """Top of a y range that shows small probabilities (at least 0 to 0.05), else 1."""
    top = float(np.nanmax([sub[f"high{pct}"].max(), sub["prior_mean"].max()]))
    return 1.0 if top > 0.6 else max(0.05, top * 1.15)


def _mark_moves(ax: Axes, moves: pd.DataFrame, top: float, k: int, wrap: int) -> str:
    """Circle and number the largest moves of a panel (one per month); return captions."""
    captions = []
    seen: set[dt.date] = set()
    for move in moves.itertuples():
        if move.as_of in seen or len(seen) == k:
            continue
        seen.add(move.as_of)
        n = len(seen)
        ax.plot(
            [move.as_of], [move.after], "o", ms=13, mfc="none", mec="#222222", mew=1.1, zorder=6
        )
        low = move.after < top / 2
        ax.annotate(
            str(n),
            (move.as_of, move.after),
            xytext=(-13, 8 if low else -16),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold",
            zorder=7,
        )
        captions.append(
            textwrap.fill(
                f"({n}) {move.as_of:%Y-%m}, {move.change:+.2f}: {move.evidence}",
                wrap,
                subsequent_indent="      ",
            )
        )
    return "\n".join(captions)


def plot_replay(
    table: pd.DataFrame,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    moves: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    ncols: int = 2,
    interval: float = 0.9,
    moves_per_panel: int = 2,
    wrap: int = 80,
    title: str | None = None,
) -> Figure:
    """Each outcome's forecast by evidence cut-off: mean and band, moves and events marked.

    One panel per outcome: for every question of the outcome (one per report date, coloured
    by date alike in every panel) the posterior mean as of each month end, from the evidence
    known then, with its central band; the prior alone (no evidence) is the hollow marker
    before the first cut-off. The largest moves of a panel are circled and numbered, and
    listed under it with the evidence items that arrived that month. A strip below the
    panels marks dated events by category.

    Parameters
    ----------
    table : DataFrame
        From :func:`forecast.analysis.evaluation.backtest.replay` (needs ``outcome`` set on
        the rows).
    scenario : Scenario
        The replayed scenario.
    outcomes : sequence of str, optional
        Outcome ids, one panel each (default: every outcome in the table).
    moves : DataFrame, optional
        From :func:`forecast.analysis.evaluation.backtest.largest_moves`: the moves to label,
        largest first per panel, one per month.
    events : DataFrame, optional
        From :func:`read_events`: drawn as ticks by category under the panels.
    ncols : int
        Panels per row.
    interval : float
        Mass of the band (the table's ``low<pct>``/``high<pct>`` columns).
    moves_per_panel : int
        Moves labelled per panel.
    wrap : int
        Characters per line of a move's caption.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        The outcome panels in order, then the events strip (if any).
    """
    pct = round(interval * 100)
    specs = {o.id: o for o in scenario.outcomes}
    present = list(dict.fromkeys(table["outcome"].dropna()))
    wanted = present if outcomes is None else list(outcomes)
    unknown = [o for o in wanted if o not in present]
    if unknown:
        raise ValueError(
            f"outcome(s) {', '.join(unknown)} are not in the replay table; it has "
            f"{', '.join(present) or 'none'}"
        )
    dates = sorted(set(table["as_of"]))
    x0 = dates[0] - PRIOR_OFFSET
    xlim = (x0 - dt.timedelta(days=12), dates[-1] + dt.timedelta(days=20))
    colours = _date_colours(list(table.loc[table["outcome"].isin(wanted), "date"]))
    ncols = max(1, min(ncols, len(wanted)))
    nrows = math.ceil(len(wanted) / ncols)
    strip = events is not None and len(events) > 0
    heights = [3.6] * nrows + ([0.5 + 0.2 * events["category"].nunique()] if strip else [])
    fig = plt.figure(figsize=(6.4 * ncols, sum(heights) + 1.2), layout="constrained")
    grid = fig.add_gridspec(len(heights), ncols, height_ratios=heights)
    fig.suptitle(
        title
        or f"{scenario.spec.title}:\nforecasts as of each month end, from the evidence known then",
        fontsize=12,
    )
    for i, oid in enumerate(wanted):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        sub = table[table["outcome"] == oid]
        top = _y_top(sub, pct)
        for qdate, q in sub.groupby("date", sort=True):
            q = q.sort_values("as_of")
            x = list(q["as_of"])
            colour = colours[qdate]
            ax.fill_between(
                x, q[f"low{pct}"], q[f"high{pct}"], color=colour, alpha=0.13, linewidth=0
            )
            ax.plot(x, q["mean"], "-o", color=colour, lw=1.8, ms=3)
            prior = float(q["prior_mean"].iloc[0])
            ax.plot([x0, x[0]], [prior, q["mean"].iloc[0]], ":", color=colour, lw=1)
            ax.plot([x0], [prior], "o", mfc="white", mec=colour, ms=6, mew=1.5)
        caption = ""
        if moves is not None:
            own = moves[moves["question"].isin(set(sub["question"]))]
            own = own.reindex(own["change"].abs().sort_values(ascending=False, kind="stable").index)
            caption = _mark_moves(ax, own, top, moves_per_panel, wrap)
        spec = specs.get(oid)
        kind = sub["kind"].iloc[0]
        when = "by the date, cumulative" if kind == "reached" else "at the date's month end"
        ax.set_title(f"{spec.label if spec is not None else oid} ({when})", fontsize=10)
        ax.set_ylim(-0.03 * top, top * 1.03)
        ax.set_xlim(*xlim)
        ax.set_ylabel("probability")
        format_month_axis(ax, months=(1, 4, 7, 10), label="evidence cut-off (month end)")
        if caption:
            ax.set_xlabel("evidence cut-off (month end)\n" + caption, loc="left", fontsize=7.5)
        ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=c, marker="o", ms=3, lw=1.8, label=f"question date {d:%Y-%m}")
        for d, c in colours.items()
    ]
    handles += [
        Patch(color=PALETTE["posterior"], alpha=0.25, label=f"central {pct}% band"),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            mfc="white",
            mec=PALETTE["prior"],
            ms=6,
            mew=1.5,
            label="prior alone (no evidence)",
        ),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=11,
            mfc="none",
            mec="#222222",
            label="largest moves (listed under each panel)",
        ),
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=min(6, len(handles)),
        fontsize=8,
        frameon=False,
    )
    if strip:
        _events_strip(fig.add_subplot(grid[nrows, :]), events, xlim)
    return fig


def _events_strip(ax: Axes, events: pd.DataFrame, xlim: tuple[dt.date, dt.date]) -> None:
    shown = events[(events["date"] >= xlim[0]) & (events["date"] <= xlim[1])]
    categories = list(dict.fromkeys(events["category"]))
    for k, cat in enumerate(categories):
        when = list(shown.loc[shown["category"] == cat, "date"])
        ax.plot(
            when,
            [k] * len(when),
            "|",
            ms=10,
            mew=2,
            color=CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)],
        )
    ax.set_yticks(range(len(categories)), categories, fontsize=8)
    ax.set_ylim(-0.7, len(categories) - 0.3)
    ax.invert_yaxis()
    ax.set_xlim(*xlim)
    ax.set_title(f"Dated events by category ({len(shown)} events in this period)", fontsize=9)
    format_month_axis(ax, months=(1, 4, 7, 10), label="event date")
    ax.grid(axis="x", alpha=0.3)


def _spread_labels(x: np.ndarray, gap: float = 0.045) -> np.ndarray:
    """Label levels (0, 1, 2, ...) so that labels closer than ``gap`` in x do not overlap."""
    order = np.argsort(x, kind="stable")
    levels = np.zeros(len(x), dtype=int)
    last: dict[int, float] = {}
    for i in order:
        level = 0
        while level in last and x[i] - last[level] < gap:
            level += 1
        levels[i] = level
        last[level] = x[i]
    return levels


def plot_calibration(
    scores: pd.DataFrame,
    bins: int = 5,
    forecasters: Sequence[str] = ("model", "prior alone"),
    min_questions: int = 20,
    title: str | None = None,
) -> Figure:
    """Reliability diagram: observed frequency against forecast probability, by bin.

    Top: forecasts binned into equal-width bins; each non-empty bin is a point at its mean
    forecast and the share of its questions that happened, sized by and labelled with the
    number of questions. Middle: every question at its forecast, on the "happened" or "did
    not happen" row, with its id. Bottom: questions per bin. With fewer than
    ``min_questions`` questions the title says the diagram is only indicative.

    Parameters
    ----------
    scores : DataFrame
        From :func:`forecast.analysis.evaluation.scoring.score_questions`.
    bins : int
        Equal-width bins over [0, 1].
    forecasters : sequence of str
        Keys of :data:`forecast.analysis.evaluation.scoring.FORECASTERS` to draw (``"model"``,
        ``"prior alone"``, ``"always 50%"``).
    min_questions : int
        Below this many questions the figure says it is indicative only.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        Three axes: the diagram, the questions, the counts per bin.
    """
    unknown = [f for f in forecasters if f not in FORECASTERS]
    if unknown:
        raise ValueError(
            f"unknown forecaster(s) {', '.join(unknown)}; use {', '.join(FORECASTERS)}"
        )
    n = len(scores)
    fig, (ax, dots, counts) = plt.subplots(
        3,
        1,
        figsize=(6.6, 8.0),
        sharex=True,
        height_ratios=[3, 0.6 + 0.45 * len(forecasters), 1],
        layout="constrained",
    )
    fig.suptitle(
        title or f"Calibration: {n} resolved question{'s' if n != 1 else ''}, {bins} bins",
        fontsize=11,
    )
    if n < min_questions:
        ax.set_title(
            f"Only {n} questions: a bin holds a handful at most, so this is "
            "indicative, not a test of calibration",
            fontsize=8.5,
            color=PALETTE["evidence"],
        )
    ax.plot([0, 1], [0, 1], ":", color="black", lw=1, label="perfect calibration")
    width = 1.0 / bins / (len(forecasters) + 1)
    outcome = scores["outcome"].to_numpy(dtype=int)
    rows = []
    for j, name in enumerate(forecasters):
        column = FORECASTERS[name]
        colour = FORECASTER_COLOURS[name]
        table = calibration_table(scores[column], outcome, bins, labels=list(scores["question"]))
        full = table[table["n"] > 0]
        ax.plot(full["mean_forecast"], full["observed"], "-", color=colour, lw=1.2, alpha=0.7)
        ax.scatter(
            full["mean_forecast"],
            full["observed"],
            s=40 + 60 * full["n"],
            color=colour,
            alpha=0.75,
            edgecolor="white",
            zorder=3,
            label=name,
        )
        for row in full.itertuples():
            below = j > 0 and row.observed > 0.1
            ax.annotate(
                f"n={row.n}",
                (row.mean_forecast, row.observed),
                fontsize=7,
                xytext=(8, -12 if below else 6),
                textcoords="offset points",
                color=colour,
            )
        centres = (table["low"] + table["high"]) / 2 + (j - (len(forecasters) - 1) / 2) * width
        counts.bar(centres, table["n"], width=width * 0.95, color=colour, alpha=0.8, label=name)
        for happened in (1, 0):
            y = len(rows)
            rows.append(f"{name}: {'happened' if happened else 'did not'}")
            pick = outcome == happened
            x = scores.loc[pick, column].to_numpy(dtype=float)
            dots.plot(x, [y] * len(x), "|", ms=12, mew=2, color=colour)
            levels = _spread_labels(x)
            for qid, xx, level in zip(scores.loc[pick, "question"], x, levels, strict=True):
                dots.annotate(
                    str(qid),
                    (xx, y),
                    xytext=(3, 4 - 8 * level),
                    textcoords="offset points",
                    fontsize=6.5,
                    color=colour,
                    va="center",
                )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("observed frequency\n(share that happened)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", frameon=False, markerscale=0.5)
    dots.set_yticks(range(len(rows)), rows, fontsize=7)
    dots.set_ylim(len(rows) - 0.4, -0.6)
    dots.grid(axis="x", alpha=0.3)
    for edge in np.linspace(0, 1, bins + 1):
        counts.axvline(edge, color="#dddddd", lw=0.8, zorder=0)
    counts.set_xlabel("forecast probability")
    counts.set_ylabel("questions\nper bin")
    counts.yaxis.get_major_locator().set_params(integer=True)
    counts.legend(fontsize=7, frameon=False)
    return fig
