"""Figures: each outcome's probability by month with credible bands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import arviz as az
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from forecast.analysis.tables import monthly_bands
from forecast.spec.scenario import Scenario

PALETTE = {"posterior": "#1f5f8b", "prior": "#9a9a9a", "evidence": "#c0392b"}


def _month_dates(scenario: Scenario) -> list[dt.date]:
    return [scenario.timeline.month_end_date(t) for t in range(scenario.timeline.n_steps)]


def plot_outcome(idata: az.InferenceData, scenario: Scenario, node: str,
                 states: tuple[str, ...] | list[str], title: str, ax=None,
                 as_of: dt.date | None = None):
    """Plot P(node in states) by month: posterior mean with 50% and 90% bands, prior mean.

    Evidence dates about the node are marked on the time axis, and the evidence cut-off is a
    vertical line.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6))
    dates = _month_dates(scenario)
    post = monthly_bands(idata, scenario, node, states)
    colour = PALETTE["posterior"]
    ax.fill_between(dates, post["low90"], post["high90"], color=colour, alpha=0.18,
                    label="90% band", linewidth=0)
    ax.fill_between(dates, post["low50"], post["high50"], color=colour, alpha=0.35,
                    label="50% band", linewidth=0)
    ax.plot(dates, post["mean"], color=colour, lw=2, label="posterior mean")
    if "prior" in idata.groups():
        prior = monthly_bands(idata, scenario, node, states, group="prior")
        ax.plot(dates, prior["mean"], color=PALETTE["prior"], lw=1.5, ls="--",
                label="prior mean")
    seen = sorted({e.date for e in scenario.evidence_as_of(as_of) if e.node == node})
    if seen:
        ax.plot(seen, [0.0] * len(seen), "|", color=PALETTE["evidence"], ms=14, mew=2,
                label="evidence on this node", clip_on=False)
    if as_of is not None:
        ax.axvline(as_of, color="black", lw=1, ls=":", label=f"evidence cut-off {as_of}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_xlabel("month (end)")
    ax.set_title(title)
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=[1, 4, 7, 10]))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    return ax


def save_outcome_plots(idata: az.InferenceData, scenario: Scenario, folder: Path,
                       as_of: dt.date | None = None) -> list[Path]:
    """One PNG per outcome of the scenario; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for outcome in scenario.outcomes:
        states = [outcome.state] if isinstance(outcome.state, str) else list(outcome.state)
        fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
        plot_outcome(idata, scenario, outcome.node, states,
                     f"{outcome.label}: P({outcome.node} = {'|'.join(states)}) by month",
                     ax=ax, as_of=as_of)
        path = folder / f"{outcome.id}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
