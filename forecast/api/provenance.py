"""What a fit records of the model that made it, and the check of a saved fit against a model.

As pymc-marketing's model builder does: the InferenceData attributes carry the scenario's hash,
the priors as JSON and their digest, the evidence cut-off, the seed and the sampler settings,
so a saved fit can be refused when it is loaded against a model it does not belong to.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from forecast.elicitation import Priors
from forecast.scenario import Scenario

SCENARIO_HASH = "scenario_hash"
PRIORS_JSON = "priors_json"
PRIORS_DIGEST = "priors_digest"


class DifferentModelError(ValueError):
    """A saved fit was made by another scenario or other priors than the model given."""


def priors_record(scenario: Scenario, priors: Priors) -> list[dict[str, Any]]:
    """Every rule's prior as plain data: id, window, outcome labels, parameters, counts."""
    out = []
    for rule in scenario.rules:
        prior = priors[rule.name]
        out.append(
            {
                "rule": rule.name,
                "within_months": rule.within_months,
                "labels": list(prior.labels),
                "alpha": [float(a) for a in prior.alpha],
                "counts": None if prior.counts is None else [float(c) for c in prior.counts],
            }
        )
    return out


def priors_json(scenario: Scenario, priors: Priors) -> str:
    """The priors as JSON (keys sorted, floats as Python writes them)."""
    return json.dumps(priors_record(scenario, priors), sort_keys=True)


def priors_digest(scenario: Scenario, priors: Priors) -> str:
    """SHA-256 of :func:`priors_json`."""
    return hashlib.sha256(priors_json(scenario, priors).encode()).hexdigest()


def provenance_attrs(scenario: Scenario, priors: Priors) -> dict[str, str]:
    """The attributes that tie a fit to its model (the fitter adds cut-off, seed, sampler)."""
    return {
        SCENARIO_HASH: scenario.hash,
        PRIORS_JSON: priors_json(scenario, priors),
        PRIORS_DIGEST: priors_digest(scenario, priors),
    }


def _prior_differences(saved: str, current: list[dict[str, Any]]) -> list[str]:
    try:
        old = {r["rule"]: r for r in json.loads(saved)}
    except (TypeError, ValueError, KeyError):
        return ["the saved priors cannot be read"]
    new = {r["rule"]: r for r in current}
    lines = []
    for rule in sorted(set(old) | set(new)):
        if rule not in new:
            lines.append(f"rule {rule} is in the saved fit only")
        elif rule not in old:
            lines.append(f"rule {rule} is in the model only")
        elif old[rule] != new[rule]:
            changed = [k for k in new[rule] if old[rule].get(k) != new[rule][k]]
            detail = "; ".join(
                f"{k} {old[rule].get(k)} in the file, {new[rule][k]} in the model" for k in changed
            )
            lines.append(f"rule {rule}: {detail}")
    return lines


def check_provenance(attrs: dict[str, Any], scenario: Scenario, priors: Priors, where: str) -> None:
    """Refuse a saved fit whose scenario or priors differ from the model's.

    Raises
    ------
    DifferentModelError
        Naming what differs: the scenario (hash) and, rule by rule, the priors.
    """
    problems = []
    saved_hash = attrs.get(SCENARIO_HASH)
    if saved_hash != scenario.hash:
        problems.append(
            f"the scenario differs (hash {str(saved_hash)[:12]} in the file, "
            f"{scenario.hash[:12]} in the model {scenario.id!r})"
        )
    if attrs.get(PRIORS_DIGEST) != priors_digest(scenario, priors):
        if PRIORS_JSON not in attrs:
            problems.append("the file records no priors (not saved by forecast.Fit.save)")
        else:
            diffs = _prior_differences(attrs[PRIORS_JSON], priors_record(scenario, priors))
            problems.append("the priors differ: " + ("; ".join(diffs) or "in their digest"))
    if problems:
        raise DifferentModelError(f"{where} was not fitted with this model: " + "; ".join(problems))
