"""Evidence sources folded into the month, against the same reports as ordinary nodes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sources.py

Three sources report Kursk's ``occupation`` (reliabilities 0.9, 0.75 and 0.6), each with a
report in some months. Two scenarios state the very same model:

- ``folded``: the sources declared under ``sources:``; the engine sums each report out in its
  month, so the joint keeps Kursk's size;
- ``as nodes``: each report written as an ordinary memoryless node with the same rules, which
  the engine keeps in the joint (as it did every source before folding).

Printed side by side, in one run: the joint states, the exact pass over 2000 prior draws
(``model.prior_predictive(draws=2000)``, after a small pass that compiles), the
importance-sampling backtest replay over every month end (``model.backtest(draws=2000)
.table(...)``), and the two scenarios' largest difference in any question's prior-predictive
mean (0 up to rounding: one model). The unfolded replay takes many minutes.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

import forecast
from forecast.engine.plan import scenario_size

ROOT = Path(__file__).resolve().parents[1]
KURSK = ROOT / "scenarios" / "kursk_2024.yaml"
SOURCES = {
    "maps": (0.9, [0.75, 0.97]),
    "kyiv": (0.75, [0.5, 0.9]),
    "moscow": (0.6, [0.4, 0.8]),
}
REPORTS = {  # month end -> source -> reported state (made up for timing; not evidence)
    "2024-10-31": {"maps": "substantial", "kyiv": "substantial"},
    "2024-12-31": {"maps": "substantial", "moscow": "foothold"},
    "2025-02-28": {"maps": "substantial", "kyiv": "substantial", "moscow": "foothold"},
    "2025-03-31": {"maps": "foothold", "moscow": "none"},
}


def _folded(data: dict) -> dict:
    out = copy.deepcopy(data)
    out["sources"] = {
        name: {
            "reports_on": "occupation",
            "reliability": {"best": best, "interval": interval},
            "rationale": "timing only",
        }
        for name, (best, interval) in SOURCES.items()
    }
    obs = out["evidence"].setdefault("observations", [])
    for date, said in REPORTS.items():
        for source, state in said.items():
            obs.append(
                {
                    "node": "occupation",
                    "date": date,
                    "state": state,
                    "source": "timing",
                    "reported_by": source,
                }
            )
    return out


def _as_nodes(data: dict) -> dict:
    out = copy.deepcopy(data)
    states = list(out["nodes"]["occupation"]["states"])
    for name, (best, interval) in SOURCES.items():
        share = len(states) - 1
        wrong = {
            "best": (1 - best) / share,
            "interval": [(1 - interval[1]) / share, (1 - interval[0]) / share],
        }
        out["nodes"][name] = {
            "description": f"{name}'s report of occupation",
            "states": {s: s for s in states},
            "parents": {"occupation": 0},
            "initial": states[0],
            "transitions": [
                {
                    "given": {"occupation": s},
                    "to": {o: wrong for o in states if o != s},
                    "rationale": "timing only",
                    "id": f"{name}_when_{s}",
                }
                for s in states
            ],
        }
    obs = out["evidence"].setdefault("observations", [])
    for date, said in REPORTS.items():
        for source, state in said.items():
            obs.append({"node": source, "date": date, "state": state, "source": "timing"})
    return out


def _timed(call, seed: int) -> float:
    """Seconds of ``call(seed)`` (each seed once: the model caches its results by seed)."""
    start = time.perf_counter()
    call(seed)
    return time.perf_counter() - start


def main() -> None:
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    data = yaml.safe_load(KURSK.read_text(encoding="utf-8"))
    for table in ("tables",):
        data["evidence"][table] = [
            str((KURSK.parent / p).resolve()) for p in data["evidence"][table]
        ]
    for series in data["evidence"].get("series", []):
        series["file"] = str((KURSK.parent / series["file"]).resolve())
    rows = []
    means = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, build in (("folded", _folded), ("as nodes", _as_nodes)):
            path = Path(folder) / f"{name.replace(' ', '_')}.yaml"
            path.write_text(yaml.safe_dump(build(data), sort_keys=False), encoding="utf-8")
            model = forecast.ScenarioModel.from_file(path)
            size = scenario_size(model.scenario, draws=2000, threads=2)
            model.prior_predictive(draws=200, seed=9)  # warm: compiles the passes
            prior_s = _timed(lambda seed, m=model: m.prior_predictive(draws=2000, seed=seed), 1)
            replay_s = _timed(
                lambda seed, m=model: m.backtest(draws=2000, seed=seed).table(
                    forecast.replay_dates(m.scenario)
                ),
                3,
            )
            means[name] = model.prior_predictive(draws=2000, seed=1).questions()["mean"]
            rows.append((name, size.joint, prior_s, replay_s))
    print(f"{'scenario':<10} {'joint':>8} {'prior 2000 (s)':>15} {'replay (s)':>11}")
    for name, joint, prior_s, replay_s in rows:
        print(f"{name:<10} {joint:>8,} {prior_s:>15.2f} {replay_s:>11.2f}")
    (_, j0, p0, r0), (_, j1, p1, r1) = rows
    print(
        f"as nodes / folded: joint x{j1 / j0:.0f}, prior pass x{p1 / p0:.1f}, replay x{r1 / r0:.1f}"
    )
    gap = np.max(np.abs(means["folded"].to_numpy() - means["as nodes"].to_numpy()))
    print(f"largest difference of the question means: {gap:.2e}")


if __name__ == "__main__":
    main()
