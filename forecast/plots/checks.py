"""Rules a figure must keep, read from its artists (no pixels compared).

:func:`figure_problems` lists what breaks the package's rules of :mod:`forecast.plots.style`:
wider than JupyterLab's content, text under the smallest size, a legend over the data, an
artist tagged with a meaning but drawn in another meaning's colour. :func:`role_colours`
reads which colours each meaning was drawn in, so a test can compare figures.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np
from matplotlib.colors import to_hex, to_rgba_array

from forecast.plots.style import MAX_WIDTH_PX, MIN_FONT_PT, ROLE_COLOURS, role_of

__all__ = ["artist_colours", "figure_problems", "role_colours"]


def artist_colours(artist: Any) -> set[str]:
    """The colours an artist is drawn in (line, face, edge and marker), as ``#rrggbb``.

    Fully transparent colours and ``"none"`` are left out.
    """
    out: set[str] = set()
    for name in ("get_color", "get_facecolor", "get_edgecolor", "get_markerfacecolor"):
        getter = getattr(artist, name, None)
        if getter is None:
            continue
        try:
            rgba = to_rgba_array(getter())
        except (TypeError, ValueError):
            continue
        out.update(to_hex(c, keep_alpha=False) for c in rgba if c[3] > 0)
    return out


def role_colours(fig: Any) -> dict[str, set[str]]:
    """Meaning -> the colours its tagged artists are drawn in, over the whole figure."""
    found: dict[str, set[str]] = defaultdict(set)
    for artist in fig.findobj():
        role = role_of(artist)
        if role is not None:
            found[role] |= artist_colours(artist)
    return dict(found)


def _densified(xy: np.ndarray, step: float = 4.0) -> np.ndarray:
    """Points along a polyline in display coordinates, at most ``step`` pixels apart."""
    if len(xy) < 2:
        return xy
    out = [xy[:1]]
    for a, b in itertools.pairwise(xy):
        n = (
            int(min(np.ceil(np.hypot(*(b - a)) / step), 10_000))
            if np.all(np.isfinite([a, b]))
            else 1
        )
        out.append(a + (b - a) * np.linspace(0, 1, max(n, 1) + 1)[1:, None])
    return np.concatenate(out)


def _data_points(ax: Any) -> np.ndarray:
    """Display coordinates of the data an axes draws (line vertices, patch corners)."""
    points = []
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = np.column_stack([line.get_xdata(orig=False), line.get_ydata(orig=False)])
        if len(xy):
            points.append(_densified(ax.transData.transform(np.asarray(xy, dtype=float))))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        for path in coll.get_paths():
            if len(path.vertices):
                points.append(coll.get_transform().transform(path.vertices))
        offsets = coll.get_offsets()
        if len(offsets):
            points.append(coll.get_offset_transform().transform(np.asarray(offsets, dtype=float)))
    for patch in ax.patches:
        if patch.get_visible() and patch.get_transform() is not ax.transAxes:
            bbox = patch.get_window_extent()
            points.append(np.array([[bbox.x0, bbox.y0], [bbox.x1, bbox.y1], [bbox.x0, bbox.y1]]))
    if not points:
        return np.empty((0, 2))
    out = np.concatenate(points)
    return out[np.all(np.isfinite(out), axis=1)]


def figure_problems(
    fig: Any, max_width_px: float = MAX_WIDTH_PX, min_font_pt: float = MIN_FONT_PT
) -> list[str]:
    """What in a figure breaks the package's rules; an empty list when nothing does.

    Parameters
    ----------
    fig : Figure
        A drawn (or drawable) matplotlib figure.
    max_width_px : float
        Widest figure shown at 100% in JupyterLab.
    min_font_pt : float
        Smallest text as displayed.

    Returns
    -------
    list of str
        One sentence per problem: the width, each text under ``min_font_pt`` (with its
        text), each legend over an axes' data, each tagged artist in a colour not its role's.
    """
    fig.canvas.draw()
    problems = []
    width_px = fig.get_figwidth() * fig.dpi
    if width_px > max_width_px:
        problems.append(f"the figure is {width_px:.0f} px wide (at most {max_width_px:.0f})")
    scale = min(1.0, max_width_px / width_px)
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        shown = text.get_fontsize() * scale
        if shown < min_font_pt - 1e-9:
            problems.append(
                f"text {text.get_text().strip()[:40]!r} is {shown:.1f} pt as displayed "
                f"(at least {min_font_pt:g})"
            )
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        points = _data_points(ax)
        inside = (
            (points[:, 0] > box.x0)
            & (points[:, 0] < box.x1)
            & (points[:, 1] > box.y0)
            & (points[:, 1] < box.y1)
        )
        if inside.any():
            title = ax.get_title() or "an axes"
            problems.append(f"the legend of {title!r} lies over {int(inside.sum())} data points")
    for role, colours in role_colours(fig).items():
        if role not in ROLE_COLOURS:  # a category: compared across figures by the caller
            continue
        allowed = {ROLE_COLOURS[role].lower()}
        if not colours <= allowed:
            problems.append(
                f"{role} is drawn in {', '.join(sorted(colours - allowed))}, "
                f"not its colour {ROLE_COLOURS[role]}"
            )
    return problems
