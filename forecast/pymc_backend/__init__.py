"""The model of a scenario for the samplers: the PyMC model, its compiled density, fitting.

PyMC is imported only where a PyMC model is built or sampled (``backend="pymc"``); the
default nutpie path does without it. The names below are loaded on first use.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["QUESTION_VAR", "build_model", "import_pymc", "marginal_var"]


def import_pymc() -> Any:
    """Import PyMC, keeping a level already set on its logger.

    When logging is not configured, PyMC's import sets its logger to INFO and gives it a
    handler. Now that PyMC is imported only when needed, that can come after a notebook or
    script has quieted the ``pymc`` logger, and would undo it; the level is restored.
    """
    logger = logging.getLogger("pymc")
    level = logger.level
    import pymc

    if level != logging.NOTSET:
        logger.setLevel(level)
    return pymc


def __getattr__(name: str) -> Any:
    if name in ("QUESTION_VAR", "marginal_var"):
        from forecast.pymc_backend import layout

        return getattr(layout, name)
    if name == "build_model":
        import_pymc()
        from forecast.pymc_backend.model import build_model

        return build_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
