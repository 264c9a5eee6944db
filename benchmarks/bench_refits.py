"""A NUTS backtest of the Kursk scenario in this process against a local Dask cluster.

Run from the repository root::

    .venv/bin/python benchmarks/bench_refits.py                # 6 cut-offs, 2 workers
    .venv/bin/python benchmarks/bench_refits.py --cutoffs 3    # a quicker run

Both runs fit the same cut-offs (the last ``--cutoffs`` month ends of the replay) with the
same sampler (``--draws`` and ``--tune``, 2 chains, one core per fit), one after the other in
one invocation: first every fit in this process with the model's fitter (``scheduler="sync"``),
then on a new ``LocalCluster`` of ``--workers`` processes (``scheduler=None``), where each
worker builds the fitter once and the cluster's start-up is part of the time. Printed: the wall
time of each, the ratio, and whether the two tables are equal (they must be: a fit depends on
its cut-off, priors and seed only). Nothing is asserted but that equality.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import forecast

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "kursk_2024.yaml")
    parser.add_argument("--cutoffs", type=int, default=6)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name in ("pymc", "pytensor", "distributed"):
        logging.getLogger(name).setLevel(logging.ERROR)

    model = forecast.ScenarioModel.from_file(args.scenario)
    sampler = {"draws": args.draws, "tune": args.tune, "chains": 2, "cores": 1}
    # build and warm the fitter here first, so that the in-process run pays no compilation
    # (the cluster's workers each build their own: that cost is part of their time)
    model.fit(seed=args.seed, sampler=sampler)
    here = model.backtest(method="nuts", sampler=sampler, seed=args.seed)
    dates = forecast.replay_dates(model.scenario)[-args.cutoffs :]

    start = time.perf_counter()
    in_process = here.table(dates)
    sync_s = time.perf_counter() - start

    there = model.backtest(
        method="nuts", sampler=sampler, seed=args.seed, scheduler=None, workers=args.workers
    )
    start = time.perf_counter()
    on_cluster = there.table(dates)
    cluster_s = time.perf_counter() - start

    print(f"NUTS backtest of {model.scenario.id}: {len(dates)} cut-offs, 2 chains x {args.draws}")
    print(f"  in this process (sync)               {sync_s:8.1f} s")
    print(f"  local cluster of {args.workers} workers (start included) {cluster_s:8.1f} s")
    print(f"  ratio sync / cluster                 {sync_s / cluster_s:8.2f}")
    equal = in_process.equals(on_cluster)
    print(f"  tables equal                         {equal}")
    if not equal:
        raise SystemExit("the cluster's backtest differs from the in-process one")


if __name__ == "__main__":
    main()
