"""Compile the smoothing passes in a second process while a first fit compiles its density.

On a machine whose numba cache lacks the kernels (``make setup`` fills it; a new numba or an
edited kernel empties it), a first fit compiles two things one after the other: the sampler's
density (about 3.5 s) and the smoothing passes that turn draws into question probabilities
(about 4.5 s). numba compiles under a lock, one function at a time per process, so a thread
cannot overlap them; a process can. :func:`start` launches ``python -m forecast.warmup
--smoothing`` when the smoothing passes are not cached, and :func:`wait` (called before the
passes first run) waits for it, so that this process loads them from the cache instead of
compiling them. If the helper fails or is not done in time, this process compiles them itself,
as it would have anyway. A warm cache starts nothing, and importing this module starts
nothing either: the helper, and the exit hook that lets it finish, come with :func:`start`.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from forecast.engine.compile_cache import PACKAGE, kernel_cache_folder

logger = logging.getLogger(__name__)

WAIT_S = 300.0
"""How long to wait for the helper before compiling here (it takes about 5 s)."""

_lock = threading.Lock()
_helper: subprocess.Popen | None = None
_started = False


def _index_path() -> Path | None:
    """The numba cache index file of the smoothing passes (None if numba's internals moved)."""
    from forecast.engine.smoothing import smooth_block

    try:
        return Path(smooth_block._cache._cache_file._index_path)
    except AttributeError:
        return None


def smoothing_cached() -> bool:
    """Whether numba's cache holds the smoothing passes (their index file exists)."""
    index = _index_path()
    return index is None or index.exists()


def _writable(folder: Path) -> bool:
    """Whether ``folder`` (or, if it does not exist yet, its nearest ancestor) is writable."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def start() -> bool:
    """Start compiling the smoothing passes in a second process, unless they are cached.

    At most once per process, and only into a cache folder that can be written: a helper
    whose work cannot reach the cache would only make this process wait. Returns whether a
    helper was started.
    """
    global _helper, _started
    with _lock:
        if _started or smoothing_cached() or not _writable(_index_path().parent):
            return False
        _started = True
        # the same cache folder and the same package as this process
        env = dict(os.environ, NUMBA_CACHE_DIR=str(kernel_cache_folder()))
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE.parent), *filter(None, [env.get("PYTHONPATH")])]
        )
        try:
            _helper = subprocess.Popen(
                [sys.executable, "-m", "forecast.warmup", "--smoothing"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as error:
            logger.debug("could not start the compile helper (%s); compiling here", error)
            return False
        # a process that ends before its first smoothing pass lets the helper finish its work
        atexit.register(wait)
        logger.debug("compiling the smoothing passes in process %d", _helper.pid)
        return True


def wait(timeout: float = WAIT_S) -> None:
    """Wait for a running helper (if any) to finish; kill it after ``timeout`` seconds."""
    global _helper
    with _lock:
        helper, _helper = _helper, None
    if helper is None:
        return
    try:
        code = helper.wait(timeout)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()
        logger.debug("the compile helper took over %.0f s; compiling here", timeout)
        return
    if code != 0:
        logger.debug("the compile helper exited with %d; compiling here", code)
