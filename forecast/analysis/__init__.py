"""Analyses of fitted scenarios: forecast tables and per-month outcome summaries."""

from forecast.analysis.tables import forecast_table, monthly_bands

__all__ = ["forecast_table", "monthly_bands"]
