"""One look for every figure: a colour per meaning, sizes that read at JupyterLab's width.

Meanings and their colours (:data:`ROLE_COLOURS`) are the same in every figure of the
package, and colour-blind safe (the Okabe-Ito set for roles, Paul Tol's "muted" set for
forecasters and other categories, which share no colour with the roles). A figure is at most
:data:`MAX_WIDTH_IN` inches wide at :data:`FIGURE_DPI` (under 1000 px, JupyterLab's content
width, so it is shown at 100%), and no text is smaller than :data:`MIN_FONT_PT` points.

Plotting functions draw inside :func:`plot_style` (an ``rc_context``: nothing is changed
outside it, so ``import forecast`` leaves matplotlib's settings alone), create figures with
:func:`new_figure`, and mark every artist that stands for a meaning with :func:`tag`, so that
:mod:`forecast.plots.checks` can read the meanings back from a figure and test them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib.dates as mdates
from matplotlib.axes import Axes

from forecast.scenario.validated import Scenario

__all__ = [
    "CATEGORY_COLOURS",
    "FIGURE_DPI",
    "FIT_COLOURS",
    "FORECASTER_COLOURS",
    "MAX_WIDTH_IN",
    "MIN_FONT_PT",
    "PALETTE",
    "ROLE_COLOURS",
    "STYLE_RC",
    "category_colour",
    "fit_colour",
    "format_month_axis",
    "month_dates",
    "new_figure",
    "plot_style",
    "role_of",
    "tag",
    "wrap_rule_id",
]

FIGURE_DPI = 100
"""Dots per inch of every figure, inline in a notebook and in the CLI's PNG files."""
MAX_WIDTH_PX = 1000
"""JupyterLab's content width: a wider image is shrunk, and its text with it."""
MAX_WIDTH_IN = 9.6
"""Widest figure, in inches (960 px at :data:`FIGURE_DPI`)."""
MIN_FONT_PT = 9.0
"""Smallest text, in points, as displayed at 100%."""

ROLE_COLOURS = {
    "prior": "#999999",  # grey: the priors alone (prior predictive, prior densities)
    "posterior": "#0072B2",  # blue: the posterior given all the evidence
    "as_of": "#E69F00",  # orange: the posterior given the evidence known at a cut-off
    "evidence": "#D55E00",  # vermillion: an observation of the scenario's evidence
    "intervention": "#CC79A7",  # reddish purple: a what-if that sets a node (do)
    "observation": "#009E73",  # bluish green: a what-if that observes a node
    "stated": "#000000",  # black: a forecaster's stated best guess and interval
    "pooled": "#332288",  # indigo: the pool of several forecasters
    "ink": "#333333",  # dark grey: neutral marks (resolutions, error bars, annotations)
    "guide": "#D0D0D0",  # light grey: reference lines and grid
}
"""Colour of each meaning; every figure of :mod:`forecast.plots` uses these."""

CATEGORY_COLOURS = (
    "#88CCEE",  # cyan
    "#44AA99",  # teal
    "#117733",  # green
    "#999933",  # olive
    "#DDCC77",  # sand
    "#CC6677",  # rose
    "#882255",  # wine
    "#AA4499",  # purple
)
"""Colours of the members of a category (forecasters, contrasts): none is a role's colour."""

FORECASTER_COLOURS = CATEGORY_COLOURS
"""Forecasters take the category colours, in the order they are given."""

PALETTE = {
    **ROLE_COLOURS,
    "lag": "#455A64",  # dark slate: a causal edge from last month (lag 1)
    "same_month": "#56B4E9",  # sky blue: a causal edge within the month (lag 0)
    "node_face": "#F3F6FA",  # light fill of a node box
    "node_edge": "#5B6B7A",  # outline of a node box
}
"""The role colours and the causal graph's own."""

FIT_COLOURS = (ROLE_COLOURS["as_of"], ROLE_COLOURS["posterior"], *CATEGORY_COLOURS)
"""Colours of overlaid fits in the order given: a cut-off fit, the full fit, then categories."""

STYLE_RC: dict[str, Any] = {
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": FIGURE_DPI,
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.title_fontsize": 9.0,
    "figure.titlesize": 12.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": ROLE_COLOURS["guide"],
    "grid.linewidth": 0.6,
    "grid.alpha": 0.6,
    "lines.linewidth": 1.8,
    "legend.frameon": False,
}
"""matplotlib settings of every figure, applied only inside :func:`plot_style`."""

_GID_PREFIX = "forecast-role:"


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """Draw with the package's settings (:data:`STYLE_RC`), restoring the caller's after."""
    import matplotlib as mpl

    with mpl.rc_context(STYLE_RC):
        yield


def new_figure(
    width: float = MAX_WIDTH_IN,
    height: float = 3.6,
    nrows: int = 1,
    ncols: int = 1,
    **subplots: Any,
) -> tuple[Any, Any]:
    """A figure with a grid of axes, at most :data:`MAX_WIDTH_IN` wide, laid out constrained.

    Call inside :func:`plot_style`, so that the axes take the package's settings.

    Parameters
    ----------
    width, height : float
        Size in inches (``width`` is capped at :data:`MAX_WIDTH_IN`).
    nrows, ncols : int
        The grid of axes.
    **subplots
        Passed to :func:`matplotlib.pyplot.subplots` (``sharex``, ``squeeze``, ...).

    Returns
    -------
    (Figure, Axes or array of Axes)
    """
    import matplotlib.pyplot as plt

    subplots.setdefault("layout", "constrained")
    return plt.subplots(
        nrows, ncols, figsize=(min(width, MAX_WIDTH_IN), height), dpi=FIGURE_DPI, **subplots
    )


def tag(artist: Any, role: str) -> Any:
    """Mark an artist as drawing a meaning (a key of :data:`ROLE_COLOURS` or ``category:<name>``).

    Returns the artist, so that a plotting call can be wrapped: ``tag(ax.plot(...)[0], "prior")``.
    """
    if role not in ROLE_COLOURS and not role.startswith("category:"):
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLE_COLOURS)}")
    artist.set_gid(_GID_PREFIX + role)
    return artist


def role_of(artist: Any) -> str | None:
    """The meaning an artist was tagged with by :func:`tag`, or None."""
    gid = artist.get_gid()
    if isinstance(gid, str) and gid.startswith(_GID_PREFIX):
        return gid[len(_GID_PREFIX) :]
    return None


def fit_colour(k: int) -> str:
    """Colour of the ``k``-th overlaid fit (see :data:`FIT_COLOURS`)."""
    return FIT_COLOURS[k % len(FIT_COLOURS)]


def category_colour(k: int) -> str:
    """Colour of the ``k``-th member of a category (see :data:`CATEGORY_COLOURS`)."""
    return CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)]


def month_dates(scenario: Scenario) -> list[dt.date]:
    """The end date of every month of a scenario's timeline.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.

    Returns
    -------
    list of datetime.date
        One date per step.
    """
    return [scenario.timeline.month_end_date(t) for t in range(scenario.timeline.n_steps)]


def format_month_axis(
    ax: Axes, months: Sequence[int] = (1, 4, 7, 10), label: str = "month (end)"
) -> None:
    """Date ticks as ``YYYY-MM`` on the given months of each year, and an x label.

    Parameters
    ----------
    ax : Axes
        An axes whose x data are dates.
    months : sequence of int
        Calendar months that get a tick.
    label : str
        The x-axis label.
    """
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=list(months)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_xlabel(label)


def wrap_rule_id(rule_id: str, width: int = 40) -> str:
    """A rule's id on lines of at most about ``width`` characters, broken after ``[`` or ``,``.

    The id stays one string to copy (joining the lines gives it back); a part longer than
    ``width`` is not broken.

    Parameters
    ----------
    rule_id : str
        A rule's id, e.g. ``escalation:none[occupation=substantial|foothold,pressure=high]``.
    width : int
        Characters per line.

    Returns
    -------
    str
        The id with newlines.
    """
    lines = [""]
    for part in re.split(r"(?<=[\[,])", rule_id):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)
