"""Figures of scenarios and fits: causal graph, priors, predictive and posterior outcomes.

Every figure uses the colours of :data:`forecast.plots.style.PALETTE`.
"""

from forecast.plots.backtest import plot_calibration, plot_replay, read_events
from forecast.plots.graph import plot_belief_graph, plot_causal_graph
from forecast.plots.layout import GraphLayout, layered_layout
from forecast.plots.outcomes import (
    plot_outcome,
    plot_outcome_fits,
    plot_prior_predictive,
    save_outcome_plots,
)
from forecast.plots.parameters import plot_prior_posterior
from forecast.plots.pooling import (
    FORECASTER_COLOURS,
    plot_disagreement,
    plot_forecaster_priors,
    plot_pooled_forecasts,
)
from forecast.plots.priors import plot_node_priors, plot_priors
from forecast.plots.sensitivity import (
    plot_power_scaling,
    plot_tornado,
    plot_value_of_information,
)
from forecast.plots.style import FIT_COLOURS, PALETTE, format_month_axis, month_dates
from forecast.plots.whatif import (
    CASE_STYLES,
    plot_what_if,
    plot_what_ifs,
)

__all__ = [
    "CASE_STYLES",
    "FIT_COLOURS",
    "FORECASTER_COLOURS",
    "PALETTE",
    "GraphLayout",
    "format_month_axis",
    "layered_layout",
    "month_dates",
    "plot_belief_graph",
    "plot_calibration",
    "plot_causal_graph",
    "plot_disagreement",
    "plot_forecaster_priors",
    "plot_node_priors",
    "plot_outcome",
    "plot_outcome_fits",
    "plot_pooled_forecasts",
    "plot_power_scaling",
    "plot_prior_posterior",
    "plot_prior_predictive",
    "plot_priors",
    "plot_replay",
    "plot_tornado",
    "plot_value_of_information",
    "plot_what_if",
    "plot_what_ifs",
    "read_events",
    "save_outcome_plots",
]
