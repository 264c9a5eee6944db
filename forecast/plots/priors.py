"""Elicited priors: each judgement as stated next to the density of the fitted prior."""

from __future__ import annotations

import logging
import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats

from forecast.analysis.summaries.priors import prior_table
from forecast.elicitation import Priors
from forecast.plots.style import PALETTE, wrap_rule_id
from forecast.scenario.validated import Scenario

__all__ = ["plot_node_priors", "plot_priors"]

logger = logging.getLogger(__name__)

DENSITY_COLOUR = "#5f5f5f"


def _x_max(row: pd.Series) -> float:
    dist = stats.beta(row["beta_a"], row["beta_b"])
    top = float(dist.ppf(0.995))
    if not math.isnan(row["stated_high"]):
        top = max(top, float(row["stated_high"]) * 1.15)
    return min(1.0, max(top, 0.02))


def _stated_text(row: pd.Series, prior_alpha: np.ndarray, source: str) -> str:
    lines = []
    if not math.isnan(row["stated_low"]):
        lines.append(
            f"stated {row['stated_best']:g} in [{row['stated_low']:g}, "
            f"{row['stated_high']:g}] at {row['credibility']:.0%}"
        )
        lines.append(f"prior mean {row['prior_mean']:.3g}, mass {row['prior_mass']:.2f}")
    elif source == "dirichlet":
        lines.append("stated as Dirichlet(" + ", ".join(f"{a:g}" for a in prior_alpha) + ")")
        lines.append(f"prior mean {row['prior_mean']:.3g}")
    else:
        lines.append(f"stated as Beta({row['beta_a']:g}, {row['beta_b']:g})")
        lines.append(f"prior mean {row['prior_mean']:.3g}")
    if row["reference_class"]:
        lines.append(f"+ reference class {row['reference_class']} (in the fit)")
    return "\n".join(lines)


def _draw_prior(ax: Axes, row: pd.Series, text: str) -> None:
    x = np.linspace(0.0, _x_max(row), 400)[1:-1]
    dens = stats.beta(row["beta_a"], row["beta_b"]).pdf(x)
    finite = dens[np.isfinite(dens)]
    peak = float(finite.max()) if finite.size else 1.0
    shown = np.clip(dens, 0, peak * 1.05)
    ax.plot(x, shown, color=DENSITY_COLOUR, lw=1.8, gid="density")
    if not math.isnan(row["stated_low"]):
        lo, hi = float(row["stated_low"]), float(row["stated_high"])
        inside = (x >= lo) & (x <= hi)
        ax.fill_between(
            x[inside], shown[inside], color=PALETTE["prior"], alpha=0.4, linewidth=0, gid="mass"
        )
        y = peak * 1.18
        ax.plot(
            [lo, hi],
            [y, y],
            color=PALETTE["stated"],
            lw=2.2,
            solid_capstyle="butt",
            gid="stated_interval",
        )
        ax.plot([lo, lo], [y - peak * 0.05, y + peak * 0.05], color=PALETTE["stated"], lw=2)
        ax.plot([hi, hi], [y - peak * 0.05, y + peak * 0.05], color=PALETTE["stated"], lw=2)
        ax.plot([row["stated_best"]], [y], "D", color=PALETTE["stated"], ms=6, gid="stated_best")
    ax.plot(
        [row["prior_mean"]] * 2,
        [0, peak * 1.08],
        color=DENSITY_COLOUR,
        lw=1,
        ls=":",
        gid="prior_mean",
    )
    ax.set_ylim(0, peak * 1.85)
    ax.set_xlim(0, x[-1])
    ax.text(
        0.98,
        0.97,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7.5,
        linespacing=1.25,
    )
    ax.set_yticks([])
    ax.set_ylabel("density")
    ax.set_xlabel(f"P({row['destination']} within {row['within_months']} months)")
    ax.grid(axis="x", alpha=0.3)


def plot_node_priors(scenario: Scenario, priors: Priors, node: str, ncols: int = 3) -> Figure:
    """The priors of one node's rules: stated judgement and fitted prior, one panel each.

    Each panel shows, for one destination of one rule, the density of the fitted prior of the
    N-month probability (the Beta, or the Dirichlet's Beta marginal) with its mass in the
    stated interval shaded, the stated interval (green bracket) and best guess (diamond), the
    prior mean (dotted), and the numbers in words.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    priors : Priors
        Its priors (see :func:`forecast.elicitation.elicit`).
    node : str
        The node.
    ncols : int
        Panels per row.

    Returns
    -------
    Figure
        One axes per rule and destination, in scenario order.

    Raises
    ------
    ValueError
        If the node has no rule with a probability parameter.
    """
    import matplotlib.pyplot as plt

    table = prior_table(scenario, priors)
    rows = table[table["node"] == node]
    if rows.empty:
        raise ValueError(f"node '{node}' has no rule with a prior")
    n = len(rows)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.7 * ncols, 2.75 * nrows + 0.9), squeeze=False, layout="constrained"
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    spec = scenario.node(node)
    fig.suptitle(
        f"Priors of '{spec.label}' ({node}): stated judgement and fitted prior", fontsize=12
    )
    for ax, (_, row) in zip(flat, rows.iterrows(), strict=False):
        prior = priors[row["rule"]]
        origin = row["condition"].split(", given ")
        given = (
            "given " + origin[1]
            if len(origin) > 1
            else "any parent states"
            if spec.parents
            else "no parents"
        )
        words = textwrap.fill(f"{origin[0]} → {row['destination']}, {given}", 56)
        ax.set_title(f"{wrap_rule_id(row['rule'], 48)}\n{words}", fontsize=8.5)
        _draw_prior(ax, row, _stated_text(row, prior.alpha, row["source"]))
    handles = [
        Line2D([], [], color=DENSITY_COLOUR, lw=1.8, label="fitted prior density"),
        Patch(color=PALETTE["prior"], alpha=0.4, label="its mass in the stated interval"),
        Line2D(
            [],
            [],
            color=PALETTE["stated"],
            lw=2.2,
            marker="D",
            label="stated interval and best guess",
        ),
        Line2D([], [], color=DENSITY_COLOUR, lw=1, ls=":", label="prior mean"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize=8.5)
    return fig


def plot_priors(scenario: Scenario, priors: Priors, ncols: int = 3) -> dict[str, Figure]:
    """One :func:`plot_node_priors` figure per node that has a rule with a prior.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    priors : Priors
        Its priors.
    ncols : int
        Panels per row.

    Returns
    -------
    dict of str to Figure
        Node name -> figure, in node order.
    """
    nodes = list(dict.fromkeys(r.node for r in scenario.rules))
    return {node: plot_node_priors(scenario, priors, node, ncols) for node in nodes}
