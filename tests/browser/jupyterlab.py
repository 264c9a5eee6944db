"""Helpers that drive JupyterLab 4 in a playwright page: open, run and read a notebook.

The selectors are JupyterLab's own class names and attributes (4.6):

- ``.jp-NotebookPanel`` the notebook's tab (only the one not ``lm-mod-hidden`` is current);
- ``.jp-Notebook-ExecutionIndicator[data-status]`` the kernel's status in the notebook's
  toolbar (``idle``, ``busy``, ``starting``, ...);
- ``.jp-Cell`` a cell, ``.jp-CodeCell`` a code cell, ``.jp-InputArea-prompt`` its
  ``[n]:`` prompt, ``.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output``
  its outputs, ``.cm-content`` its source;
- ``#jp-main-statusbar .jp-StatusBar-TextItem[title^="Change kernel"]`` the status bar's
  "Python 3 (ipykernel) | Idle";
- ``.lm-MenuBar-item`` / ``.lm-Menu-item[data-command=...]`` the main menu and its commands.

Each notebook is opened in a workspace of its own (``/lab/workspaces/<name>/tree/<path>``),
so no tab of an earlier test is restored beside it.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

if TYPE_CHECKING:  # playwright may be missing: conftest.py then skips or fails with a reason
    from playwright.sync_api import Locator, Page

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
"""The current notebook's panel."""

KERNEL_STATUS = f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator"
"""The kernel's status in the current notebook's toolbar: its ``data-status`` attribute."""

STATUS_BAR_KERNEL = '#jp-main-statusbar .jp-StatusBar-TextItem[title^="Change kernel"]'
"""The status bar's "<kernel> | <status>" of the current notebook."""

IDLE = """([indicator, bar]) => {
    const status = document.querySelector(indicator);
    const kernel = document.querySelector(bar);
    return status !== null && status.dataset.status === "idle"
        && kernel !== null && /\\| Idle$/.test(kernel.textContent.trim());
}"""

KERNEL_SPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
"""The kernel a notebook written by :func:`write_notebook` asks for: the server's python3."""


@dataclass(frozen=True)
class JupyterServer:
    """A running ``jupyter lab``: where it listens, its token and the folder it serves."""

    base_url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def url(self, path: str = "", **query: str) -> str:
        """The address of ``path`` on the server, with the token in its query."""
        return f"{self.base_url}/{path.lstrip('/')}?{urlencode({**query, 'token': self.token})}"

    def api(self, method: str, path: str) -> Any:
        """Call the REST API (``path`` under ``/api/``); its JSON answer (None for none)."""
        request = urllib.request.Request(
            f"{self.base_url}/api/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def shutdown_sessions(self) -> None:
        """Shut down every notebook's session and kernel (a test's kernel ends with it)."""
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")

    def log_tail(self, lines: int = 40) -> str:
        """The server's last log lines (its stdout and stderr)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def write_notebook(path: Path, cells: list[str | tuple[str, str]]) -> Path:
    """Write a notebook of ``cells`` (code, or ``(kind, source)`` with kind code/markdown)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNEL_SPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in cells:
        kind, source = ("code", cell) if isinstance(cell, str) else cell
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def open_notebook(page: Page, server: JupyterServer, relpath: str, timeout: float = 90) -> Locator:
    """Open ``relpath`` (relative to the server's root) and wait for its kernel to be idle.

    The notebook opens in a workspace of its own, alone. Returns its panel. ``timeout`` is
    in seconds, for the whole of it.
    """
    workspace = f"test-{uuid.uuid4().hex[:12]}"
    page.goto(
        server.url(f"lab/workspaces/{workspace}/tree/{quote(relpath)}"),
        wait_until="domcontentloaded",
        timeout=timeout * 1000,
    )
    panel = page.locator(NOTEBOOK)
    panel.locator(".jp-Notebook").wait_for(state="visible", timeout=timeout * 1000)
    wait_idle(page, timeout)
    return panel


def kernel_status(page: Page) -> str:
    """What the toolbar's indicator and the status bar say of the kernel, for messages."""
    return page.evaluate(
        """([indicator, bar]) => {
            const status = document.querySelector(indicator);
            const kernel = document.querySelector(bar);
            return `toolbar: ${status ? status.dataset.status : "none"}, `
                + `status bar: ${kernel ? kernel.textContent.trim() : "none"}`;
        }""",
        [KERNEL_STATUS, STATUS_BAR_KERNEL],
    )


def wait_idle(page: Page, timeout: float = 60) -> None:
    """Wait until the current notebook's kernel is connected and idle (``timeout`` in s).

    Both the toolbar's indicator and the status bar must say so: the indicator alone says
    ``idle`` before the kernel has even started (then ``initializing``, ``connecting``, ...),
    while the status bar's "<kernel> | Idle" needs a connected kernel.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            IDLE, arg=[KERNEL_STATUS, STATUS_BAR_KERNEL], timeout=timeout * 1000, polling=100
        )
    except PlaywrightTimeout:
        raise TimeoutError(
            f"the kernel was not idle within {timeout:g} s ({kernel_status(page)})"
        ) from None


def run_command(page: Page, menu: str, command: str) -> None:
    """Run a command of the main menu: open ``menu`` and click its ``command`` item."""
    title = re.compile(rf"^\s*{re.escape(menu)}\s*$")
    page.locator(".lm-MenuBar-item").filter(has_text=title).first.click()
    page.locator(f'.lm-Menu:visible .lm-Menu-item[data-command="{command}"]').first.click()


RUN_STATE = """panel => {
    const cells = [...document.querySelectorAll(`${panel} .jp-Notebook .jp-Cell`)];
    const pending = [];
    let running = false;
    cells.forEach((cell, index) => {
        if (!cell.classList.contains("jp-CodeCell")) return;
        const source = cell.querySelector(".cm-content");
        if (source === null || source.textContent.trim() === "") return;  // never sent
        const prompt = cell.querySelector(".jp-InputArea-prompt");
        const text = prompt === null ? "" : prompt.textContent.trim();
        if (text === "[*]:") running = true;
        else if (!/^\\[\\d+\\]:$/.test(text)) pending.push(index);
    });
    return {running, pending};
}"""
"""Of the notebook's non-empty code cells: is one running (``[*]:``), which have no count."""


def run_all_cells(page: Page, timeout: float = 60) -> None:
    """Clear every output, run all cells, and wait until each has run and the kernel is idle.

    Clearing first (Edit > Clear Outputs of All Cells) resets the execution counts, so that a
    count seen afterwards is one of this run. A cell that raises stops the run (the cells
    after it keep no count): that fails at once, with the cell's output, instead of at the
    ``timeout`` (in seconds, for the run).
    """
    wait_idle(page, timeout)
    run_command(page, "Edit", "editmenu:clear-all")
    run_command(page, "Run", "runmenu:run-all")
    deadline, stopped = time.monotonic() + timeout, None
    while True:
        state = page.evaluate(RUN_STATE, NOTEBOOK)
        now = time.monotonic()
        if not state["running"] and not state["pending"]:
            break
        # nothing queued, the kernel idle, cells left without a count: for a second, to be sure
        idle = not state["running"] and page.evaluate(IDLE, [KERNEL_STATUS, STATUS_BAR_KERNEL])
        stopped = (stopped or now) if idle else None
        if stopped is not None and now - stopped > 1:
            first = state["pending"][0]
            before = [i for i in range(first) if cell_output_text(page, i)]
            shown = f"; cell {before[-1]} shows:\n{cell_output_text(page, before[-1])}"
            raise AssertionError(
                f"Run All stopped before cells {state['pending']} ran" + (shown if before else "")
            )
        if now > deadline:
            raise TimeoutError(
                f"cells {state['pending']} had not run within {timeout:g} s ({kernel_status(page)})"
            )
        page.wait_for_timeout(100)
    wait_idle(page, timeout)


def cell(page: Page, index: int) -> Locator:
    """The notebook's cell ``index`` (0-based, all kinds, as in ``nb.cells[index]``)."""
    cells = page.locator(f"{NOTEBOOK} .jp-Notebook .jp-Cell")
    if not 0 <= index < (count := cells.count()):
        raise IndexError(f"cell {index} of a notebook with {count} cells")
    return cells.nth(index)


def cell_output_text(page: Page, index: int) -> str:
    """The text of cell ``index``'s outputs, without their prompts (``""`` for none).

    A widget's text (an ``Output`` widget's prints, a slider's readout) is part of it.
    """
    outputs = cell(page, index).locator(
        ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output"
    )
    return "\n".join(text.strip() for text in outputs.all_inner_texts()).strip()


def screenshot(page: Page, path: Path | str, selector: str | None = None) -> Path:
    """A PNG of the page (or of the first element that ``selector`` matches) at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if selector is None:
        page.screenshot(path=path)
    else:
        page.locator(selector).first.screenshot(path=path)
    return path


def kernel_spec_json(python: str) -> str:
    """A kernel spec (``kernel.json``) that starts ipykernel with the interpreter ``python``."""
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_SPEC["display_name"],
        "language": "python",
        "metadata": {"debugger": True},
    }
    return json.dumps(spec, indent=1)
