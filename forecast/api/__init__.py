"""The front door: :class:`ScenarioModel` and its :class:`Fit`, what users and notebooks call."""

from forecast.api.loading import load_scenario

__all__ = ["load_scenario"]
