"""Import PyMC and PyTensor on first use: system OpenBLAS flags, the pymc logger's level.

A pip-installed PyTensor looks for ``libblas`` + ``libcblas`` or MKL and warns that it runs
without BLAS when it finds neither, even though Debian's OpenBLAS (``libopenblas-dev``,
installed by ``make setup``) is there. PyTensor looks only when ``config.blas__ldflags`` is
first read (when a graph is first compiled), so :func:`import_pytensor` names OpenBLAS in
PyTensor's own config right after importing it, unless the user configured BLAS
(``PYTENSOR_FLAGS`` or a ``.pytensorrc``). Nothing here writes ``os.environ``, and importing
this module imports neither library.
"""

from __future__ import annotations

import ctypes.util
import functools
import logging
import os
from types import ModuleType

__all__ = ["blas_configured_by_user", "import_pymc", "import_pytensor"]

logger = logging.getLogger(__name__)

BLAS_FLAG = "blas__ldflags"
"""PyTensor's setting of the libraries that BLAS operations link."""


def blas_configured_by_user() -> bool:
    """Whether ``PYTENSOR_FLAGS`` or a PyTensor config file sets the BLAS libraries."""
    if BLAS_FLAG in os.environ.get("PYTENSOR_FLAGS", ""):
        return True
    rc = os.environ.get("PYTENSORRC", os.path.expanduser("~/.pytensorrc"))
    for path in rc.split(os.pathsep):
        if os.path.exists(path):
            with open(path, encoding="utf-8") as file:
                if "ldflags" in file.read():
                    return True
    return False


@functools.cache
def _link_openblas() -> str | None:
    """Set PyTensor's BLAS flags to the system OpenBLAS, once per process.

    Returns the flags set, or None when the user's configuration was kept or there is no
    OpenBLAS.
    """
    if blas_configured_by_user():
        return None
    if ctypes.util.find_library("openblas") is None:
        logger.warning(
            "No OpenBLAS found: PyTensor will run without BLAS and warn about it. "
            "Install it with 'apt-get install libopenblas-dev' (make setup does this)."
        )
        return None
    import pytensor

    flags = "-lopenblas"
    pytensor.config.blas__ldflags = flags
    logger.debug("PyTensor links %s", flags)
    return flags


def import_pytensor() -> ModuleType:
    """Import PyTensor, linking the system OpenBLAS unless the user configured BLAS.

    Returns
    -------
    module
        ``pytensor``.
    """
    import pytensor

    _link_openblas()
    return pytensor


def import_pymc() -> ModuleType:
    """Import PyMC (PyTensor set up first), keeping a level already set on its logger.

    When logging is not configured, PyMC's import sets its logger to INFO and gives it a
    handler. PyMC is imported only when needed, which can come after a notebook or script has
    quieted the ``pymc`` logger; the level is restored.

    Returns
    -------
    module
        ``pymc``.
    """
    import_pytensor()
    pymc_logger = logging.getLogger("pymc")
    level = pymc_logger.level
    import pymc

    if level != logging.NOTSET:
        pymc_logger.setLevel(level)
    return pymc
