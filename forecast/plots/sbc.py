"""Figures of simulation-based calibration: rank histograms and ECDF differences with bands."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from forecast.analysis.evaluation.sbc import SBCReport, choose_bins, ecdf_band
from forecast.plots.style import (
    CATEGORY_COLOURS,
    FIGURE_DPI,
    MAX_WIDTH_IN,
    ROLE_COLOURS,
    new_figure,
    plot_style,
    tag,
    wrap_rule_id,
)

__all__ = ["plot_sbc", "plot_sbc_ecdf", "plot_sbc_histograms", "save_sbc_plots"]

COLUMNS = 3
"""Panels per row: three fit in 9.6 in with 9-pt titles of up to 34 characters a line."""

PASS_COLOUR = ROLE_COLOURS["posterior"]
"""A quantity whose ranks look uniform: drawn as the posterior it checks."""
FAIL_COLOUR = CATEGORY_COLOURS[6]
"""A quantity that fails the test (wine; not a meaning's colour, so it is never confused)."""


def _grid(n: int, title: str) -> tuple[Figure, np.ndarray]:
    cols = min(COLUMNS, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = new_figure(MAX_WIDTH_IN, 2.1 * rows + 0.8, rows, cols, squeeze=False)
    fig.suptitle(textwrap.fill(title, 100))
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _label(name: str, status: bool) -> str:
    """A quantity's name on lines of at most 34 characters, broken after ``[`` or ``,``."""
    text = name + ("" if status else " (FAIL)")
    return "\n".join(
        part for line in wrap_rule_id(text, 34).splitlines() for part in textwrap.wrap(line, 34)
    )


def _status(artist, ok: bool):
    """Tag a quantity's marks: passing in the posterior's colour, failing in a category's."""
    return tag(artist, "posterior" if ok else "category:fail")


def plot_sbc_histograms(report: SBCReport) -> Figure:
    """One rank histogram per quantity, with the 99% range of a bin's count under uniformity."""
    with plot_style():
        return _histograms(report)


def _histograms(report: SBCReport) -> Figure:
    ranks = report.ranks
    n = len(ranks)
    n_ranks = report.n_ranks
    bins = choose_bins(n, n_ranks)
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / bins)
    fig, axes = _grid(
        ranks.shape[1],
        f"SBC rank histograms: {report.scenario_id}, {n} replications, {bins} bins "
        "(grey: 99% range of a bin under uniform ranks; blue: passes, wine: fails)",
    )
    passed = dict(zip(report.tests["quantity"], report.tests["passed"], strict=True))
    edges = np.linspace(0, n_ranks, bins + 1)
    for ax, name in zip(axes.flat, ranks.columns, strict=False):
        tag(ax.axhspan(lo, hi, color=ROLE_COLOURS["guide"], zorder=0), "guide")
        tag(ax.axhline(n / bins, color=ROLE_COLOURS["ink"], lw=0.8), "ink")
        ok = passed.get(name, False)
        *_, bars = ax.hist(
            ranks[name],
            bins=edges,
            rwidth=0.85,
            color=PASS_COLOUR if ok else FAIL_COLOUR,
            edgecolor="none",
        )
        for bar in bars:
            _status(bar, ok)
        ax.set_title(_label(name, ok), fontsize=9, loc="left")
        ax.set_xlim(0, n_ranks)
        ax.grid(False)
    return fig


def plot_sbc_ecdf(report: SBCReport) -> Figure:
    """ECDF of each quantity's fractional ranks minus the uniform CDF, in its simultaneous band.

    The band is the simultaneous band of Säilynoja et al. (2022) at the report's level per
    quantity (the family-wise level over the quantities, Bonferroni).
    """
    with plot_style():
        return _ecdf(report)


def _ecdf(report: SBCReport) -> Figure:
    ranks = report.ranks
    n = len(ranks)
    level = float(report.tests.attrs.get("level", 0.05))
    z, lower, upper = ecdf_band(n, report.n_ranks, level)
    fig, axes = _grid(
        ranks.shape[1],
        f"SBC ECDF difference: {report.scenario_id}, {n} replications "
        f"(band: simultaneous {1 - level:.4g})",
    )
    passed = dict(zip(report.tests["quantity"], report.tests["passed"], strict=True))
    for ax, name in zip(axes.flat, ranks.columns, strict=False):
        u = ranks[name].to_numpy() / report.n_ranks
        ecdf = (u[:, None] < z[None, :]).mean(axis=0)
        tag(
            ax.fill_between(z, lower - z, upper - z, color=ROLE_COLOURS["guide"], step="post"),
            "guide",
        )
        ok = passed.get(name, False)
        (line,) = ax.step(z, ecdf - z, where="post", color=PASS_COLOUR if ok else FAIL_COLOUR)
        _status(line, ok)
        tag(ax.axhline(0, color=ROLE_COLOURS["ink"], lw=0.8), "ink")
        ax.set_title(_label(name, ok), fontsize=9, loc="left")
        ax.set_xlim(0, 1)
    return fig


def plot_sbc(report: SBCReport) -> tuple[Figure, Figure]:
    """The rank histograms and the ECDF differences."""
    return plot_sbc_histograms(report), plot_sbc_ecdf(report)


def save_sbc_plots(report: SBCReport, path: str | Path) -> list[Path]:
    """Write the rank histograms to ``path`` and the ECDF differences beside it (``*_ecdf``).

    Returns
    -------
    list of Path
        The two PNG files written.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path / "sbc_ranks.png" if path.is_dir() or not path.suffix else path
    path.parent.mkdir(parents=True, exist_ok=True)
    ecdf_path = path.with_name(f"{path.stem}_ecdf.png")
    written = []
    for fig, target in zip(plot_sbc(report), (path, ecdf_path), strict=True):
        with plot_style():
            fig.savefig(target, dpi=FIGURE_DPI)
        plt.close(fig)
        written.append(target)
    return written
