"""The model of a scenario for the samplers: the PyMC model, its compiled density, fitting.

PyMC is imported only where a PyMC model is built or sampled (``backend="pymc"``), through
:func:`forecast.pymc_import.import_pymc`; the default nutpie path does without it. The names
below are loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["QUESTION_VAR", "build_model", "marginal_var"]


def __getattr__(name: str) -> Any:
    if name in ("QUESTION_VAR", "marginal_var"):
        from forecast.pymc_backend import layout

        return getattr(layout, name)
    if name == "build_model":
        from forecast.pymc_import import import_pymc

        import_pymc()
        from forecast.pymc_backend.model import build_model

        return build_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
