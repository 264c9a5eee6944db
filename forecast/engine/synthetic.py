"""Random scenarios for cross-checks and benchmarks.

Every feature of the scenario file, drawn at random but always valid.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from forecast.engine.checks import check_evidence_possible
from forecast.scenario import Scenario, read_scenario
from forecast.scenario.timeline import Timeline


def _judgement(rng: np.random.Generator, best: float) -> dict[str, Any]:
    width = rng.uniform(0.1, 0.25)
    lo = max(0.005, best - width)
    hi = min(0.995, best + width)
    return {"best": round(best, 3), "interval": [round(lo, 3), round(hi, 3)]}


def random_scenario_spec(
    rng: np.random.Generator,
    n_nodes: int = 3,
    max_states: int = 3,
    n_months: int = 4,
    max_parents: int = 2,
    evidence_rate: float = 0.3,
) -> dict[str, Any]:
    """A random, valid scenario as the dict a YAML file would hold."""
    start = dt.date(2024, 1, 1)
    timeline = Timeline((2024, 1), (2024 + (n_months - 1) // 12, (n_months - 1) % 12 + 1))
    states = {
        f"n{i}": [f"s{k}" for k in range(int(rng.integers(2, max_states + 1)))]
        for i in range(n_nodes)
    }
    names = list(states)
    nodes: dict[str, Any] = {}
    for i, name in enumerate(names):
        candidates = names[:i] + names[i + 1 :]
        k_par = int(rng.integers(0, min(max_parents, len(candidates)) + 1))
        chosen = list(rng.choice(candidates, size=k_par, replace=False)) if k_par else []
        # same-month edges only from earlier nodes keeps months acyclic
        parents = {
            str(p): (0 if names.index(str(p)) < i and rng.random() < 0.4 else 1) for p in chosen
        }
        own = states[name]
        absorbing = [own[-1]] if rng.random() < 0.4 else []
        rules = []
        for from_state in own:
            if from_state in absorbing:
                continue
            split = str(rng.choice(list(parents))) if parents and rng.random() < 0.6 else None
            groups = [{split: s} for s in states[split]] if split else [{}]
            for given in groups:
                dests = [s for s in own if s != from_state]
                dests = list(
                    rng.choice(dests, size=int(rng.integers(1, len(dests) + 1)), replace=False)
                )
                rule: dict[str, Any] = {
                    "from": from_state,
                    "given": given,
                    "within_months": int(rng.integers(1, 7)),
                    "rationale": "random",
                }
                form = rng.random()
                if form < 0.1:
                    rule["stays"] = True
                elif form < 0.25:
                    rule["dirichlet"] = {"stay": round(float(rng.uniform(1, 4)), 2)} | {
                        str(d): round(float(rng.uniform(0.5, 3)), 2) for d in dests
                    }
                else:
                    bests = rng.dirichlet(np.ones(len(dests) + 1) * 2)[1:] * 0.9
                    rule["to"] = {
                        str(d): _judgement(rng, float(max(b, 0.03)))
                        for d, b in zip(dests, bests, strict=True)
                    }
                    if rng.random() < 0.3:
                        n = int(rng.integers(3, 15))
                        rule["reference_class"] = {
                            "n": n,
                            "counts": {str(dests[0]): int(rng.integers(0, n + 1))},
                            "description": "random",
                            "source": "random",
                        }
                rules.append(rule)
        init = rng.dirichlet(np.ones(len(own)))
        nodes[name] = {
            "description": f"random node {i}",
            "states": own,
            "parents": parents,
            "initial": {s: float(v) for s, v in zip(own, init / init.sum(), strict=True)},
            "absorbing": absorbing,
            "transitions": rules,
        }
    observations = []
    for t, name in itertools.product(range(timeline.n_steps), names):
        if rng.random() < evidence_rate:
            observations.append(
                {
                    "node": name,
                    "date": timeline.month_end_date(t),
                    "state": str(rng.choice(states[name])),
                    "source": "random",
                }
            )
    questions = []
    for k, name in enumerate(names):
        t = int(rng.integers(0, timeline.n_steps))
        kind = "reached" if k % 2 else "in_state"
        questions.append(
            {
                "id": f"q{k}",
                "text": f"question {k}",
                "node": name,
                "state": states[name][-1],
                "date": timeline.month_end_date(t),
                "kind": kind,
            }
        )
    return {
        "id": "random",
        "title": "random scenario",
        "source": {"citation": "synthetic"},
        "author": "forecast.engine.synthetic",
        "priors_set_on": start,
        "start": timeline.month_label(0),
        "horizon": timeline.month_label(timeline.n_steps - 1),
        "nodes": nodes,
        "evidence": {"observations": observations},
        "questions": questions,
    }


def random_scenario(
    rng: np.random.Generator, folder: Path | None = None, max_tries: int = 50, **kwargs: Any
) -> Scenario:
    """A random valid scenario whose evidence has positive probability, loaded from YAML.

    Evidence drawn at random can be impossible (an absorbing state left); such draws are
    thinned until the scenario loads.
    """
    from forecast.errors import ScenarioError

    folder = Path(folder or tempfile.mkdtemp(prefix="forecast-random-"))
    spec = random_scenario_spec(rng, **kwargs)
    for _ in range(max_tries):
        path = folder / "random.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        try:
            return check_evidence_possible(read_scenario(path))
        except ScenarioError:
            observations = spec["evidence"]["observations"]
            if not observations:
                raise
            observations.pop(int(rng.integers(len(observations))))
    raise RuntimeError("could not draw a random scenario with possible evidence")
