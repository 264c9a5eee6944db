"""The workbench notebook in JupyterLab: edit a judgement in the prior editor as a user would,
see the forecast re-weighted, check the number against the API, save the edit as a variant.

The notebook (``notebooks/00_edit_priors.ipynb``) runs on a copy of the project's scenarios
and data in the server's temporary root, so nothing in the repository changes. Set
``FORECAST_SAVE_SCREENSHOT`` to a path to also write the editor's screenshot there (the
README's ``docs/images/prior_editor.png`` is made so).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

import forecast
from tests.browser.jupyterlab import open_notebook, run_all_cells, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "00_edit_priors.ipynb"
SCENARIO = "kursk_2024.yaml"
AS_OF = "2024-09-30"
SEED = 20240930  # the notebook's RANDOM_SEED
RULE = "mediation:inactive[occupation=substantial,partners=aligned]"
TO = "active"
BEST = 0.7
QUESTION = "mediation_by_2025_03"
SECTION = "Non-Western mediation (mediation)"
JUDGEMENT = ".forecast-j-mediation_inactive_occupation_substantial_partners_aligned__active"
SCREENSHOT_ENV = "FORECAST_SAVE_SCREENSHOT"
RUN_TIMEOUT = 400  # s: the set-up cell fits NUTS and builds the likelihood pool
SHOT_WIDTH = 1600
"""The viewport's width for the screenshot (px): at 1400 the judgement rows overflow."""


def copy_workbench(root: Path) -> tuple[Path, str]:
    """Copy scenarios/, data/ and the notebook into ``root``; the notebook's path in it.

    The copied notebook's parameters cell names the copied scenario by its absolute path.
    """
    shutil.copytree(REPO / "scenarios", root / "scenarios")
    shutil.copytree((REPO / "data").resolve(), root / "data")  # data/ may be a symlink
    scenario = root / "scenarios" / SCENARIO
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    source, count = re.subn(
        r"^SCENARIO = .*?(?=\s*#|$)", f"SCENARIO = {str(scenario)!r}", params.source, flags=re.M
    )
    assert count == 1, f"no SCENARIO line in the parameters cell:\n{params.source}"
    assert f'AS_OF = "{AS_OF}"' in source, source
    params.source = source
    relpath = f"notebooks/{NOTEBOOK.name}"
    (root / relpath).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / relpath)
    return scenario, relpath


def api_edit(scenario: Path) -> tuple[forecast.ScenarioModel, forecast.Fit]:
    """The editor's edit through the API: the edited model and its re-weighted fit."""
    model = forecast.ScenarioModel.from_file(scenario)
    fit = model.fit(as_of=AS_OF, seed=SEED)
    # no pool is built here: a re-fit's route depends on the fit and the priors only, so
    # the API gives what the editor (which builds its pool when it opens) shows
    edited = model.with_judgement(RULE, to=TO, best=BEST)
    return edited, fit.refit(edited, prior=False)


def editor_screenshot(page: Page, path: Path) -> Path:
    """A PNG of the whole editor: the file browser closed, the viewport wide and tall enough.

    JupyterLab scrolls the notebook, not the page, so a part of the editor below the viewport
    would come out blank: the viewport is made taller than the editor, then put back.
    """
    viewport = page.viewport_size
    closer = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if closer.count():  # the file browser's tab: a click folds the left panel away
        closer.click()
    page.set_viewport_size({"width": SHOT_WIDTH, "height": viewport["height"]})
    editor = page.locator(".forecast-editor")
    box = editor.bounding_box()
    page.set_viewport_size({"width": SHOT_WIDTH, "height": round(box["height"]) + 300})
    editor.scroll_into_view_if_needed()
    box = editor.bounding_box()
    height = page.viewport_size["height"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (box, height)
    try:
        return screenshot(page, path, ".forecast-editor")
    finally:
        page.set_viewport_size(viewport)


def test_edit_a_judgement_reweights_and_saves(jupyter_server, lab_page, tmp_path):
    from playwright.sync_api import expect

    page, root = lab_page, jupyter_server.root
    scenario, relpath = copy_workbench(root)

    open_notebook(page, jupyter_server, relpath)
    run_all_cells(page, timeout=RUN_TIMEOUT)

    editor = page.locator(".forecast-editor")
    expect(editor).to_have_count(1)
    status = editor.locator(".forecast-status")
    expect(status).to_contain_text("Forecast by the file's priors")
    row = editor.locator(f'tr.forecast-q[data-question="{QUESTION}"]')
    after = row.locator("td.forecast-after")
    before_cell = row.locator("td:nth-child(3)")
    before = before_cell.inner_text().strip()
    expect(after).to_have_text(before)  # the file's priors: after is before

    # open the node's section and set the judgement's best guess
    accordion = editor.locator(".forecast-judgements")
    accordion.locator(".jupyter-widget-Collapse-header", has_text=SECTION).click()
    best = accordion.locator(f"{JUDGEMENT} input")
    expect(best).to_be_visible()
    expect(best).to_have_value("0.5")
    best.fill(str(BEST))
    best.press("Enter")

    expect(status).to_contain_text("re-weighted from the", timeout=60_000)
    expect(after).not_to_have_text(before)  # the table is redrawn before the status
    shown = after.inner_text().strip()
    assert before_cell.inner_text().strip() == before  # the file's priors, still

    shot = editor_screenshot(page, tmp_path / "prior_editor.png")
    if target := os.environ.get(SCREENSHOT_ENV):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

    edited, api = api_edit(scenario)
    source = api.idata.posterior.attrs["reweight_source"]
    words = "the fit's own draws" if source == "posterior" else f"the {source}"
    assert f"re-weighted from {words}" in status.inner_text()
    assert shown == f"{api.questions().loc[QUESTION, 'mean']:.3f}"
    assert shown != before

    # save the edit as a variant file
    variant = root / "scenarios" / "forecasters" / "browser_variant.yaml"
    editor.locator(".forecast-save-file input").fill(str(variant))
    editor.locator(".forecast-save-date input").fill(AS_OF)
    editor.locator("button.forecast-save").click()
    saved = editor.locator("code.forecast-saved-path")
    expect(saved).to_have_count(1, timeout=30_000)
    assert Path(saved.inner_text().strip()).resolve() == variant.resolve()
    back = forecast.ScenarioModel.from_file(variant)
    assert back.priors_digest == edited.priors_digest
    assert back.scenario.spec.priors_set_on == dt.date.fromisoformat(AS_OF)
