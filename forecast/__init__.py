"""forecast: Bayesian scenario forecasting with exact discrete marginalisation in PyMC."""

from forecast._pytensor_setup import configure_pytensor

configure_pytensor()

from forecast.api import load_scenario  # noqa: E402
from forecast.errors import Problem, ScenarioError  # noqa: E402
from forecast.scenario import Scenario  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Problem", "Scenario", "ScenarioError", "__version__", "load_scenario"]
