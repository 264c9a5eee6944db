"""forecast: Bayesian scenario forecasting with exact discrete marginalisation in PyMC."""

from forecast._pytensor_setup import configure_pytensor

configure_pytensor()

from forecast import api, settings  # noqa: E402
from forecast.errors import Problem, ScenarioError  # noqa: E402
from forecast.scenario import Scenario  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Problem", "Scenario", "ScenarioError", "__version__", "settings", *api.__all__]


def __getattr__(name: str) -> object:
    """The front door's names (:mod:`forecast.api`), loaded on first use."""
    return api.__getattr__(name)


def __dir__() -> list[str]:
    return sorted([*globals(), *api.__all__])
