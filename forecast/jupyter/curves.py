"""The editor's figure: each outcome by month, the edited fit against the file's.

It plots what :mod:`forecast.plots.outcomes` plots, in the same colours: a ``reached``
outcome's cumulative probability of having been reached by each month's end, an
``in_state`` outcome's probability of being in its states, the fit in the colour of its
meaning (orange as of a cut-off, blue on all the evidence).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from forecast.api.fit import Fit
from forecast.plots.outcomes import QUANTITY_LABELS, axis_top, range_note
from forecast.plots.style import FIGURE_DPI, ROLE_COLOURS, plot_style, tag

__all__ = ["OutcomeFigure"]

BAND = 0.8
"""The central band drawn around the edited forecast."""

DRAWS = 400
"""Draws (evenly spaced) behind the curves; the editor's table uses every draw."""


class OutcomeFigure:
    """Small multiples of the outcomes, redrawn in place for each edited fit.

    The file's priors (the baseline fit) are a dashed dark grey line; the edited fit is a
    solid line with its 80% band, in the colour of the fit's meaning (``as_of`` with a
    cut-off, ``posterior`` with all the evidence). Each panel's y-range fits its data (and
    grows when an edit needs it), so that rare outcomes are told apart, and a note says what
    part of 0-1 it shows.
    """

    def __init__(
        self, baseline: Fit, outcomes: Sequence[str] | None = None, dpi: float = FIGURE_DPI
    ) -> None:
        scenario = baseline.scenario
        self.role = "as_of" if baseline.as_of is not None else "posterior"
        self.colour = ROLE_COLOURS[self.role]
        self.outcomes = list(outcomes or [o.id for o in scenario.outcomes])
        self._labels = {o.id: o.label for o in scenario.outcomes}
        self._kinds = {o.id: o.kind for o in scenario.outcomes}
        self._base = self._curves(baseline)
        self.dpi = dpi
        self._canvas = None
        self._background = None
        self.full_draws = 0
        cols = 2
        rows = math.ceil(len(self.outcomes) / cols)
        with plot_style():
            self._build(scenario, baseline, rows, cols)

    def _build(self, scenario, baseline: Fit, rows: int, cols: int) -> None:
        # 560 px at 100 dpi: the editor's figure column, so shown at 100% (9-pt text stays 9 pt)
        self.figure = Figure(figsize=(5.6, 1.65 * rows + 0.9), layout="constrained")
        axes = self.figure.subplots(rows, cols, sharex=True, squeeze=False).ravel()
        for ax in axes[len(self.outcomes) :]:
            ax.set_visible(False)
        # the last panel of each column carries the month labels
        for ax in axes[len(self.outcomes) - cols : len(self.outcomes)]:
            ax.xaxis.set_tick_params(labelbottom=True)
        self.axes = dict(zip(self.outcomes, axes, strict=False))
        self._lines = {}
        self._bands = {}
        self._notes = {}
        for outcome, ax in self.axes.items():
            months, mean, _, _ = self._base[outcome]
            tag(
                ax.plot(
                    months, mean, ls="--", color=ROLE_COLOURS["ink"], lw=1.4, label="file's priors"
                )[0],
                "ink",
            )
            (line,) = ax.plot(months, mean, color=self.colour, lw=1.8, label="edited")
            tag(line, self.role)
            line.set_animated(True)
            self._lines[outcome] = line
            title = textwrap.shorten(self._labels[outcome], 30, placeholder="...")
            ax.set_title(title, fontsize=9.5, loc="left")
            ax.set_ylabel(
                QUANTITY_LABELS[self._kinds[outcome]].replace(" month", "\nmonth"), fontsize=9
            )
            ax.tick_params(labelsize=9)
            # in the head room above the curves (the y-range leaves the top 28% to it)
            self._notes[outcome] = ax.text(
                0.02,
                0.97,
                "",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=9,
                color=ROLE_COLOURS["ink"],
            )
        # month positions and fixed tick labels: date locators cost more than the curves
        dates = [scenario.timeline.month_end_date(t) for t in range(scenario.timeline.n_steps)]
        ticks = [t for t, d in enumerate(dates) if d.month == 1]  # 2.8 in panels: yearly
        for ax in axes:
            ax.set_xticks(ticks, [dates[t].strftime("%Y-%m") for t in ticks])
            ax.set_xlim(0, len(dates) - 1)
        handles, labels = next(iter(self.axes.values())).get_legend_handles_labels()
        self.figure.legend(
            [*handles, _band_patch(self.colour)],
            [*labels, f"edited, {round(BAND * 100)}% band"],
            loc="outside lower center",
            ncols=3,
            fontsize=9,
            frameon=False,
        )
        cut = baseline.as_of.isoformat() if baseline.as_of else "all evidence"
        what = f"evidence as of {cut}" if baseline.as_of else cut
        self.figure.suptitle(f"Outcomes by month, {what}:\nthe edited priors against the file's")

    def _curves(self, fit: Fit) -> dict[str, tuple[list, np.ndarray, np.ndarray, np.ndarray]]:
        table = fit.outcomes(self.outcomes, bands=(BAND,), max_draws=DRAWS)
        pct = round(BAND * 100)
        out = {}
        for outcome, rows in table.groupby("outcome", sort=False):
            out[outcome] = (
                list(range(len(rows))),
                rows["mean"].to_numpy(),
                rows[f"low{pct}"].to_numpy(),
                rows[f"high{pct}"].to_numpy(),
            )
        return out

    def png(self, fit: Fit) -> bytes:
        """The figure for ``fit`` as PNG bytes, redrawn in place (redrawn per edit)."""
        from PIL import Image

        self.draw(fit)
        out = io.BytesIO()
        Image.fromarray(np.asarray(self._canvas.buffer_rgba())).save(
            out, format="png", compress_level=1
        )
        return out.getvalue()

    def draw(self, fit: Fit) -> Figure:
        """The figure with ``fit`` as the edited forecast.

        The axes, titles and the file's dashed curves are drawn once; an edit redraws only
        its curves and bands over that background (blitting), unless a curve leaves its
        panel's y-range, which then grows and the whole figure is drawn again.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        curves = self._curves(fit)
        full = self._background is None
        for outcome, ax in self.axes.items():
            months, mean, low, high = curves[outcome]
            self._lines[outcome].set_ydata(mean)
            if outcome in self._bands:
                self._bands[outcome].remove()
            band = ax.fill_between(months, low, high, color=self.colour, alpha=0.22, lw=0)
            tag(band, self.role)
            band.set_animated(True)
            self._bands[outcome] = band
            top = max(float(np.max(high)), float(np.max(self._base[outcome][3])))
            if min(top, 1.0) > ax.get_ylim()[1] + 1e-9 or full:
                # head room, so that most edits redraw only their curves
                high = axis_top([top], headroom=1.4)
                ax.set_ylim(0, high)
                self._notes[outcome].set_text(range_note(high))
                full = True
        if full:
            if self._canvas is None:
                self._canvas = FigureCanvasAgg(self.figure)
                self.figure.set_dpi(self.dpi)
            self.full_draws += 1
            self._canvas.draw()  # lays out (once), draws all but the edited curves
            self.figure.set_layout_engine("none")
            self._background = self._canvas.copy_from_bbox(self.figure.bbox)
        else:
            self._canvas.restore_region(self._background)
        for outcome, ax in self.axes.items():
            ax.draw_artist(self._bands[outcome])
            ax.draw_artist(self._lines[outcome])
        return self.figure


def _band_patch(colour: str):
    from matplotlib.patches import Patch

    return Patch(color=colour, alpha=0.22)
