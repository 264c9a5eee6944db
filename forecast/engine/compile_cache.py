"""Where numba keeps the compiled kernels: one folder per version of their source code.

numba re-compiles a cached function when the file that defines it changes, but not when a
function it calls from another file does (a documented limit of numba's cache). Our kernels
call across files: the sampler callbacks (``pymc_backend/nutpie_model.py``) embed the density
(``pymc_backend/density.py``), which embeds the likelihood (``engine/kernels.py``). An edit to
the likelihood alone would leave the cached callbacks running the old code. So the cache lives
in a folder named by a digest of every file with compiled code, under the package's cache
(``$FORECAST_CACHE_DIR`` or ``~/.cache/forecast``): any edit starts a fresh folder, and
identical sources share one, whatever checkout they come from. ``NUMBA_CACHE_DIR``, when set,
is used as it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numba

from forecast.result_cache import cache_dir

logger = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent.parent
COMPILED_SOURCES = (
    "engine/kernels.py",
    "engine/smoothing.py",
    "pymc_backend/density.py",
    "pymc_backend/nutpie_model.py",
)
"""The package's files with numba code (``cache=True``), relative to the package."""


def source_digest() -> str:
    """A short digest of the compiled sources and of the numba version."""
    digest = hashlib.sha256(numba.__version__.encode())
    for name in COMPILED_SOURCES:
        digest.update(name.encode())
        digest.update((PACKAGE / name).read_bytes())
    return digest.hexdigest()[:16]


def configure_numba_cache() -> Path | None:
    """Point numba's cache at the folder of the current sources.

    Must run before the first ``cache=True`` function is defined (``engine/kernels.py`` calls
    it on import). Returns the folder, or None when ``NUMBA_CACHE_DIR`` chose one.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    folder = cache_dir() / "numba" / source_digest()
    numba.config.CACHE_DIR = str(folder)
    logger.debug("numba cache: %s", folder)
    return folder
