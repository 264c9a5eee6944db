"""Shared look of every figure: the palette, month axes and fit colours."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import matplotlib.dates as mdates
from matplotlib.axes import Axes

from forecast.scenario.validated import Scenario

__all__ = ["FIT_COLOURS", "PALETTE", "format_month_axis", "month_dates", "wrap_rule_id"]

PALETTE = {
    "posterior": "#1f5f8b",  # blue: posterior of the fit with all evidence
    "prior": "#9a9a9a",  # grey: prior
    "evidence": "#c0392b",  # red: evidence
    "as_of": "#d9822b",  # orange: a fit with an evidence cut-off
    "stated": "#2e7d32",  # green: the forecaster's stated judgement
    "lag": "#455a64",  # dark slate: an edge from last month (lag 1)
    "same_month": "#d9822b",  # orange: an edge within the month (lag 0)
    "node_face": "#f3f6fa",  # light fill of a node box
    "node_edge": "#5b6b7a",  # outline of a node box
}
"""Colours by role; every plotting function of :mod:`forecast.plots` uses these."""

FIT_COLOURS = (PALETTE["as_of"], PALETTE["posterior"], "#6a3d9a", "#2e7d32")
"""Colours of overlaid fits, in the order the fits are given."""


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
