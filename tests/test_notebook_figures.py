"""Every figure stored in the notebooks shows at 100% in JupyterLab (at most 1000 px wide).

The notebooks' outputs are what a reader sees on opening them (and nbval's reference), so a
figure too wide there is shrunk, with its text, below the smallest readable size. The font
sizes are checked where the figures are made (``tests/plots``), from their artists.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

from forecast.plots.style import MAX_WIDTH_PX

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _png_sizes(path: Path) -> list[tuple[int, int, int]]:
    """(cell index, width, height) of every PNG output of a notebook."""
    sizes = []
    for k, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                width, height = struct.unpack(">II", base64.b64decode(png)[16:24])
                shown = output.get("metadata", {}).get("image/png", {}).get("width", width)
                sizes.append((k, int(shown), height))
    return sizes


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_figure_fits_jupyterlab_width(path: Path) -> None:
    wide = [(k, w) for k, w, _ in _png_sizes(path) if w > MAX_WIDTH_PX]
    assert not wide, f"{path.name}: cells with figures wider than {MAX_WIDTH_PX} px: {wide}"
