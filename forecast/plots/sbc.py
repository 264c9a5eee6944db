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
from forecast.plots.style import PALETTE

__all__ = ["plot_sbc", "plot_sbc_ecdf", "plot_sbc_histograms", "save_sbc_plots"]

COLUMNS = 4


def _grid(n: int, title: str) -> tuple[Figure, np.ndarray]:
    cols = min(COLUMNS, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.3 * rows + 0.6), squeeze=False, layout="constrained"
    )
    fig.suptitle(title)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _label(name: str, status: bool) -> str:
    return textwrap.fill(name, 34) + ("" if status else "  (FAIL)")


def plot_sbc_histograms(report: SBCReport) -> Figure:
    """One rank histogram per quantity, with the 99% range of a bin's count under uniformity."""
    ranks = report.ranks
    n = len(ranks)
    n_ranks = report.n_ranks
    bins = choose_bins(n, n_ranks)
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / bins)
    fig, axes = _grid(
        ranks.shape[1],
        f"SBC rank histograms: {report.scenario_id}, {n} replications, {bins} bins "
        "(grey: 99% range of a bin under uniform ranks)",
    )
    passed = dict(zip(report.tests["quantity"], report.tests["passed"], strict=True))
    edges = np.linspace(0, n_ranks, bins + 1)
    for ax, name in zip(axes.flat, ranks.columns, strict=False):
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / bins, color="0.5", lw=0.8)
        ok = passed.get(name, False)
        ax.hist(
            ranks[name],
            bins=edges,
            color=PALETTE["posterior"] if ok else PALETTE["evidence"],
            edgecolor="white",
        )
        ax.set_title(_label(name, ok), fontsize=8)
        ax.set_xlim(0, n_ranks)
        ax.tick_params(labelsize=7)
    return fig


def plot_sbc_ecdf(report: SBCReport) -> Figure:
    """ECDF of each quantity's fractional ranks minus the uniform CDF, in its simultaneous band.

    The band is the simultaneous band of Säilynoja et al. (2022) at the report's level per
    quantity (the family-wise level over the quantities, Bonferroni).
    """
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
        ax.fill_between(z, lower - z, upper - z, color="0.85", step="post")
        ok = passed.get(name, False)
        ax.step(z, ecdf - z, where="post", color=PALETTE["posterior"] if ok else "#d62728")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(_label(name, ok), fontsize=8)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
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
        fig.savefig(target, dpi=110)
        plt.close(fig)
        written.append(target)
    return written
