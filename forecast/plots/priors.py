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
from forecast.plots.style import (
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    new_figure,
    plot_style,
    tag,
    wrap_rule_id,
)
from forecast.scenario.validated import Scenario

__all__ = ["plot_node_priors", "plot_priors"]

logger = logging.getLogger(__name__)

PRIOR = ROLE_COLOURS["prior"]
STATED = ROLE_COLOURS["stated"]
PANEL_WIDTH = MAX_WIDTH_IN / 3
"""Inches per panel: three panels fill the widest figure."""
PANEL_HEIGHT = 2.75
NOTE_GAP = 0.04
"""Fraction of an axes' height left between the corner note and the highest mark."""


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


def _draw_prior(ax: Axes, row: pd.Series, text: str) -> float:
    """One panel: the fitted prior's density, the stated judgement and the corner note.

    Returns the height (in data units) of the highest mark, which the note must stay above.
    """
    x = np.linspace(0.0, _x_max(row), 400)[1:-1]
    dens = stats.beta(row["beta_a"], row["beta_b"]).pdf(x)
    finite = dens[np.isfinite(dens)]
    peak = float(finite.max()) if finite.size else 1.0
    shown = np.clip(dens, 0, peak * 1.05)
    tag(ax.plot(x, shown, color=PRIOR, lw=1.8, label="density")[0], "prior")
    top = peak * 1.08
    if not math.isnan(row["stated_low"]):
        lo, hi = float(row["stated_low"]), float(row["stated_high"])
        inside = (x >= lo) & (x <= hi)
        mass = ax.fill_between(
            x[inside], shown[inside], color=PRIOR, alpha=0.35, linewidth=0, label="mass"
        )
        tag(mass, "prior")
        y = peak * 1.18
        line = ax.plot(
            [lo, hi], [y, y], color=STATED, lw=2.2, solid_capstyle="butt", label="stated_interval"
        )
        tag(line[0], "stated")
        for end in (lo, hi):
            cap = ax.plot([end, end], [y - peak * 0.05, y + peak * 0.05], color=STATED, lw=2)
            tag(cap[0], "stated")
        best = ax.plot([row["stated_best"]], [y], "D", color=STATED, ms=6, label="stated_best")
        tag(best[0], "stated")
        top = y + peak * 0.06
    mean = ax.plot(
        [row["prior_mean"]] * 2, [0, peak * 1.08], color=PRIOR, lw=1.2, ls=":", label="prior_mean"
    )
    tag(mean[0], "prior")
    ax.set_ylim(0, top * 1.6)
    ax.set_xlim(0, x[-1])
    ax.text(
        0.98,
        0.97,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=9,
        linespacing=1.2,
        gid="note",
    )
    ax.set_yticks([])
    ax.set_xlabel(f"P({row['destination']} within {row['within_months']} months)")
    ax.grid(axis="x", alpha=0.3)
    return top


def _clear_notes(fig: Figure, tops: dict[Axes, float]) -> None:
    """Raise each panel's y limit until its corner note sits above the highest mark."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax, top in tops.items():
        note = next(t for t in ax.texts if t.get_gid() == "note")
        box = note.get_window_extent(renderer)
        share = box.height / ax.get_window_extent(renderer).height
        ax.set_ylim(0, max(ax.get_ylim()[1], top / max(1 - share - NOTE_GAP, 0.2)))


def plot_node_priors(scenario: Scenario, priors: Priors, node: str, ncols: int = 3) -> Figure:
    """The priors of one node's rules: stated judgement and fitted prior, one panel each.

    Each panel shows, for one destination of one rule, the density of the fitted prior of the
    N-month probability (the Beta, or the Dirichlet's Beta marginal) with its mass in the
    stated interval shaded and its mean (dotted), all in the prior colour; the stated interval
    (bracket) and best guess (diamond) in the stated colour; and the numbers in words in the
    top corner, above the marks.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    priors : Priors
        Its priors (see :func:`forecast.elicitation.elicit`).
    node : str
        The node.
    ncols : int
        Panels per row (the figure is at most :data:`~forecast.plots.style.MAX_WIDTH_IN`
        wide, so more than three make the panels narrow).

    Returns
    -------
    Figure
        One axes per rule and destination, in scenario order. Marks are named by their label
        (``density``, ``mass``, ``prior_mean``, tagged ``prior``; ``stated_interval`` and
        ``stated_best``, tagged ``stated``), the corner note by its gid ``note``.

    Raises
    ------
    ValueError
        If the node has no rule with a probability parameter.
    """
    table = prior_table(scenario, priors)
    rows = table[table["node"] == node]
    if rows.empty:
        raise ValueError(f"node '{node}' has no rule with a prior")
    n = len(rows)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    width = min(MAX_WIDTH_IN, PANEL_WIDTH * max(ncols, 2))
    chars = int(width / ncols * 14)  # characters of 9-point text per line of a panel
    spec = scenario.node(node)
    with plot_style():
        fig, axes = new_figure(width, PANEL_HEIGHT * nrows + 0.9, nrows, ncols, squeeze=False)
        flat = list(axes.ravel())
        for ax in flat[n:]:
            ax.remove()
        title = f"Priors of '{spec.label}' ({node}): stated judgement and fitted prior"
        fig.suptitle(textwrap.fill(title, int(width * 10)), fontsize=12)
        tops = {}
        for k, (ax, (_, row)) in enumerate(zip(flat, rows.iterrows(), strict=False)):
            prior = priors[row["rule"]]
            origin = row["condition"].split(", given ")
            given = (
                "given " + origin[1]
                if len(origin) > 1
                else "any parent states"
                if spec.parents
                else "no parents"
            )
            words = textwrap.fill(f"{origin[0]} → {row['destination']}, {given}", chars)
            ax.set_title(f"{wrap_rule_id(row['rule'], chars)}\n{words}", fontsize=9)
            tops[ax] = _draw_prior(ax, row, _stated_text(row, prior.alpha, row["source"]))
            if k % ncols == 0:
                ax.set_ylabel("density")
        handles = [
            Line2D([], [], color=PRIOR, lw=1.8, label="fitted prior density"),
            Patch(color=PRIOR, alpha=0.35, label="its mass in the stated interval"),
            Line2D([], [], color=PRIOR, lw=1.2, ls=":", label="prior mean"),
            Line2D(
                [], [], color=STATED, lw=2.2, marker="D", label="stated interval and best guess"
            ),
        ]
        fig.legend(
            handles=handles, loc="outside lower center", ncol=4 if width > 8 else 2, fontsize=9
        )
        _clear_notes(fig, tops)
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
