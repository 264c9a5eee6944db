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

numba picks a function's cache folder when the ``cache=True`` function is created, from
``numba.config.CACHE_DIR``. :func:`cached` sets that folder for the creation only and puts the
previous value back, so numba's setting stays what it was for every other library.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numba

from forecast.result_cache import cache_dir

logger = logging.getLogger(__name__)

T = TypeVar("T")

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


def kernel_cache_folder() -> Path:
    """The folder numba caches the package's kernels in.

    ``NUMBA_CACHE_DIR`` when set, else ``numba/<source digest>`` under the package's cache.
    """
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured:
        return Path(configured)
    return cache_dir() / "numba" / source_digest()


@contextlib.contextmanager
def kernel_cache() -> Iterator[Path]:
    """Point ``numba.config.CACHE_DIR`` at :func:`kernel_cache_folder` inside the block only.

    The previous value is restored on exit (unless numba re-read its environment meanwhile).
    """
    folder = kernel_cache_folder()
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)
    try:
        yield folder
    finally:
        if numba.config.CACHE_DIR == str(folder):
            numba.config.CACHE_DIR = previous


def cached(decorator: Callable[[Callable[..., object]], T]) -> Callable[[Callable[..., object]], T]:
    """Apply a numba ``cache=True`` decorator so that the function is cached in our folder.

    Parameters
    ----------
    decorator : callable
        For example ``numba.njit(cache=True, nogil=True)`` or ``numba.cfunc(sig, cache=True)``.

    Returns
    -------
    callable
        The decorator, applied inside :func:`kernel_cache`: numba fixes the function's cache
        folder (and a ``cfunc`` compiles or loads) while the folder is set.

    Notes
    -----
    Used as ``@cached(numba.njit(cache=True, nogil=True))`` on every compiled function of the
    files in :data:`COMPILED_SOURCES`.
    """

    def apply(func: Callable[..., object]) -> T:
        with kernel_cache():
            return decorator(func)

    return apply
