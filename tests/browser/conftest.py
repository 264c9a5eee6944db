"""JupyterLab in headless chromium: a server per test session, a fresh browser per test.

``jupyter_server`` (session) runs ``jupyter lab`` from this venv on 127.0.0.1 with a random
token, serving a temporary folder (a notebook that a test writes there, and anything that
the notebook saves, stays out of the repository). Its Jupyter config, data and runtime
folders are temporary too, so the user's settings and workspaces are neither read nor
written; its one kernel spec, ``python3``, starts ipykernel with this very interpreter.
News, update checks and the extension manager's index are off, so no notification or dialog
waits on the page.

``lab_page`` (function) is a playwright page of Debian's chromium (playwright cannot download
its own browsers here), 1400x1000; the kernels its notebooks started are shut down after the
test. When a test fails, a screenshot of the page, the page's console errors and the
server's last log lines are added to the failure report.

Without chromium or playwright the fixtures fail and say to run ``make setup``; they skip
instead only where ``FORECAST_ALLOW_NO_BROWSER=1`` is set.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.jupyterlab import JupyterServer, kernel_spec_json, screenshot

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--no-default-browser-check",
]
VIEWPORT = {"width": 1400, "height": 1000}
ALLOW_NO_BROWSER = "FORECAST_ALLOW_NO_BROWSER"
START_TIMEOUT = 90.0
"""Seconds for ``jupyter lab`` to answer ``/api/status``."""

LAB_OPTIONS = [
    "--no-browser",
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.allow_root=True",  # CI runs as root
    "--ServerApp.port_retries=0",  # a taken port fails the start (and we try another)
    "--ServerApp.terminals_enabled=False",
    "--KernelSpecManager.ensure_native_kernel=True",
    "--MappingKernelManager.default_kernel_name=python3",
    "--LabApp.news_url=None",  # no announcements fetched, none asked about
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",  # no index of PyPI fetched
]

PAGE_CONFIG = {
    # the "would you like to receive official Jupyter news?" notification
    "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
}

USER_SETTINGS = {
    # every cell in the DOM, so that a locator finds a cell out of view too
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,  # no toast over the page
    },
}


def _missing() -> str | None:
    """What the browser tests lack, if anything."""
    lacks = [
        f"the Python package {name} is not installed"
        for name in ("playwright", "jupyterlab", "ipykernel")
        if importlib.util.find_spec(name) is None
    ]
    if not os.access(CHROMIUM, os.X_OK):
        lacks.append(f"chromium is not at {CHROMIUM}")
    return "; ".join(lacks) or None


def require_browser() -> None:
    """Fail (or, with FORECAST_ALLOW_NO_BROWSER=1, skip) where chromium or playwright lacks."""
    lacks = _missing()
    if lacks is None:
        return
    if os.environ.get(ALLOW_NO_BROWSER) == "1":
        pytest.skip(f"browser tests skipped ({ALLOW_NO_BROWSER}=1): {lacks}")
    pytest.fail(
        f"browser tests cannot run: {lacks}. Run `make setup`, which installs them "
        f"(or set {ALLOW_NO_BROWSER}=1 to skip these tests).",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


try:  # looked up here: after fork, in a process that may have threads, only call it
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM when this test process dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _jupyter_dirs(base: Path) -> dict[str, str]:
    """Temporary Jupyter folders with our kernel spec, page config and user settings."""
    dirs = {name: base / name for name in ("config", "data", "runtime", "ipython")}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    kernel = dirs["data"] / "kernels" / "python3"
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "kernel.json").write_text(kernel_spec_json(sys.executable))
    labconfig = dirs["config"] / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG, indent=1))
    settings = dirs["config"] / "lab" / "user-settings"
    for name, values in USER_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values, indent=1))
    return {
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["config"] / "lab" / "workspaces"),
        "IPYTHONDIR": str(dirs["ipython"]),
        # our temporary folders before the venv's: its python3 kernel spec is ours
        "JUPYTER_PREFER_ENV_PATH": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def _wait_ready(server: JupyterServer, deadline: float) -> str | None:
    """None once ``/api/status`` answers; else why not (the server exited, or time is up)."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"jupyter lab exited with code {server.process.returncode}"
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as answer:
                if answer.status == 200:
                    return None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    return f"jupyter lab did not answer /api/status within {START_TIMEOUT:.0f} s"


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL to its group if need be."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


def _start(base: Path, root: Path, env: dict[str, str], attempt: int) -> JupyterServer:
    port, token = _free_port(), secrets.token_hex(24)
    log = base / f"jupyter-lab-{attempt}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                *LAB_OPTIONS,
                f"--ServerApp.port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if _PRCTL is not None else None,
        )
    return JupyterServer(f"http://127.0.0.1:{port}", token, root, log, process)


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory) -> Iterator[JupyterServer]:
    """A ``jupyter lab`` of this venv serving a temporary folder (``.root``)."""
    require_browser()
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    root.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("JUPYTER", "JPY_", "IPYTHON"))
    }
    env.update(_jupyter_dirs(base))
    server, why = None, None
    for attempt in range(3):  # another process may take the free port before the server does
        server = _start(base, root, env, attempt)
        why = _wait_ready(server, time.monotonic() + START_TIMEOUT)
        if why is None:
            break
        _stop(server.process)
        if not re.search(r"already in use|Errno 98", server.log_tail()):
            break
    assert server is not None
    if why is not None:
        pytest.fail(f"{why}; its log ({server.log}):\n{server.log_tail()}", pytrace=False)
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture
def lab_page(jupyter_server, request, tmp_path_factory):
    """A fresh chromium page (1400x1000), closed after the test; screenshot on failure."""
    require_browser()
    from playwright.sync_api import sync_playwright

    shots = tmp_path_factory.getbasetemp() / "screenshots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on(
                "console",
                lambda message: (
                    errors.append(f"console.{message.type}: {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            request.node._lab_failure = (page, errors, jupyter_server, shots)
            yield page
        finally:
            browser.close()
            if jupyter_server.process.poll() is None:
                jupyter_server.shutdown_sessions()  # the next test starts on a fresh kernel


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed test with a ``lab_page``: its screenshot, console errors, the server log."""
    report = yield
    state = getattr(item, "_lab_failure", None)
    if state is None or not report.failed or report.when != "call":
        return report
    page, errors, server, shots = state
    name = re.sub(r"[^\w.-]+", "_", item.nodeid)[-120:]
    try:
        where = f"screenshot: {screenshot(page, shots / f'{name}.png')}"
    except Exception as error:  # a closed or crashed page
        where = f"no screenshot: {error}"
    lines = [where, *errors[-20:], f"server log ({server.log}), last lines:", server.log_tail(20)]
    report.sections.append(("JupyterLab", "\n".join(lines)))
    return report
