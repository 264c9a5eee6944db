"""Backtest figures: forecast trajectories by evidence cut-off, and calibration."""

from __future__ import annotations

import datetime as dt
import logging
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from forecast.analysis.evaluation.scoring import FORECASTERS, calibration_table
from forecast.plots.style import (
    CATEGORY_COLOURS,
    FIGURE_DPI,
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    format_month_axis,
    new_figure,
    plot_style,
    tag,
)
from forecast.scenario.validated import Scenario

__all__ = ["CATEGORY_COLOURS", "FORECASTER_ROLES", "plot_calibration", "plot_replay", "read_events"]

logger = logging.getLogger(__name__)

PRIOR_OFFSET = dt.timedelta(days=30)
"""The prior (no evidence) is drawn this far before the first cut-off."""
FORECASTER_ROLES = {"model": "as_of", "prior alone": "prior", "always 50%": "guide"}
"""The meaning (and so the colour) of each forecaster of the calibration plot: the model's
forecast is the forecast as of the scoring cut-off."""
_FORECASTER_MARKERS = {"model": "o", "prior alone": "s", "always 50%": "D"}


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


def _y_top(sub: pd.DataFrame, pct: int) -> float:
    """Top of a y range that shows small probabilities (at least 0 to 0.05), else 1."""
    top = float(np.nanmax([sub[f"high{pct}"].max(), sub["prior_mean"].max()]))
    return 1.0 if top > 0.6 else max(0.05, top * 1.15)


def _panel_title(label: str, kind: str, date: dt.date) -> str:
    when = f"by {date}" if kind == "reached" else f"at {date}"
    return textwrap.fill(f"{label}, {when}", 34)


def _draw_question(ax: Axes, q: pd.DataFrame, pct: int, x0: dt.date) -> None:
    """One question's forecast by cut-off (as-of colour) and its prior (prior colour)."""
    q = q.sort_values("as_of")
    x = list(q["as_of"])
    colour = ROLE_COLOURS["as_of"]
    tag(ax.fill_between(x, q[f"low{pct}"], q[f"high{pct}"], color=colour, alpha=0.2, lw=0), "as_of")
    tag(ax.plot(x, q["mean"], "-o", color=colour, lw=1.8, ms=3)[0], "as_of")
    prior = float(q["prior_mean"].iloc[0])
    grey = ROLE_COLOURS["prior"]
    tag(ax.plot([x0, x[0]], [prior, q["mean"].iloc[0]], ":", color=grey, lw=1)[0], "prior")
    tag(ax.plot([x0], [prior], "o", color=grey, mfc="none", mec=grey, ms=6, mew=1.5)[0], "prior")


def _mark_arrivals(ax: Axes, when: Sequence[dt.date]) -> None:
    """Ticks at the foot of a panel at the cut-offs that brought evidence on its node."""
    if len(when):
        ticks = ax.plot(
            list(when),
            [0.035] * len(when),
            "|",
            ms=6,
            mew=2,
            color=ROLE_COLOURS["evidence"],
            transform=ax.get_xaxis_transform(),
        )[0]
        tag(ticks, "evidence")


def _mark_move(ax: Axes, move: object, n: int, top: float) -> None:
    ink = ROLE_COLOURS["ink"]
    tag(
        ax.plot(
            [move.as_of],
            [move.after],
            "o",
            color=ink,
            ms=13,
            mfc="none",
            mec=ink,
            mew=1.1,
            zorder=6,
        )[0],
        "ink",
    )
    low = move.after < top / 2
    number = ax.annotate(
        str(n),
        (move.as_of, move.after),
        xytext=(-14, 7 if low else -16),
        textcoords="offset points",
        fontsize=9,
        fontweight="bold",
        color=ink,
        zorder=7,
    )
    tag(number, "ink")


def _chosen_moves(moves: pd.DataFrame, questions: set[str], k: int) -> pd.DataFrame:
    """The ``k`` largest moves among some questions, at most one per month."""
    own = moves[moves["question"].isin(questions)]
    own = own.reindex(own["change"].abs().sort_values(ascending=False, kind="stable").index)
    return own.drop_duplicates("as_of").head(k)


def plot_replay(
    table: pd.DataFrame,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    moves: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    arrivals: pd.DataFrame | None = None,
    interval: float = 0.9,
    moves_per_outcome: int = 2,
    wrap: int = 110,
    title: str | None = None,
) -> Figure:
    """Each question's forecast by evidence cut-off: small multiples, a colour per meaning.

    A row of panels per outcome and a column per question date (the y range shared along a
    row, the cut-offs along every column): in each panel the forecast as of each month end,
    from the evidence known then (mean and central band, in the as-of colour); the prior
    alone (no evidence) is the hollow marker before the first cut-off (prior colour). Ticks
    at the foot of a panel mark the cut-offs that brought evidence on the outcome's node
    (evidence colour), a dashed line the question's date, when it resolves (ink). The largest
    moves of each outcome are circled and numbered (ink) and listed under the panels with the
    evidence that arrived that month. A strip at the bottom marks dated events by category.

    Parameters
    ----------
    table : DataFrame
        From :func:`forecast.analysis.evaluation.backtest.replay` (needs ``outcome`` set on
        the rows).
    scenario : Scenario
        The replayed scenario.
    outcomes : sequence of str, optional
        Outcome ids, one row of panels each (default: every outcome in the table).
    moves : DataFrame, optional
        From :func:`forecast.analysis.evaluation.backtest.largest_moves`: the moves to number.
    events : DataFrame, optional
        From :func:`read_events`: drawn as ticks by category under the panels.
    arrivals : DataFrame, optional
        From :func:`forecast.analysis.evaluation.backtest.evidence_arrivals` on the same
        cut-offs: the months that brought evidence on each outcome's node.
    interval : float
        Mass of the band (the table's ``low<pct>``/``high<pct>`` columns).
    moves_per_outcome : int
        Moves numbered per outcome (one per month, across its questions).
    wrap : int
        Characters per line of a move's caption.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        The panels row by row (outcomes, then question dates; a missing pair has no
        axes), then the events strip (if any) and the captions (if any moves).
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
    shown = table[table["outcome"].isin(wanted)]
    cutoffs = sorted(set(table["as_of"]))
    qdates = sorted(set(shown["date"]))
    x0 = cutoffs[0] - PRIOR_OFFSET
    xlim = (x0 - dt.timedelta(days=12), cutoffs[-1] + dt.timedelta(days=20))
    strip = events is not None and len(events) > 0
    chosen = {
        oid: _chosen_moves(
            moves, set(shown.loc[shown["outcome"] == oid, "question"]), moves_per_outcome
        )
        if moves is not None
        else pd.DataFrame()
        for oid in wanted
    }
    ncols, nrows = len(qdates), len(wanted)
    # number the moves panel by panel (rows, then question dates) and caption them
    numbers: dict[tuple[str, dt.date], list[tuple[int, object]]] = {}
    captions: list[str] = []
    for oid in wanted:
        spec = specs.get(oid)
        label = spec.label if spec is not None else oid
        in_panel = shown[shown["outcome"] == oid].set_index("question")["date"].to_dict()
        for qdate in qdates:
            for move in chosen[oid].itertuples():
                if in_panel.get(move.question) != qdate:
                    continue
                captions.append(
                    textwrap.fill(
                        f"({len(captions) + 1}) {label}, {qdate}: {move.as_of:%Y-%m}, "
                        f"{move.change:+.2f}: {move.evidence}",
                        wrap,
                        subsequent_indent="      ",
                    )
                )
                numbers.setdefault((oid, qdate), []).append((len(captions), move))
    caption_lines = sum(c.count("\n") + 1 for c in captions)
    heights = [1.75] * nrows + [0.45]  # the panels, then their legend
    if strip:
        heights.append(0.45 + 0.19 * events["category"].nunique())
    if captions:
        heights.append(0.3 + 0.165 * caption_lines)
    with plot_style():
        import matplotlib.pyplot as plt

        fig = plt.figure(
            figsize=(MAX_WIDTH_IN, sum(heights) + 1.5), dpi=FIGURE_DPI, layout="constrained"
        )
        grid = fig.add_gridspec(len(heights), ncols, height_ratios=heights)
        first: Axes | None = None
        for i, oid in enumerate(wanted):
            sub = shown[shown["outcome"] == oid]
            top = _y_top(sub, pct)
            spec = specs.get(oid)
            label = spec.label if spec is not None else oid
            node = sub["node"].iloc[0]
            came: list[dt.date] = []
            if arrivals is not None and len(arrivals):
                mine = arrivals[(arrivals["node"] == node) & ~arrivals["replaced"].astype(bool)]
                came = sorted(set(mine["as_of"]))
            row_axes: list[Axes] = []
            for j, qdate in enumerate(qdates):
                q = sub[sub["date"] == qdate]
                if q.empty:
                    continue
                ax = fig.add_subplot(
                    grid[i, j], sharex=first, sharey=row_axes[0] if row_axes else None
                )
                first = first or ax
                row_axes.append(ax)
                _draw_question(ax, q, pct, x0)
                _mark_arrivals(ax, came)
                if xlim[0] <= qdate <= xlim[1]:
                    tag(ax.axvline(qdate, color=ROLE_COLOURS["ink"], lw=1, ls="--"), "ink")
                for number, move in numbers.get((oid, qdate), []):
                    _mark_move(ax, move, number, top)
                ax.set_title(_panel_title(label, sub["kind"].iloc[0], qdate), fontsize=10)
                ax.set_ylim(-0.13 * top, top * 1.04)
                ax.set_xlim(*xlim)
                format_month_axis(ax, months=(1, 7), label="")
                if j == 0:
                    ax.set_ylabel("probability")
                if i < nrows - 1:
                    ax.tick_params(labelbottom=False)
            if i == nrows - 1:
                for ax in row_axes:
                    ax.set_xlabel("evidence cut-off (month end)")
        handles = [
            (
                Patch(color=ROLE_COLOURS["as_of"], alpha=0.2, lw=0),
                Line2D([], [], color=ROLE_COLOURS["as_of"], marker="o", ms=3, lw=1.8),
            ),
            Line2D([], [], ls="", marker="o", mfc="none", mec=ROLE_COLOURS["prior"], ms=6, mew=1.5),
            Line2D([], [], ls="", marker="|", ms=9, mew=2, color=ROLE_COLOURS["evidence"]),
            Line2D([], [], color=ROLE_COLOURS["ink"], lw=1, ls="--"),
        ]
        names = [
            f"forecast as of each cut-off (mean, {pct}% band)",
            "prior alone (no evidence)",
            "evidence on the outcome's node came",
            "question date (it resolves)",
        ]
        if captions:
            handles.append(
                Line2D([], [], ls="", marker="o", ms=11, mfc="none", mec=ROLE_COLOURS["ink"])
            )
            names.append("largest moves (listed below)")
        # the legend in a row of its own under the panels, away from any data
        key = fig.add_subplot(grid[nrows, :])
        key.axis("off")
        key.legend(handles, names, loc="center", ncol=3, borderaxespad=0)
        row = nrows + 1
        if strip:
            _events_strip(fig.add_subplot(grid[row, :]), events, xlim)
            row += 1
        if captions:
            box = fig.add_subplot(grid[row, :])
            box.axis("off")
            box.text(
                0.0,
                1.0,
                "\n".join(captions),
                va="top",
                ha="left",
                fontsize=9,
                transform=box.transAxes,
            )
            box.set_title(
                "The largest moves and the evidence that arrived that month",
                fontsize=10,
                loc="left",
            )
        fig.suptitle(
            title
            or f"{scenario.spec.title}:\nforecasts as of each month end from "
            f"{cutoffs[0]:%Y-%m} to {cutoffs[-1]:%Y-%m}, from the evidence known then"
        )
    return fig


def _events_strip(ax: Axes, events: pd.DataFrame, xlim: tuple[dt.date, dt.date]) -> None:
    shown = events[(events["date"] >= xlim[0]) & (events["date"] <= xlim[1])]
    categories = list(dict.fromkeys(events["category"]))
    for k, cat in enumerate(categories):
        when = list(shown.loc[shown["category"] == cat, "date"])
        ticks = ax.plot(
            when,
            [k] * len(when),
            "|",
            ms=9,
            mew=2,
            color=CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)],
        )[0]
        tag(ticks, f"category:{cat}")
    ax.set_yticks(range(len(categories)), categories, fontsize=9)
    ax.set_ylim(-0.7, len(categories) - 0.3)
    ax.invert_yaxis()
    ax.set_xlim(*xlim)
    ax.set_title(
        f"Dated events by category, for context ({len(shown)} events in this period)", fontsize=10
    )
    format_month_axis(ax, months=(1, 4, 7, 10), label="event date")
    ax.grid(axis="y", visible=False)


def _check_forecasters(forecasters: Sequence[str]) -> None:
    unknown = [f for f in forecasters if f not in FORECASTERS]
    if unknown:
        raise ValueError(
            f"unknown forecaster(s) {', '.join(unknown)}; use {', '.join(FORECASTERS)}"
        )


def _forecaster_handles(forecasters: Sequence[str]) -> list[Line2D]:
    return [
        Line2D(
            [],
            [],
            ls="",
            marker=_FORECASTER_MARKERS[name],
            ms=7,
            color=ROLE_COLOURS[FORECASTER_ROLES[name]],
            label=name,
        )
        for name in forecasters
    ]


def _dot_plot(scores: pd.DataFrame, forecasters: Sequence[str], min_questions: int) -> Figure:
    """One row per question: each forecaster's forecast, and the outcome at 0 or 1."""
    n = len(scores)
    outcome = scores["outcome"].to_numpy(dtype=int)
    y = np.arange(n)[::-1].astype(float)
    fig, ax = new_figure(7.5, 0.36 * n + 2.2)
    ink = ROLE_COLOURS["ink"]
    step = 0.0 if len(forecasters) == 1 else 0.36 / (len(forecasters) - 1)
    offsets = [0.18 - k * step if len(forecasters) > 1 else 0.0 for k in range(len(forecasters))]
    first = scores[FORECASTERS[forecasters[0]]].to_numpy(dtype=float)
    for i in range(n):
        # the outcome on the first forecaster's line, joined to its forecast: the error
        level = y[i] + offsets[0]
        error = ax.plot(
            [first[i], outcome[i]], [level, level], color=ROLE_COLOURS["guide"], lw=3, zorder=1
        )[0]
        tag(error, "guide")
        tag(ax.plot([outcome[i]], [level], "s", color=ink, ms=8, zorder=2)[0], "ink")
    for name, offset in zip(forecasters, offsets, strict=True):
        role = FORECASTER_ROLES[name]
        values = scores[FORECASTERS[name]].to_numpy(dtype=float)
        dots = ax.plot(
            values,
            y + offset,
            _FORECASTER_MARKERS[name],
            ls="",
            color=ROLE_COLOURS[role],
            ms=7,
            zorder=3,
        )[0]
        tag(dots, role)
    ax.set_yticks(
        y,
        [
            f"{qid} ({'happened' if o else 'did not happen'})"
            for qid, o in zip(scores["question"], outcome, strict=True)
        ],
    )
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(-0.04, 1.04)
    ax.set_xlabel("forecast probability (the outcome: 0 did not happen, 1 happened)")
    ax.grid(axis="y", visible=False)
    handles = _forecaster_handles(forecasters)
    handles.append(Line2D([], [], ls="", marker="s", ms=8, color=ink, label="outcome"))
    handles.append(
        Line2D([], [], color=ROLE_COLOURS["guide"], lw=3, label=f"error of the {forecasters[0]}")
    )
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3))
    ax.set_title(
        f"{n} question{'s' if n != 1 else ''}, fewer than {min_questions}: too few to bin, so "
        "each is shown\nwith its forecast and outcome (indicative, not a test of calibration)",
        fontsize=10,
    )
    return fig


def _reliability(scores: pd.DataFrame, forecasters: Sequence[str], bins: int) -> Figure:
    """Binned forecasts against the share that happened, with the count of each bin below."""
    fig, (ax, counts) = new_figure(
        7.0, 7.0, 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    tag(ax.plot([0, 1], [0, 1], ":", color=ROLE_COLOURS["ink"], lw=1)[0], "ink")
    outcome = scores["outcome"].to_numpy(dtype=int)
    width = 0.6 / bins / len(forecasters)
    for name in forecasters:
        role = FORECASTER_ROLES[name]
        colour = ROLE_COLOURS[role]
        table = calibration_table(scores[FORECASTERS[name]], outcome, bins)
        full = table[table["n"] > 0]
        tag(ax.plot(full["mean_forecast"], full["observed"], "-", color=colour, lw=1.2)[0], role)
        dots = ax.scatter(
            full["mean_forecast"],
            full["observed"],
            s=60,
            color=colour,
            marker=_FORECASTER_MARKERS[name],
            zorder=3,
        )
        tag(dots, role)
        # each bar stands under its dot: at the bin's mean forecast, its height the bin's count
        for row in full.itertuples():
            bar = counts.bar(row.mean_forecast, row.n, width=width, color=colour, alpha=0.85)
            for patch in bar:
                tag(patch, role)
    for edge in np.linspace(0, 1, bins + 1):
        tag(counts.axvline(edge, color=ROLE_COLOURS["guide"], lw=0.8, zorder=0), "guide")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("observed frequency\n(share that happened)")
    ax.set_title(f"{bins} equal-width bins; a dot at its bin's mean forecast", fontsize=10)
    counts.set_xlabel("forecast probability")
    counts.set_ylabel("questions\nper bin")
    counts.yaxis.get_major_locator().set_params(integer=True)
    handles = _forecaster_handles(forecasters)
    handles.append(
        Line2D([], [], ls=":", color=ROLE_COLOURS["ink"], lw=1, label="perfect calibration")
    )
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    return fig


def plot_calibration(
    scores: pd.DataFrame,
    bins: int = 5,
    forecasters: Sequence[str] = ("model", "prior alone"),
    min_questions: int = 20,
    title: str | None = None,
) -> Figure:
    """Calibration of resolved questions: forecast against outcome, by question or by bin.

    With fewer than ``min_questions`` questions, bins would hold a handful each, so the
    figure is a dot plot: a row per question (its id and outcome as the row label), each
    forecaster's forecast as a dot and the outcome as a square at 0 or 1, joined to the first
    forecaster's dot by a bar, the size of its error. With more, it is the binned reliability
    diagram: each non-empty bin a dot at its mean forecast and the share of its questions
    that happened (sized by their number, the diagonal for perfect calibration), and under it
    the number of questions of the bin as a bar at the same x. The model's forecasts are in
    the as-of colour (forecasts made as of the scoring cut-off), the prior's in the prior
    colour.

    Parameters
    ----------
    scores : DataFrame
        From :func:`forecast.analysis.evaluation.scoring.score_questions`.
    bins : int
        Equal-width bins over [0, 1] (reliability diagram).
    forecasters : sequence of str
        Keys of :data:`forecast.analysis.evaluation.scoring.FORECASTERS` to draw (``"model"``,
        ``"prior alone"``, ``"always 50%"``).
    min_questions : int
        Below this many questions, the dot plot; from it on, the reliability diagram.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        The dot plot (one axes, a y tick per question) or the diagram and its counts (two
        axes).
    """
    _check_forecasters(forecasters)
    if not forecasters:
        raise ValueError("give at least one forecaster")
    n = len(scores)
    with plot_style():
        if n < min_questions:
            fig = _dot_plot(scores, forecasters, min_questions)
        else:
            fig = _reliability(scores, forecasters, bins)
        fig.suptitle(
            title or f"Calibration: {n} resolved question{'s' if n != 1 else ''}", fontsize=11
        )
    return fig
