"""Outcome probabilities by month: one fit, several fits overlaid, and the prior predictive."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from forecast.analysis.summaries.outcomes import evidence_cutoff, outcome_curves
from forecast.analysis.summaries.tables import monthly_bands
from forecast.plots.style import FIT_COLOURS, PALETTE, format_month_axis, month_dates
from forecast.scenario.validated import Scenario

__all__ = ["plot_outcome", "plot_outcome_fits", "plot_prior_predictive", "save_outcome_plots"]

logger = logging.getLogger(__name__)


def plot_outcome(
    idata: az.InferenceData,
    scenario: Scenario,
    node: str,
    states: tuple[str, ...] | list[str],
    title: str,
    ax: Axes | None = None,
    as_of: dt.date | None = None,
) -> Axes:
    """Plot P(node in states) by month: posterior mean with 50% and 90% bands, prior mean.

    Evidence dates about the node are marked on the time axis, and the evidence cut-off is a
    vertical line.

    Parameters
    ----------
    idata : az.InferenceData
        A fit (``posterior`` and optionally ``prior`` groups).
    scenario : Scenario
        The fitted scenario.
    node : str
        The node.
    states : sequence of str
        The node's states whose total probability is plotted.
    title : str
        Axes title.
    ax : Axes, optional
        Where to draw (a new figure when omitted).
    as_of : date, optional
        Evidence cut-off of the fit.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6))
    dates = month_dates(scenario)
    post = monthly_bands(idata, scenario, node, states)
    colour = PALETTE["posterior"]
    ax.fill_between(
        dates,
        post["low90"],
        post["high90"],
        color=colour,
        alpha=0.18,
        label="90% band",
        linewidth=0,
    )
    ax.fill_between(
        dates,
        post["low50"],
        post["high50"],
        color=colour,
        alpha=0.35,
        label="50% band",
        linewidth=0,
    )
    ax.plot(dates, post["mean"], color=colour, lw=2, label="posterior mean")
    if "prior" in idata.groups():
        prior = monthly_bands(idata, scenario, node, states, group="prior")
        ax.plot(dates, prior["mean"], color=PALETTE["prior"], lw=1.5, ls="--", label="prior mean")
    seen = sorted({e.date for e in scenario.evidence_as_of(as_of) if e.node == node})
    if seen:
        ax.plot(
            seen,
            [0.0] * len(seen),
            "|",
            color=PALETTE["evidence"],
            ms=14,
            mew=2,
            label="evidence on this node",
            clip_on=False,
        )
    if as_of is not None:
        ax.axvline(as_of, color="black", lw=1, ls=":", label=f"evidence cut-off {as_of}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(title)
    format_month_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    return ax


def save_outcome_plots(
    idata: az.InferenceData, scenario: Scenario, folder: Path, as_of: dt.date | None = None
) -> list[Path]:
    """Write one PNG per outcome of the scenario (see :func:`plot_outcome`).

    Parameters
    ----------
    idata : az.InferenceData
        A fit.
    scenario : Scenario
        The fitted scenario.
    folder : Path
        Created if missing.
    as_of : date, optional
        Evidence cut-off of the fit.

    Returns
    -------
    list of Path
        The paths written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for outcome in scenario.outcomes:
        states = [outcome.state] if isinstance(outcome.state, str) else list(outcome.state)
        fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
        plot_outcome(
            idata,
            scenario,
            outcome.node,
            states,
            f"{outcome.label}: P({outcome.node} = {'|'.join(states)}) by month",
            ax=ax,
            as_of=as_of,
        )
        path = folder / f"{outcome.id}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _grid(n: int, ncols: int, title: str) -> tuple[Figure, list[Axes], Axes | None]:
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5.4 * ncols, 2.9 * nrows + 0.6), squeeze=False, layout="constrained"
    )
    flat = list(axes.ravel())
    spare = flat[n] if len(flat) > n else None
    for ax in flat[n + 1 :]:
        ax.remove()
    fig.suptitle(title, fontsize=12)
    return fig, flat[:n], spare


def _panel(ax: Axes, top: float, kind: str, label: str) -> None:
    """Title, labels and a y range that shows small probabilities (at least 0 to 0.05)."""
    when = "by month end, cumulative" if kind == "reached" else "at month end"
    ax.set_title(f"{label} ({when})", fontsize=10)
    top = 1.0 if top > 0.6 else max(0.05, top * 1.15)
    ax.set_ylim(-0.03 * top, top * 1.03)
    ax.set_ylabel("probability")
    format_month_axis(ax, months=(1, 7))
    ax.grid(alpha=0.3)


def _bands(
    ax: Axes, curve: pd.DataFrame, colour: str, name: str, mean_style: str = "-", alpha: float = 1.0
) -> None:
    dates = list(curve["date"])
    ax.fill_between(
        dates,
        curve["low90"],
        curve["high90"],
        color=colour,
        alpha=0.14 * alpha,
        linewidth=0,
        label=f"{name}: 90% band",
    )
    ax.fill_between(
        dates,
        curve["low50"],
        curve["high50"],
        color=colour,
        alpha=0.3 * alpha,
        linewidth=0,
        label=f"{name}: 50% band",
    )
    ax.plot(dates, curve["mean"], color=colour, lw=2, ls=mean_style, label=f"{name}: mean")


def _legend(fig: Figure, axes: list[Axes], spare: Axes | None) -> None:
    handles, labels = axes[0].get_legend_handles_labels()
    seen: dict[str, object] = dict(zip(labels, handles, strict=True))
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    # evidence marks last, "seen in the outcome's states" before "seen outside them"
    order = sorted(seen, key=lambda lab: (lab.startswith("evidence"), "outside" in lab))
    seen = {lab: seen[lab] for lab in order}
    if spare is not None:
        spare.axis("off")
        spare.legend(list(seen.values()), list(seen), loc="center", frameon=False, fontsize=9)
    else:
        fig.legend(
            list(seen.values()),
            list(seen),
            loc="outside lower center",
            ncol=min(4, len(seen)),
            frameon=False,
            fontsize=9,
        )


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
    curves = outcome_curves(prior, scenario, outcomes, group="prior", max_draws=max_draws)
    ids = list(dict.fromkeys(curves["outcome"]))
    fig, axes, spare = _grid(
        len(ids),
        ncols,
        title or (f"Prior predictive of {scenario.id}: each outcome by month, before any evidence"),
    )
    for ax, oid in zip(axes, ids, strict=True):
        curve = curves[curves["outcome"] == oid]
        _bands(ax, curve, PALETTE["prior"], "prior")
        _panel(ax, float(curve["high90"].max()), curve["kind"].iloc[0], curve["label"].iloc[0])
    _legend(fig, axes, spare)
    return fig


def plot_outcome_fits(
    fits: Mapping[str, az.InferenceData],
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    ncols: int = 2,
    max_draws: int | None = 1000,
    show_prior: bool = True,
    title: str | None = None,
) -> Figure:
    """Each outcome's posterior probability by month, for several fits overlaid.

    Every fit gets its mean with 50% and 90% bands, in the colours of
    :data:`~forecast.plots.style.FIT_COLOURS`; a fit with an evidence cut-off gets a dotted
    vertical line at the cut-off. The dates of the evidence on the outcome's node are marked
    on the time axis: at the top when the node was seen in the outcome's states, at the bottom
    when it was seen outside them.

    Parameters
    ----------
    fits : mapping of str to InferenceData
        Label -> fit, e.g. ``{"as of 2024-09-30": early, "all evidence": latest}``.
    scenario : Scenario
        The fitted scenario.
    outcomes : sequence of str, optional
        Outcome ids, one panel each (default: every outcome).
    ncols : int
        Panels per row.
    max_draws : int, optional
        Draws used for cumulative ("reached") outcomes that can be left again.
    show_prior : bool
        Also draw the prior mean (dashed grey) from the first fit's ``prior`` group.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One axes per outcome, in order (a spare grid cell holds the legend).
    """
    per_fit = {
        label: outcome_curves(idata, scenario, outcomes, max_draws=max_draws)
        for label, idata in fits.items()
    }
    first = next(iter(fits.values()))
    prior = (
        outcome_curves(first, scenario, outcomes, group="prior", max_draws=max_draws)
        if show_prior and "prior" in first.groups()
        else None
    )
    some = next(iter(per_fit.values()))
    ids = list(dict.fromkeys(some["outcome"]))
    specs = {o.id: o for o in scenario.outcomes}
    fig, axes, spare = _grid(
        len(ids), ncols, title or (f"{scenario.spec.title}: outcomes by month")
    )
    for ax, oid in zip(axes, ids, strict=True):
        if prior is not None:
            curve = prior[prior["outcome"] == oid]
            ax.plot(
                list(curve["date"]),
                curve["mean"],
                color=PALETTE["prior"],
                lw=1.5,
                ls="--",
                label="prior: mean",
            )
        for k, (label, curves) in enumerate(per_fit.items()):
            colour = FIT_COLOURS[k % len(FIT_COLOURS)]
            _bands(ax, curves[curves["outcome"] == oid], colour, label)
            cutoff = evidence_cutoff(fits[label])
            if cutoff is not None:
                ax.axvline(cutoff, color=colour, lw=1.2, ls=":", label=f"{label}: evidence cut-off")
        spec = specs[oid]
        target = {spec.state} if isinstance(spec.state, str) else set(spec.state)
        inside = sorted(
            {e.date for e in scenario.evidence if e.node == spec.node and set(e.states) <= target}
        )
        outside = sorted(
            {
                e.date
                for e in scenario.evidence
                if e.node == spec.node and not set(e.states) <= target
            }
        )
        for dates, y, name in (
            (inside, 0.97, "evidence: node seen in the outcome's states"),
            (outside, 0.03, "evidence: node seen outside them"),
        ):
            if dates:
                # y in axes fractions: marks at the top or bottom edge whatever the y range
                ax.plot(
                    dates,
                    [y] * len(dates),
                    "|",
                    color=PALETTE["evidence"],
                    ms=9,
                    mew=1.6,
                    label=name,
                    zorder=5,
                    transform=ax.get_xaxis_transform(),
                )
        top = max(float(c[c["outcome"] == oid]["high90"].max()) for c in per_fit.values())
        curve = some[some["outcome"] == oid]
        _panel(ax, top, curve["kind"].iloc[0], curve["label"].iloc[0])
    _legend(fig, axes, spare)
    return fig
