"""Rule parameters: prior and posterior intervals side by side, grouped by node."""

from __future__ import annotations

from collections.abc import Mapping

import arviz as az
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from forecast.analysis.summaries.parameters import rule_parameter_table
from forecast.plots.style import FIT_COLOURS, PALETTE
from forecast.scenario.validated import Scenario

__all__ = ["plot_prior_posterior"]


def plot_prior_posterior(
    fits: Mapping[str, az.InferenceData] | az.InferenceData,
    scenario: Scenario,
    interval: float = 0.9,
) -> Figure:
    """Prior and posterior mean and interval of every rule parameter, one panel per node.

    Each row is the probability of one destination within the rule's N months: the prior
    (grey, from the first fit's ``prior`` group) and each fit's posterior (coloured) as a
    central interval with a dot at the mean. The axis is on the logit scale, so that rare
    events (1%) and likely ones (90%) are both readable.

    Parameters
    ----------
    fits : InferenceData or mapping of str to InferenceData
        One fit, or label -> fit.
    scenario : Scenario
        The fitted scenario.
    interval : float
        Mass of the central intervals.

    Returns
    -------
    Figure
        One axes per node with rule parameters, in node order; interval lines carry the gid
        ``"<group>:<rule>:<destination>"`` (group ``prior`` or the fit label).
    """
    import matplotlib.pyplot as plt

    if isinstance(fits, az.InferenceData):
        fits = {"posterior": fits}
    labels = list(fits)
    tables = {
        label: rule_parameter_table(idata, scenario, interval) for label, idata in fits.items()
    }
    first = tables[labels[0]]
    nodes = list(dict.fromkeys(first["node"]))
    counts = [int((first["node"] == n).sum()) for n in nodes]
    fig, axes = plt.subplots(
        len(nodes),
        1,
        figsize=(11.0, 0.42 * sum(counts) + 0.55 * len(nodes) + 1.2),
        sharex=True,
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": [c + 1.2 for c in counts]},
    )
    axes = list(axes.ravel())
    lows = [t["posterior_low"].min() for t in tables.values()] + [first["prior_low"].min()]
    highs = [t["posterior_high"].max() for t in tables.values()] + [first["prior_high"].max()]
    x_lo = float(np.clip(min(lows) * 0.6, 1e-4, 0.05))
    x_hi = float(np.clip(1 - (1 - max(highs)) * 0.6, 0.95, 1 - 1e-4))
    series = [("prior", first, PALETTE["prior"], "prior")] + [
        (label, tables[label], FIT_COLOURS[k % len(FIT_COLOURS)], "posterior")
        for k, label in enumerate(labels)
    ]
    step = 0.6 / max(1, len(series) - 1)
    for ax, node in zip(axes, nodes, strict=True):
        rows = first[first["node"] == node].reset_index(drop=True)
        y = np.arange(len(rows))[::-1].astype(float)
        for k, (label, table, colour, group) in enumerate(series):
            part = table[table["node"] == node].reset_index(drop=True)
            offset = 0.3 - k * step
            for i, row in part.iterrows():
                ax.plot(
                    [row[f"{group}_low"], row[f"{group}_high"]],
                    [y[i] + offset] * 2,
                    color=colour,
                    lw=2.4,
                    solid_capstyle="butt",
                    gid=f"{label}:{row['rule']}:{row['destination']}",
                )
                ax.plot([row[f"{group}_mean"]], [y[i] + offset], "o", color=colour, ms=4)
        ax.set_yticks(y)
        ax.set_yticklabels(
            [
                f"{r.condition} → {r.destination} ({r.within_months} mo)\n{r.rule}"
                for r in rows.itertuples()
            ],
            fontsize=7.5,
            linespacing=1.1,
        )
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_title(f"{scenario.node(node).label} ({node})", fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xscale("logit")
    axes[-1].set_xlim(x_lo, x_hi)
    ticks = [
        t for t in (1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999) if x_lo <= t <= x_hi
    ]
    axes[-1].xaxis.set_major_locator(FixedLocator(ticks))
    axes[-1].xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
    axes[-1].xaxis.set_minor_locator(NullLocator())
    axes[-1].set_xlabel(
        f"P(move within the rule's N months), logit scale: mean and {interval:.0%} interval"
    )
    handles = [
        Line2D(
            [],
            [],
            color=colour,
            lw=2.4,
            marker="o",
            ms=4,
            label="prior" if group == "prior" else f"posterior, {label}",
        )
        for label, _, colour, group in series
    ]
    fig.legend(
        handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=9
    )
    fig.suptitle(f"Rule parameters of {scenario.id}: prior and posterior", fontsize=12)
    return fig
