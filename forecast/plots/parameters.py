"""Rule parameters: prior and posterior intervals side by side, grouped by node."""

from __future__ import annotations

from collections.abc import Mapping

import arviz as az
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from forecast.analysis.summaries.outcomes import evidence_cutoff
from forecast.analysis.summaries.parameters import rule_parameter_table
from forecast.plots.style import (
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    new_figure,
    plot_style,
    tag,
    wrap_rule_id,
)
from forecast.scenario.validated import Scenario

__all__ = ["plot_prior_posterior"]

RULE_WIDTH = 44
"""Characters of a rule id per line of a row's label."""
LINE_IN = 0.16
"""Height of a label's line of 9-pt text, in inches."""
ROW_IN = 0.3
"""Height of a one-line row, in inches."""
TITLE_IN = 0.32
"""Height of a panel's title, in inches."""
SERIES_IN = 0.085
"""Distance between the prior's and each fit's interval within a row, in inches."""


def plot_prior_posterior(
    fits: Mapping[str, az.InferenceData] | az.InferenceData,
    scenario: Scenario,
    interval: float = 0.9,
) -> Figure:
    """Prior and posterior mean and interval of every rule parameter, one panel per node.

    Each row is the probability of one destination within the rule's N months: the prior
    (grey, from the first fit's ``prior`` group) and each fit's posterior (in the colour of
    its meaning, see :func:`~forecast.plots.outcomes.fit_roles`) as a
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
        One axes per node with rule parameters, in node order; interval lines carry the label
        ``"<group>:<rule>:<destination>"`` (group ``prior`` or the fit label) and are tagged
        with their meaning (``prior``, or the fit's: ``as_of`` with a cut-off, ``posterior``
        with all evidence). A row's label is its rule id (the id ``with_judgement`` takes),
        then the destination and the rule's months.
    """
    from forecast.plots.outcomes import fit_roles

    if isinstance(fits, az.InferenceData):
        fits = {"posterior": fits}
    labels = list(fits)
    tables = {
        label: rule_parameter_table(idata, scenario, interval) for label, idata in fits.items()
    }
    first = tables[labels[0]]
    nodes = list(dict.fromkeys(first["node"]))
    ticks = {
        node: [
            f"{wrap_rule_id(r.rule, RULE_WIDTH)}\n\N{RIGHTWARDS ARROW} {r.destination} "
            f"within {r.within_months} mo"
            for r in first[first["node"] == node].itertuples()
        ]
        for node in nodes
    }
    # each row as tall as its label (9-pt lines), each panel its rows and its title
    rows_in = {node: [LINE_IN * t.count("\n") + ROW_IN for t in ticks[node]] for node in nodes}
    heights = [sum(r) + TITLE_IN for r in rows_in.values()]
    roles = fit_roles(fits)
    series = [("prior", first, ROLE_COLOURS["prior"], "prior", "prior")] + [
        (label, tables[label], roles[label][1], "posterior", roles[label][0]) for label in labels
    ]
    with plot_style():
        fig, axes = new_figure(
            MAX_WIDTH_IN,
            sum(heights) + 1.3,
            len(nodes),
            1,
            sharex=True,
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
        axes = list(axes.ravel())
        lows = [t["posterior_low"].min() for t in tables.values()] + [first["prior_low"].min()]
        highs = [t["posterior_high"].max() for t in tables.values()] + [first["prior_high"].max()]
        x_lo = float(np.clip(min(lows) * 0.6, 1e-4, 0.05))
        x_hi = float(np.clip(1 - (1 - max(highs)) * 0.6, 0.95, 1 - 1e-4))
        middle = (len(series) - 1) / 2
        for ax, node in zip(axes, nodes, strict=True):
            sizes = rows_in[node]
            # row centres in inches from the top, so that tall labels get tall rows
            edges = np.concatenate([[0.0], np.cumsum(sizes)])
            y = -(edges[:-1] + edges[1:]) / 2
            for k, (label, table, colour, group, role) in enumerate(series):
                part = table[table["node"] == node].reset_index(drop=True)
                for i, row in part.iterrows():
                    offset = (middle - k) * SERIES_IN
                    tag(
                        ax.plot(
                            [row[f"{group}_low"], row[f"{group}_high"]],
                            [y[i] + offset] * 2,
                            color=colour,
                            lw=2.4,
                            solid_capstyle="butt",
                        )[0],
                        role,
                    ).set_label(f"{label}:{row['rule']}:{row['destination']}")
                    tag(
                        ax.plot([row[f"{group}_mean"]], [y[i] + offset], "o", color=colour, ms=4)[
                            0
                        ],
                        role,
                    )
            ax.set_yticks(y, ticks[node], linespacing=1.05)
            ax.set_ylim(-edges[-1], 0)
            ax.set_title(f"{scenario.node(node).label} ({node})", loc="left")
            ax.grid(axis="y", visible=False)
        axes[-1].set_xscale("logit")
        axes[-1].set_xlim(x_lo, x_hi)
        at = [
            t
            for t in (1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)
            if x_lo <= t <= x_hi
        ]
        axes[-1].xaxis.set_major_locator(FixedLocator(at))
        axes[-1].xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in at]))
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
                label=label if label in ("prior", "posterior") else f"posterior, {label}",
            )
            for label, _, colour, group, _ in series
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
        cutoffs = [evidence_cutoff(idata) for idata in fits.values()]
        evidence = ", ".join(
            f"evidence as of {c}" if c is not None else "all evidence" for c in cutoffs
        )
        fig.suptitle(f"Rule parameters of {scenario.id}: prior and posterior ({evidence})")
    return fig
