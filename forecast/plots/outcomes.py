"""Outcome probabilities by month: one fit, several fits overlaid, and the prior predictive.

Every figure plots what the outcome's questions ask: for a ``reached`` outcome the cumulative
probability of having reached its states by the end of each month, for an ``in_state``
outcome the probability of being in them at the end of each month (the y-label says which).
Each panel's y-range fits its data, so that 1% and 3% are told apart, and a note says what
part of 0-1 the axis shows. Legends sit outside the data, titles say as of which evidence.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from forecast.analysis.summaries.outcomes import evidence_cutoff, outcome_curves
from forecast.plots.style import (
    FIGURE_DPI,
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    category_colour,
    format_month_axis,
    new_figure,
    plot_style,
    tag,
)
from forecast.scenario.validated import Scenario

__all__ = [
    "QUANTITY_LABELS",
    "axis_top",
    "fit_roles",
    "mark_evidence",
    "outcome_plot_table",
    "plot_outcome",
    "plot_outcome_fits",
    "plot_outcome_overview",
    "plot_prior_predictive",
    "range_note",
    "save_outcome_plots",
]

logger = logging.getLogger(__name__)

QUANTITY_LABELS = {
    "reached": "P(reached by month end)",
    "in_state": "P(in state at month end)",
}
"""The y-label of each kind of outcome: what its questions ask, month by month."""

IN_STATES = "evidence: seen in the outcome's states"
OUTSIDE = "evidence: seen outside them"
_NICE_TOPS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def fit_roles(fits: Mapping[str, az.InferenceData]) -> dict[str, tuple[str, str]]:
    """Each fit's meaning and colour: ``as_of`` with a cut-off, ``posterior`` with all evidence.

    A second fit of the same meaning takes a category colour (role ``category:<label>``).

    Returns
    -------
    dict
        Label -> (role, colour).
    """
    out: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    for k, (label, idata) in enumerate(fits.items()):
        role = "as_of" if evidence_cutoff(idata) is not None else "posterior"
        if role in taken:
            out[label] = (f"category:{label}", category_colour(k))
        else:
            taken.add(role)
            out[label] = (role, ROLE_COLOURS[role])
    return out


def _evidence_text(scenario: Scenario, cutoff: dt.date | None) -> str:
    """``evidence as of <date>``, or ``all evidence (to <last date>)``."""
    if cutoff is not None:
        return f"evidence as of {cutoff.isoformat()}"
    dates = [e.known_on for e in scenario.evidence]
    return f"all evidence (to {max(dates).isoformat()})" if dates else "no evidence"


def axis_top(values: Sequence[float], headroom: float = 1.08) -> float:
    """The top of a y-axis that fits the values: a round number, 1 once above 0.5.

    Parameters
    ----------
    values : sequence of float
        What the axis must show (non-finite values are ignored).
    headroom : float
        The highest value times this must fit under the top.
    """
    finite = [float(v) for v in values if np.isfinite(v)]
    high = max(finite, default=0.0) * headroom
    return next((t for t in _NICE_TOPS if t >= high), 1.0)


def range_note(top: float) -> str:
    """What part of 0-1 a probability axis up to ``top`` shows (empty for the whole)."""
    return "" if top >= 1.0 else f"y-axis 0\N{EN DASH}{top:g} of 0\N{EN DASH}1"


def _panel(
    ax: Axes, kind: str, label: str | None, top: float, width: int = 60, ncols: int = 2
) -> None:
    """Title, y-label, y-range ``0..top`` and, below 1, a note of the part of 0-1 shown."""
    if label:
        ax.set_title(textwrap.shorten(label, width, placeholder="..."), loc="left")
    ax.set_ylabel(QUANTITY_LABELS.get(kind, "probability"))
    ax.set_ylim(-0.02 * top, top * 1.02)
    if top < 1.0:
        ax.set_title(range_note(top), loc="right", fontsize=9, color=ROLE_COLOURS["ink"])
    format_month_axis(ax, months=(1, 7) if ncols < 3 else (1,))


def mark_evidence(
    ax: Axes,
    scenario: Scenario,
    node: str,
    states: Sequence[str],
    as_of: dt.date | None = None,
) -> None:
    """Evidence dates on the outcome's node at the panel's edges, one mark per meaning.

    Filled triangles at the top: the node was seen in the outcome's states; open triangles at
    the bottom: seen outside them. Only the evidence known on ``as_of`` (None: all of it).
    """
    target = set(states)
    seen = [e for e in scenario.evidence_as_of(as_of) if e.node == node]
    inside = sorted({e.date for e in seen if set(e.states) <= target})
    outside = sorted({e.date for e in seen if not set(e.states) <= target})
    colour = ROLE_COLOURS["evidence"]
    for dates, y, marker, face, name in (
        (inside, 0.95, "v", colour, IN_STATES),
        (outside, 0.05, "^", "none", OUTSIDE),
    ):
        if dates:
            # y in axes fractions: at the edge whatever the y range
            line = ax.plot(
                dates,
                [y] * len(dates),
                ls="none",
                marker=marker,
                ms=6,
                mew=1.3,
                color=colour,
                mfc=face,
                label=name,
                zorder=5,
                transform=ax.get_xaxis_transform(),
            )[0]
            tag(line, "evidence")


def _band_fill(ax: Axes, curve: pd.DataFrame, colour: str, role: str, label: str) -> None:
    """Mean with filled 90% and 50% bands."""
    dates = list(curve["date"])
    for band, alpha in ((90, 0.2), (50, 0.38)):
        tag(
            ax.fill_between(
                dates,
                curve[f"low{band}"],
                curve[f"high{band}"],
                color=colour,
                alpha=alpha,
                linewidth=0,
                label=f"{label}: {band}% band",
            ),
            role,
        )
    tag(ax.plot(dates, curve["mean"], color=colour, lw=2, label=f"{label}: mean")[0], role)


def _band_lines(ax: Axes, curve: pd.DataFrame, colour: str, role: str, label: str) -> None:
    """Mean as a line and the 90% band as two dotted lines (no fill, so bands never blend)."""
    dates = list(curve["date"])
    tag(ax.plot(dates, curve["mean"], color=colour, lw=2, label=f"{label}: mean")[0], role)
    for side in ("low90", "high90"):
        tag(
            ax.plot(
                dates,
                curve[side],
                color=colour,
                lw=1.1,
                ls=(0, (1, 1.6)),
                label=f"{label}: 90% band",
            )[0],
            role,
        )


def _prior_mean(ax: Axes, curve: pd.DataFrame) -> None:
    tag(
        ax.plot(
            list(curve["date"]),
            curve["mean"],
            color=ROLE_COLOURS["prior"],
            lw=1.5,
            ls="--",
            label="prior mean",
        )[0],
        "prior",
    )


def _cutoff_line(ax: Axes, cutoff: dt.date, colour: str, role: str) -> None:
    tag(
        ax.axvline(cutoff, color=colour, lw=1.2, ls="-.", label=f"evidence cut-off {cutoff}"),
        role,
    )


def _legend_entries(
    fills: Mapping[str, str], lines: Mapping[str, str], cutoffs: Mapping[str, str], prior: bool
) -> list[tuple[object, str]]:
    """One legend entry per meaning: the prior mean, each fit, each cut-off, the evidence."""
    out: list[tuple[object, str]] = []
    if prior:
        out.append((Line2D([], [], color=ROLE_COLOURS["prior"], lw=1.5, ls="--"), "prior mean"))
    for label, colour in fills.items():
        out.append(
            (
                (
                    Patch(color=colour, alpha=0.2, lw=0),
                    Patch(color=colour, alpha=0.38, lw=0),
                    Line2D([], [], color=colour, lw=2),
                ),
                f"{label}: mean, 50% and 90% bands",
            )
        )
    for label, colour in lines.items():
        out.append(
            (
                (
                    Line2D([], [], color=colour, lw=2),
                    Line2D([], [], color=colour, lw=1.1, ls=(0, (1, 1.6))),
                ),
                f"{label}: mean, 90% band dotted",
            )
        )
    for name, colour in cutoffs.items():
        out.append((Line2D([], [], color=colour, lw=1.2, ls="-."), name))
    return out


def _add_evidence_entries(axes: Sequence[Axes], entries: list[tuple[object, str]]) -> None:
    found: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label in (IN_STATES, OUTSIDE):
                found.setdefault(label, handle)
    entries += [(found[name], name) for name in (IN_STATES, OUTSIDE) if name in found]


def _legend(fig: Figure, entries: list[tuple[object, str]], spare: Axes | None) -> None:
    """The figure's legend, in a spare grid cell or below the panels: never over data."""
    from matplotlib.legend_handler import HandlerTuple

    handles = [h for h, _ in entries]
    labels = [lab for _, lab in entries]
    options = {"handler_map": {tuple: HandlerTuple(ndivide=None, pad=0)}, "frameon": False}
    if spare is not None:
        spare.axis("off")
        spare.legend(handles, labels, loc="center", **options)
    else:
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(3, len(labels)), **options
        )


def _grid(n: int, ncols: int, height: float) -> tuple[Figure, list[Axes], Axes | None]:
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(MAX_WIDTH_IN, height * nrows + 0.9, nrows, ncols, squeeze=False)
    flat = list(axes.ravel())
    spare = flat[n] if len(flat) > n else None
    for ax in flat[n + 1 :]:
        ax.remove()
    return fig, flat[:n], spare


def _suptitle(fig: Figure, text: str) -> None:
    fig.suptitle(textwrap.fill(text, 95))


def _title_width(ncols: int) -> int:
    """Characters of a panel title that fit beside the y-range note."""
    return {1: 70, 2: 38, 3: 20}.get(ncols, 14)


def outcome_plot_table(
    idata: az.InferenceData,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    max_draws: int | None = None,
) -> pd.DataFrame:
    """What the outcome figures of a fit draw, one row per outcome and month (tidy).

    Parameters
    ----------
    idata : az.InferenceData
        A fit (``posterior``, and ``prior`` for the prior mean).
    scenario : Scenario
        The fitted scenario.
    outcomes : sequence of str, optional
        Outcome ids (default: every outcome).
    max_draws : int, optional
        Draws for the exact "reached by" passes; None (every draw) makes the value at each
        question's month the forecast table's.

    Returns
    -------
    DataFrame
        ``outcome``, ``label``, ``kind``, ``quantity`` (what is plotted: the y-label),
        ``month`` (``YYYY-MM``), ``date`` (month end), ``mean``, ``low50``, ``high50``,
        ``low90``, ``high90``, ``prior_mean`` (when the fit has a prior) and ``question``
        (the ids of the outcome's questions asked at that month, space-separated).
    """
    curves = outcome_curves(idata, scenario, outcomes, max_draws=max_draws)
    curves.insert(3, "quantity", curves["kind"].map(QUANTITY_LABELS))
    if "prior" in idata.groups():
        prior = outcome_curves(idata, scenario, outcomes, group="prior", max_draws=max_draws)
        curves["prior_mean"] = prior["mean"].to_numpy()
    asked: dict[tuple[str, str], list[str]] = {}
    labels = scenario.timeline.labels
    for q in scenario.questions:
        if q.outcome is not None:
            asked.setdefault((q.outcome, labels[q.step]), []).append(q.id)
    curves["question"] = [
        " ".join(asked.get((o, m), []))
        for o, m in zip(curves["outcome"], curves["month"], strict=True)
    ]
    return curves


def plot_outcome(
    idata: az.InferenceData,
    scenario: Scenario,
    outcome: str,
    ax: Axes | None = None,
    title: str | None = None,
    max_draws: int | None = None,
    curves: pd.DataFrame | None = None,
) -> Axes:
    """One outcome by month: the fit's mean with 50% and 90% bands, and the prior mean.

    A ``reached`` outcome is the cumulative probability of having reached its states by each
    month's end, an ``in_state`` outcome the probability of being in them; evidence on the
    node is marked at the panel's edges and the fit's evidence cut-off is a dash-dot line.

    Parameters
    ----------
    idata : az.InferenceData
        A fit (``posterior`` and optionally ``prior`` groups).
    scenario : Scenario
        The fitted scenario.
    outcome : str
        The outcome's id.
    ax : Axes, optional
        Where to draw (a new figure, 9.6 in wide, when omitted).
    title : str, optional
        The figure's title (default: what is shown and as of which evidence); only used when
        ``ax`` is omitted.
    max_draws : int, optional
        Draws for the exact "reached by" passes (default: every draw).
    curves : DataFrame, optional
        :func:`outcome_plot_table` of the fit, when already computed.

    Returns
    -------
    Axes
        The axes drawn on; its legend lies outside the data (right of the axes, or below).
    """
    with plot_style():
        if curves is None:
            curves = outcome_plot_table(idata, scenario, [outcome], max_draws)
        curve = curves[curves["outcome"] == outcome]
        if curve.empty:
            raise ValueError(f"no curve of outcome {outcome!r} in the table")
        own = ax is None
        if own:
            _, ax = new_figure(MAX_WIDTH_IN, 3.9)
        cutoff = evidence_cutoff(idata)
        role = "as_of" if cutoff is not None else "posterior"
        colour = ROLE_COLOURS[role]
        _band_fill(ax, curve, colour, role, "posterior")
        values = [*curve["high90"]]
        if "prior_mean" in curve:
            _prior_mean(ax, curve.assign(mean=curve["prior_mean"]))
            values += [*curve["prior_mean"]]
        spec = next(o for o in scenario.outcomes if o.id == outcome)
        states = [spec.state] if isinstance(spec.state, str) else list(spec.state)
        mark_evidence(ax, scenario, spec.node, states, cutoff)
        cutoffs = {}
        if cutoff is not None:
            _cutoff_line(ax, cutoff, colour, role)
            cutoffs[f"evidence cut-off {cutoff}"] = colour
        _panel(ax, spec.kind, None if own else spec.label, axis_top(values), width=70)
        name = "posterior" if cutoff is None else f"posterior as of {cutoff}"
        entries = _legend_entries({name: colour}, {}, cutoffs, "prior_mean" in curve)
        _add_evidence_entries([ax], entries)
        if own:
            _legend(ax.figure, entries, None)
        else:
            from matplotlib.legend_handler import HandlerTuple

            ax.legend(
                [h for h, _ in entries],
                [lab for _, lab in entries],
                loc="upper left",
                bbox_to_anchor=(1.01, 1),
                frameon=False,
                handler_map={tuple: HandlerTuple(ndivide=None, pad=0)},
            )
        if own:
            ax.figure.suptitle(
                title
                or textwrap.fill(
                    f"{spec.label} ({spec.node} = {'|'.join(states)}): "
                    f"{QUANTITY_LABELS[spec.kind]}, {_evidence_text(scenario, cutoff)}",
                    95,
                )
            )
    return ax


def plot_outcome_overview(
    idata: az.InferenceData,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    max_draws: int | None = None,
    curves: pd.DataFrame | None = None,
) -> Figure:
    """Every outcome of one fit as small multiples, 9.6 in wide (reads at 1000 px).

    Parameters
    ----------
    idata : az.InferenceData
        A fit.
    scenario : Scenario
        The fitted scenario.
    outcomes : sequence of str, optional
        Outcome ids (default: every outcome).
    max_draws : int, optional
        Draws for the exact "reached by" passes (default: every draw).
    curves : DataFrame, optional
        :func:`outcome_plot_table` of the fit, when already computed.

    Returns
    -------
    Figure
        One axes per outcome in order; a spare grid cell (or the space below) holds the legend.
    """
    return plot_outcome_fits(
        {"posterior": idata},
        scenario,
        outcomes,
        ncols=None,
        max_draws=max_draws,
        curves={"posterior": curves} if curves is not None else None,
    )


def save_outcome_plots(
    idata: az.InferenceData,
    scenario: Scenario,
    folder: Path,
    as_of: dt.date | None = None,
    overview: str | None = None,
) -> list[Path]:
    """Write a PNG per outcome (see :func:`plot_outcome`) and beside it a CSV of what it draws.

    Each CSV (``<outcome>.csv``) holds :func:`outcome_plot_table`'s rows of the outcome, from
    every draw: its ``mean`` at a question's month is the forecast table's posterior mean,
    and ``prior_mean`` its prior mean.

    Parameters
    ----------
    idata : az.InferenceData
        A fit.
    scenario : Scenario
        The fitted scenario.
    folder : Path
        Created if missing.
    as_of : date, optional
        Evidence cut-off of the fit; the figures read it from the fit, which records it.
    overview : str, optional
        Also write every outcome as small multiples (:func:`plot_outcome_overview`) to
        ``<overview>.png``, and all the rows to ``<overview>.csv``.

    Returns
    -------
    list of Path
        The paths written: each outcome's PNG then its CSV, then the overview's PNG and CSV.
    """
    import matplotlib.pyplot as plt

    recorded = evidence_cutoff(idata)
    if as_of is not None and recorded is not None and as_of != recorded:
        logger.warning("the fit records the cut-off %s, not %s: plotting its own", recorded, as_of)
    folder.mkdir(parents=True, exist_ok=True)
    if not scenario.outcomes:
        return []
    table = outcome_plot_table(idata, scenario)
    figures = [
        (plot_outcome(idata, scenario, o.id, curves=table).figure, o.id, table["outcome"] == o.id)
        for o in scenario.outcomes
    ]
    if overview is not None:
        figures.append(
            (plot_outcome_overview(idata, scenario, curves=table), overview, slice(None))
        )
    paths = []
    for fig, name, rows in figures:
        png, csv = folder / f"{name}.png", folder / f"{name}.csv"
        with plot_style():
            fig.savefig(png, dpi=FIGURE_DPI)
        plt.close(fig)
        _csv(table[rows]).to_csv(csv, index=False)
        paths += [png, csv]
    return paths


def _csv(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(date=[d.isoformat() for d in table["date"]])


def plot_prior_predictive(
    prior: az.InferenceData,
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    ncols: int = 2,
    max_draws: int | None = 1000,
    title: str | None = None,
) -> Figure:
    """Each outcome's prior probability by month: mean with 50% and 90% bands.

    Parameters
    ----------
    prior : az.InferenceData
        With a ``prior`` group, e.g. from
        :meth:`~forecast.pymc_backend.fitting.ScenarioFitter.prior_draws` or a fit.
    scenario : Scenario
        The scenario.
    outcomes : sequence of str, optional
        Outcome ids, one panel each (default: every outcome).
    ncols : int
        Panels per row.
    max_draws : int, optional
        Draws used for cumulative ("reached") outcomes that can be left again.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes per outcome, in order (a spare grid cell holds the legend).
    """
    with plot_style():
        curves = outcome_curves(prior, scenario, outcomes, group="prior", max_draws=max_draws)
        ids = list(dict.fromkeys(curves["outcome"]))
        fig, axes, spare = _grid(len(ids), ncols, 2.5)
        for ax, oid in zip(axes, ids, strict=True):
            curve = curves[curves["outcome"] == oid]
            _band_fill(ax, curve, ROLE_COLOURS["prior"], "prior", "prior")
            top = axis_top(curve["high90"])
            kind, label = curve["kind"].iloc[0], curve["label"].iloc[0]
            _panel(ax, kind, label, top, _title_width(ncols), ncols)
        entries = [
            (
                (
                    Patch(color=ROLE_COLOURS["prior"], alpha=0.2, lw=0),
                    Patch(color=ROLE_COLOURS["prior"], alpha=0.38, lw=0),
                    Line2D([], [], color=ROLE_COLOURS["prior"], lw=2),
                ),
                "prior: mean, 50% and 90% bands",
            )
        ]
        _legend(fig, entries, spare)
        _suptitle(
            fig,
            title
            or f"Prior predictive of {scenario.id}: each outcome by month, before any evidence",
        )
    return fig


def plot_outcome_fits(
    fits: Mapping[str, az.InferenceData],
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    ncols: int | None = 2,
    max_draws: int | None = 1000,
    show_prior: bool = True,
    title: str | None = None,
    curves: Mapping[str, pd.DataFrame] | None = None,
) -> Figure:
    """Each outcome's posterior by month, for one or several fits: small multiples.

    The fit on all the evidence (else the last) is drawn as its mean with filled 50% and 90%
    bands; every other fit as its mean with its 90% band as dotted lines, so that bands never
    blend. Colours are the fits' meanings (:func:`fit_roles`: orange as of a cut-off, blue on
    all the evidence); a fit with a cut-off gets a dash-dot vertical line there. Evidence on
    the outcome's node is marked at the panel's edges: filled triangles at the top when the
    node was seen in the outcome's states, open ones at the bottom when seen outside them.

    Parameters
    ----------
    fits : mapping of str to InferenceData
        Label -> fit, e.g. ``{"as of 2024-09-30": early, "all evidence": latest}``.
    scenario : Scenario
        The fitted scenario.
    outcomes : sequence of str, optional
        Outcome ids, one panel each (default: every outcome).
    ncols : int, optional
        Panels per row (None: 2 up to 8 outcomes, else 3).
    max_draws : int, optional
        Draws used for cumulative ("reached") outcomes that can be left again.
    show_prior : bool
        Also draw the prior mean (dashed grey) from the first fit's ``prior`` group.
    title : str, optional
        Figure title (default: what is shown, as of which evidence).
    curves : mapping of str to DataFrame, optional
        Label -> :func:`outcome_plot_table` of that fit, when already computed.

    Returns
    -------
    Figure
        One axes per outcome, in order (a spare grid cell, or the space below, holds the
        legend).
    """
    with plot_style():
        per_fit = {
            label: (curves or {}).get(label)
            if (curves or {}).get(label) is not None
            else outcome_plot_table(idata, scenario, outcomes, max_draws)
            for label, idata in fits.items()
        }
        first_label = next(iter(fits))
        first = per_fit[first_label]
        prior = first if show_prior and "prior_mean" in first else None
        ids = list(dict.fromkeys(first["outcome"])) if outcomes is None else list(outcomes)
        if ncols is None:
            ncols = 2 if len(ids) <= 8 else 3
        roles = fit_roles(fits)
        filled = next(
            (label for label in reversed(fits) if roles[label][0] == "posterior"),
            list(fits)[-1],
        )
        cutoffs = {label: evidence_cutoff(idata) for label, idata in fits.items()}
        # the evidence the fits saw: all of it, or up to the latest cut-off
        seen_by = None if None in cutoffs.values() else max(cutoffs.values())
        specs = {o.id: o for o in scenario.outcomes}
        fig, axes, spare = _grid(len(ids), ncols, 2.45 if ncols > 2 else 2.6)
        for ax, oid in zip(axes, ids, strict=True):
            values: list[float] = []
            if prior is not None:
                curve = prior[prior["outcome"] == oid]
                _prior_mean(ax, curve.assign(mean=curve["prior_mean"]))
                values += [*curve["prior_mean"]]
            for label, table in per_fit.items():
                role, colour = roles[label]
                curve = table[table["outcome"] == oid]
                draw = _band_fill if label == filled else _band_lines
                draw(ax, curve, colour, role, label)
                values += [*curve["high90"]]
                if cutoffs[label] is not None:
                    _cutoff_line(ax, cutoffs[label], colour, role)
            spec = specs[oid]
            states = [spec.state] if isinstance(spec.state, str) else list(spec.state)
            mark_evidence(ax, scenario, spec.node, states, seen_by)
            _panel(ax, spec.kind, spec.label, axis_top(values), _title_width(ncols), ncols)
        fills = {label: roles[label][1] for label in fits if label == filled}
        lines = {label: roles[label][1] for label in fits if label != filled}
        named = {
            f"evidence cut-off {cutoffs[label]}"
            + ("" if str(cutoffs[label]) in label else f" ({label})"): roles[label][1]
            for label in fits
            if cutoffs[label] is not None
        }
        if len(fits) == 1:
            fills = {"posterior": roles[first_label][1]}
            named = {f"evidence cut-off {c}": roles[first_label][1] for c in cutoffs.values() if c}
        entries = _legend_entries(fills, lines, named, prior is not None)
        _add_evidence_entries(axes, entries)
        _legend(fig, entries, spare)
        if title is None:
            what = (
                _evidence_text(scenario, cutoffs[first_label])
                if len(fits) == 1
                else " and ".join(_evidence_text(scenario, c) for c in cutoffs.values())
            )
            title = f"{scenario.spec.title}: outcomes by month, {what}"
        _suptitle(fig, title)
    return fig
