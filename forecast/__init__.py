"""forecast: Bayesian scenario forecasting with exact discrete marginalisation in PyMC."""

from importlib.metadata import version

from forecast import api, settings
from forecast.errors import AsOfWarning, Problem, ScenarioError
from forecast.scenario import Scenario

__version__ = version("forecast")

__all__ = [
    "AsOfWarning",
    "Problem",
    "Scenario",
    "ScenarioError",
    "__version__",
    "settings",
    *api.__all__,
]


def __getattr__(name: str) -> object:
    """The front door's names (:mod:`forecast.api`), loaded on first use."""
    return api.__getattr__(name)


def __dir__() -> list[str]:
    return sorted([*globals(), *api.__all__])
