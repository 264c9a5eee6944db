"""JupyterLab in headless chromium: a notebook runs on this venv's kernel, and widgets
render and send their changes back to the kernel (slider and number box alike)."""

from __future__ import annotations

import sys

import pytest

import forecast
from tests.browser.jupyterlab import (
    cell,
    cell_output_text,
    open_notebook,
    run_all_cells,
    write_notebook,
)

pytestmark = pytest.mark.browser

VERSION = """\
import sys
import forecast
print("forecast", forecast.__version__)
print("python", sys.executable)
"""

WIDGETS = """\
import ipywidgets as widgets

slider = widgets.IntSlider(value=3, min=0, max=10, description="n")
number = widgets.FloatText(value=1.5, description="x")
out = widgets.Output()


def on_slider(change):
    with out:
        print(f"slider {change['old']} -> {change['new']}, squared {change['new'] ** 2}")


def on_number(change):
    with out:
        print(f"number {change['old']} -> {change['new']}, doubled {2 * change['new']}")


slider.observe(on_slider, names="value")
number.observe(on_number, names="value")
widgets.VBox([slider, number, out])
"""


def test_notebook_runs_and_widgets_round_trip(jupyter_server, lab_page):
    from playwright.sync_api import expect

    write_notebook(jupyter_server.root / "smoke" / "widgets.ipynb", [VERSION, WIDGETS])
    open_notebook(lab_page, jupyter_server, "smoke/widgets.ipynb")
    run_all_cells(lab_page)

    printed = cell_output_text(lab_page, 0)
    assert f"forecast {forecast.__version__}" in printed
    assert f"python {sys.executable}" in printed  # the venv's own interpreter

    widget = cell(lab_page, 1)
    handle = widget.locator(".widget-slider .noUi-handle")
    expect(handle).to_be_visible()
    expect(widget.locator(".widget-slider .widget-readout")).to_have_text("3")
    handle.focus()
    handle.press("ArrowRight")
    expect(widget.locator(".widget-slider .widget-readout")).to_have_text("4")
    expect(widget.locator(".widget-output")).to_contain_text("slider 3 -> 4, squared 16")

    box = widget.locator(".widget-text input")
    box.fill("2.5")
    box.press("Enter")
    expect(widget.locator(".widget-output")).to_contain_text("number 1.5 -> 2.5, doubled 5.0")
    assert "slider 3 -> 4" in cell_output_text(lab_page, 1)
