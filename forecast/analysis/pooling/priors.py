"""The forecasters' priors: elicited, side by side, and as judgements on the logit scale.

:func:`forecaster_priors` elicits every forecaster's priors once the scenarios are known to
share one structure; :func:`forecaster_prior_table` lists each forecaster's prior of every
rule destination; :func:`elicited_judgements` reads each one as a best guess with an error
on the logit scale, the data of the hierarchical pool
(:func:`~forecast.analysis.pooling.hierarchical.hierarchical_pool`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from forecast.analysis.pooling.structure import check_priors_match, check_same_structure
from forecast.elicitation import Priors, elicit
from forecast.scenario.validated import Scenario

__all__ = ["elicited_judgements", "forecaster_prior_table", "forecaster_priors"]


def forecaster_priors(
    scenarios: Mapping[str, Scenario], reference: Scenario | None = None
) -> dict[str, Priors]:
    """Each forecaster's elicited priors, after checking that the structures match.

    Parameters
    ----------
    scenarios : mapping of str to Scenario
        Forecaster name -> scenario.
    reference : Scenario, optional
        The scenario whose structure all must share (default: the first forecaster's).

    Returns
    -------
    dict of str to Priors
        In the order given.
    """
    check_same_structure(scenarios, reference)
    return {name: elicit(scenario) for name, scenario in scenarios.items()}


def forecaster_prior_table(
    scenario: Scenario,
    priors: Mapping[str, Priors],
    rules: Sequence[str] | None = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """Each forecaster's prior of every rule destination, side by side.

    Parameters
    ----------
    scenario : Scenario
        The shared structure.
    priors : mapping of str to Priors
        Forecaster (or pool) name -> priors.
    rules : sequence of str, optional
        Rule names to show (default: every free rule).
    interval : float
        Mass of the central interval of the N-month probability.

    Returns
    -------
    DataFrame
        One row per forecaster, rule and destination: ``forecaster``, ``node``, ``rule``,
        ``destination``, ``within_months``, ``stated_best`` (NaN where not stated), ``mean``,
        ``low<pct>``, ``high<pct>`` (of the marginal Beta), ``reference_class``
        (``"k of n"`` or empty).
    """
    check_priors_match(scenario, priors)
    wanted = [r.name for r in scenario.rules] if rules is None else list(rules)
    by_name = {r.name: r for r in scenario.rules}
    unknown = [r for r in wanted if r not in by_name]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}")
    pct = round(interval * 100)
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    rows = []
    for name, prior in priors.items():
        for rule_name in wanted:
            rule, rp = by_name[rule_name], prior[rule_name]
            stated = {s.destination: s.best for s in rp.stated}
            reference = ""
            if rp.counts is not None:
                reference = f"{int(rp.counts.sum() - rp.counts[0])} of {int(rp.counts.sum())}"
            for k, destination in enumerate(rule.destinations, start=1):
                a, b = float(rp.alpha[k]), float(rp.alpha.sum() - rp.alpha[k])
                dist = stats.beta(a, b)
                best = stated.get(destination)
                rows.append(
                    {
                        "forecaster": name,
                        "node": rule.node,
                        "rule": rule_name,
                        "destination": destination,
                        "within_months": rule.within_months,
                        "stated_best": np.nan if best is None else float(best),
                        "mean": a / (a + b),
                        f"low{pct}": float(dist.ppf(lo)),
                        f"high{pct}": float(dist.ppf(hi)),
                        "reference_class": reference,
                    }
                )
    return pd.DataFrame(rows)


def elicited_judgements(
    scenario: Scenario, priors: Mapping[str, Priors], credibility: float = 0.8
) -> pd.DataFrame:
    """Each forecaster's judgement of every rule destination, on the logit scale.

    Stated judgements (best guess, interval, credibility) are used as written. Where a rule
    gives plain Beta/Dirichlet parameters (or a prior was edited), the judgement is read off
    the marginal Beta: its mean and its central interval of mass ``credibility``.

    Parameters
    ----------
    scenario : Scenario
        The shared structure.
    priors : mapping of str to Priors
        Forecaster name -> priors.
    credibility : float
        Mass of the interval read off a prior that has no stated judgement.

    Returns
    -------
    DataFrame
        One row per forecaster, rule and destination: ``forecaster``, ``rule``,
        ``destination``, ``best``, ``low``, ``high``, ``credibility``, ``stated`` (bool),
        ``logit_best`` and ``logit_sd``: the half-width of the interval on the logit scale
        divided by the normal quantile of its credibility, so that a normal with that sd
        puts the stated mass in the stated interval.
    """
    check_priors_match(scenario, priors)
    rows = []
    for name, prior in priors.items():
        for rule in scenario.rules:
            rp = prior[rule.name]
            stated = {s.destination: s for s in rp.stated}
            for k, destination in enumerate(rule.destinations, start=1):
                s = stated.get(destination)
                if s is not None and s.best is not None and s.interval is not None:
                    best, (low, high), cred, was_stated = s.best, s.interval, s.credibility, True
                else:
                    a, b = float(rp.alpha[k]), float(rp.alpha.sum() - rp.alpha[k])
                    dist = stats.beta(a, b)
                    best, cred, was_stated = a / (a + b), credibility, False
                    low, high = (float(x) for x in dist.ppf([(1 - cred) / 2, (1 + cred) / 2]))
                z = stats.norm.ppf((1 + cred) / 2)
                rows.append(
                    {
                        "forecaster": name,
                        "rule": rule.name,
                        "destination": destination,
                        "best": float(best),
                        "low": float(low),
                        "high": float(high),
                        "credibility": float(cred),
                        "stated": was_stated,
                        "logit_best": float(special.logit(best)),
                        "logit_sd": float((special.logit(high) - special.logit(low)) / (2 * z)),
                    }
                )
    return pd.DataFrame(rows)
