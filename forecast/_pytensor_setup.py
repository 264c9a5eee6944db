"""Point PyTensor at the system OpenBLAS before it is imported, so it links a fast BLAS.

A pip-installed PyTensor looks for ``libblas`` + ``libcblas`` or MKL and warns when it finds
neither, even though Debian's OpenBLAS (``libopenblas-dev``, installed by ``make setup``) is
there. We name it explicitly through ``PYTENSOR_FLAGS`` unless the user configured BLAS.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

_FLAG = "blas__ldflags"


def _user_configured() -> bool:
    if _FLAG in os.environ.get("PYTENSOR_FLAGS", ""):
        return True
    rc = os.environ.get("PYTENSORRC", os.path.expanduser("~/.pytensorrc"))
    return any(
        os.path.exists(p) and "ldflags" in open(p, encoding="utf-8").read()
        for p in rc.split(os.pathsep)
    )


def configure_pytensor() -> str | None:
    """Set PyTensor's BLAS flags to the system OpenBLAS if nothing else was configured.

    Returns
    -------
    str or None
        The flags set, or None when the user's configuration was kept or no OpenBLAS exists.
    """
    if _user_configured():
        return None
    if ctypes.util.find_library("openblas") is None:
        logger.warning(
            "No OpenBLAS found: PyTensor will run without BLAS and warn about it. "
            "Install it with 'apt-get install libopenblas-dev' (make setup does this)."
        )
        return None
    flags = "-lopenblas"
    if "pytensor" in sys.modules:
        import pytensor

        pytensor.config.blas__ldflags = flags
    else:
        existing = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = f"{existing},{_FLAG}={flags}".lstrip(",")
    return flags
