"""Dynamic-scenario benchmark: random scenarios of growing size over 36 months (prints figures).

Run from the repository root::

    .venv/bin/python benchmarks/bench_dynamic.py                 # 6, 8, 10, 12, 14, 16 nodes
    .venv/bin/python benchmarks/bench_dynamic.py --nodes 6 8     # some sizes only

For each size, a random scenario (``forecast.engine.synthetic.random_scenario_spec``: binary
and 3-state nodes, up to 3 parents each at lags 0 and 1, every node with memory of its own
state, evidence on 10% of node-months) is written to a file and loaded through the front
door, which checks its size. Printed per size: the joint states, the engine's memory estimate
(``forecast check``'s figure), and, when it loads:

- ``prior 2000``: exact post-processing (questions and monthly marginals) of 2000 prior
  draws, ``model.prior_predictive(draws=2000)``, warm (after one small call);
- ``warm NUTS``: ``model.fit()`` with the default sampler settings, after one fit that
  compiles; skipped when the 2000-draw pass took longer than ``--max-prior-s``, since the
  NUTS fit then runs far beyond the target.

Targets (issue 16, printed, never asserted): a warm NUTS fit within 60 s and the 2000-draw
pass within 5 s at 16 nodes.
"""

from __future__ import annotations

import argparse
import logging
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

import forecast
from forecast.engine.synthetic import random_scenario_spec

TARGET_FIT_S = 60.0
TARGET_PRIOR_S = 5.0
MONTHS = 36


def _scenario_file(n_nodes: int, seed: int, folder: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(seed)
    spec = random_scenario_spec(
        rng, n_nodes=n_nodes, max_states=3, n_months=MONTHS, max_parents=3, evidence_rate=0.1
    )
    path = folder / f"random_{n_nodes}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path, spec


def _load(path: Path, spec: dict, seed: int):
    """The scenario's model, thinning evidence drawn impossible (as the random tests do)."""
    rng = np.random.default_rng(seed)
    while True:
        try:
            return forecast.ScenarioModel.from_file(path)
        except forecast.ScenarioError as error:
            observations = spec["evidence"]["observations"]
            if "probability zero" not in str(error) or not observations:
                raise
            observations.pop(int(rng.integers(len(observations))))
            path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def _timed(call):
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def measure(n_nodes: int, seed: int, folder: Path, max_prior_s: float) -> dict:
    """One size's figures (``None`` where not measured)."""
    path, spec = _scenario_file(n_nodes, seed, folder)
    row: dict = {"nodes": n_nodes, "seed": seed}
    row["joint"] = int(np.prod([len(n["states"]) for n in spec["nodes"].values()]))
    try:
        model = _load(path, spec, seed)
    except forecast.ScenarioError as error:
        found = re.search(r"need about ([0-9.,]+ [KMGT]iB)", str(error))
        row["memory"] = found.group(1) if found else "?"
        row["refused"] = "refused at check time"
        return row
    from forecast.engine.checks import memory_text, model_size  # the figure `check` prints

    size = model_size(model.scenario)
    row |= {"joint": size.joint, "memory": memory_text(size.nbytes)}
    model.prior_predictive(draws=64, seed=1)  # compiles the passes for this plan
    row["prior_2000_s"], _ = _timed(lambda: model.prior_predictive(draws=2000, seed=2))
    if row["prior_2000_s"] > max_prior_s:
        row["nuts"] = f"skipped: the 2000-draw pass took more than {max_prior_s:.0f} s"
        return row
    model.fit(seed=3)  # compiles the density
    row["warm_fit_s"], fit = _timed(lambda: model.fit(seed=4))
    row["divergences"] = int(fit.diagnostics().divergences)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[6, 8, 10, 12, 14, 16])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--max-prior-s", type=float, default=20.0)
    args = parser.parse_args()
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    folder = Path(tempfile.mkdtemp(prefix="forecast-bench-dynamic-"))
    print(f"random scenarios over {MONTHS} months, seed {args.seed}")
    print(f"{'nodes':>5} {'joint':>10} {'memory':>10} {'prior 2000':>11} {'warm NUTS':>10}  note")
    for n in args.nodes:
        row = measure(n, args.seed + n, folder, args.max_prior_s)
        prior = f"{row['prior_2000_s']:.2f} s" if "prior_2000_s" in row else "-"
        nuts = f"{row['warm_fit_s']:.1f} s" if "warm_fit_s" in row else "-"
        note = row.get("refused") or row.get("nuts") or f"{row.get('divergences', 0)} divergences"
        memory = row.get("memory", "-")
        print(f"{n:>5} {row['joint']:>10,} {memory:>10} {prior:>11} {nuts:>10}  {note}", flush=True)
    print(
        f"targets at 16 nodes: warm NUTS <= {TARGET_FIT_S:.0f} s, "
        f"prior 2000 <= {TARGET_PRIOR_S:.0f} s"
    )


if __name__ == "__main__":
    main()
