"""Analyses of scenarios and fits, one subpackage per task.

``summaries`` (tables of priors, outcomes, parameters, diagnostics), ``counterfactuals``
(what-if, sensitivity, value of information), ``evaluation`` (backtest, scoring), ``pooling``
(several forecasters) and ``reweighting`` (PSIS weights, prior edits on a fit). Users reach
them through :class:`forecast.ScenarioModel` and :class:`forecast.Fit`.
"""
