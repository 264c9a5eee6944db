"""Jupyter front end: the prior editor and notebook-friendly errors.

Nothing here runs on import; :func:`show_errors_as_lists` changes the IPython shell only when
called (the notebooks' set-up cell calls it).

>>> from forecast.jupyter import PriorEditor  # doctest: +SKIP
>>> PriorEditor(model.fit(as_of="2024-09-30"))  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

EXPORTS = {
    "PriorEditor": "forecast.jupyter.editor",
    "OutcomeFigure": "forecast.jupyter.curves",
    "show_errors_as_lists": "forecast.jupyter.errors",
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    if name in EXPORTS:
        return getattr(import_module(EXPORTS[name]), name)
    raise AttributeError(f"module 'forecast.jupyter' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
