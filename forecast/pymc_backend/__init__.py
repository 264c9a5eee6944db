"""Everything that imports PyMC: the model builder, fitting and diagnostics."""

from forecast.pymc_backend.model import QUESTION_VAR, build_model, marginal_var

__all__ = ["QUESTION_VAR", "build_model", "marginal_var"]
