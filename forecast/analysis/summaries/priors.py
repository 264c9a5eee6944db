"""Elicited priors side by side with the judgements they were fitted to."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.elicitation import Priors, RulePrior
from forecast.scenario.validated import Rule, Scenario

__all__ = ["marginal_beta", "prior_table", "rule_condition"]


def marginal_beta(prior: RulePrior, destination: str) -> tuple[float, float]:
    """Beta parameters of one destination's N-month probability under a rule's prior.

    A Dirichlet's marginal for component ``k`` is ``Beta(alpha_k, sum(alpha) - alpha_k)``.

    Parameters
    ----------
    prior : RulePrior
        The rule's prior.
    destination : str
        One of the rule's destinations (or ``"stay"``).

    Returns
    -------
    tuple of float
        ``(a, b)`` of the Beta.
    """
    k = prior.labels.index(destination)
    total = float(np.sum(prior.alpha))
    return float(prior.alpha[k]), total - float(prior.alpha[k])


def rule_condition(rule: Rule) -> str:
    """The situation a rule applies to in plain words, e.g. ``from low, given occupation=none``.

    Parameters
    ----------
    rule : Rule
        A rule of the scenario.

    Returns
    -------
    str
        ``from <states>`` followed by ``, given <parent>=<states>`` when the rule has a
        condition on parents.
    """
    text = f"from {'|'.join(rule.from_states)}"
    if rule.given:
        text += ", given " + ", ".join(f"{p}={'|'.join(s)}" for p, s in rule.given.items())
    return text


def prior_table(scenario: Scenario, priors: Priors) -> pd.DataFrame:
    """One row per rule and destination: the stated judgement and the fitted prior.

    Parameters
    ----------
    scenario : Scenario
        The scenario the priors were elicited from.
    priors : Priors
        From :func:`forecast.elicitation.elicit` (or edited with :meth:`Priors.replace`).

    Returns
    -------
    DataFrame
        Columns ``node``, ``rule``, ``condition``, ``within_months``, ``destination``,
        ``stated_best``, ``stated_low``, ``stated_high``, ``credibility`` (NaN where the rule
        gives Beta/Dirichlet parameters instead of a judgement), ``prior_mean`` (the fitted
        prior's mean of the N-month probability), ``prior_mass`` (its mass in the stated
        interval), ``beta_a``, ``beta_b`` (the marginal Beta), ``source`` and
        ``reference_class`` (``"k of n"`` or empty).
    """
    rows = []
    for rule, prior in zip(scenario.rules, priors.rules, strict=True):
        stated = {s.destination: s for s in prior.stated}
        reference = ""
        if prior.counts is not None:
            n = int(prior.counts.sum())
            reference = f"{n - int(prior.counts[0])} of {n}"
        for destination in rule.destinations:
            a, b = marginal_beta(prior, destination)
            s = stated.get(destination)
            low, high = s.interval if s is not None and s.interval else (np.nan, np.nan)
            rows.append(
                {
                    "node": rule.node,
                    "rule": rule.name,
                    "condition": rule_condition(rule),
                    "within_months": rule.within_months,
                    "destination": destination,
                    "stated_best": s.best if s is not None and s.best is not None else np.nan,
                    "stated_low": low,
                    "stated_high": high,
                    "credibility": (
                        s.credibility if s is not None and s.credibility is not None else np.nan
                    ),
                    "prior_mean": a / (a + b),
                    "prior_mass": (
                        s.fitted_mass if s is not None and s.fitted_mass is not None else np.nan
                    ),
                    "beta_a": a,
                    "beta_b": b,
                    "source": prior.source,
                    "reference_class": reference,
                }
            )
    return pd.DataFrame(rows)
