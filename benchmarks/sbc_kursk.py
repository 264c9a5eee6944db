"""Simulation-based calibration of the Kursk scenario on a Dask LocalCluster (issue 14).

Run from the repository root::

    .venv/bin/python benchmarks/sbc_kursk.py                 # N = 200, 2 workers, + control
    .venv/bin/python benchmarks/sbc_kursk.py --n 40 --no-control
    .venv/bin/python benchmarks/sbc_kursk.py --scheduler tcp://host:8786

Runs ``forecast.sbc`` on ``scenarios/kursk_2024.yaml``: N replications, each a prior draw, a
simulated path observed at the node-months of the scenario's evidence, and a nutpie fit of
2 chains x 250 draws (after 250 tuning steps) thinned to 99 draws; prints the chi-square p and
ECDF-band verdict per quantity, the pass/fail line and the wall time. Then, unless
``--no-control``, the same with the broken likelihood (observations with their first two
states swapped in the fit), which must fail. ``--out`` keeps the ranks, tables and figures.

Measured on 2026-12-02 (2 shared cores, LocalCluster of 2 workers, seed 20240930, N = 200):
SBC PASS, 57/57 quantities (30 rule parameters, 27 questions) uniform, the smallest chi-square
p 0.0035 against the Bonferroni level 0.05/57 = 0.00088, every ECDF inside its band; sweep
370 s, wall 399 s (about 3.3 s a replication on a loaded machine); 5 replications needed
doubled draws, no divergences. The control FAILS: 23/57 uniform (sweep 371 s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: argparse.Namespace, corrupt: str | None) -> bool:
    import forecast

    label = "control (swapped evidence)" if corrupt else "SBC"
    out = None
    if args.out:
        out = Path(args.out) / ("control" if corrupt else "sbc")
    start = time.perf_counter()
    result = forecast.sbc(
        ROOT / "scenarios" / "kursk_2024.yaml",
        n=args.n,
        seed=args.seed,
        draws=args.draws,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.quiet,
        out=out,
        corrupt=corrupt,
    )
    wall = time.perf_counter() - start
    print(f"\n== {label}: {result.scheduler}, N = {args.n}, seed {args.seed}")
    if not corrupt or args.verbose:
        table = result.table().copy()
        table["chi2_p"] = table["chi2_p"].map(lambda p: f"{p:.3g}")
        print(table.to_string(index=False))
    runs = result.runs
    print(
        f"per replication: median {runs['seconds'].median():.2f} s, "
        f"draws extended in {(runs['draws'] > args.draws).sum()}, "
        f"min ESS below L in {(runs['min_ess'] < result.settings.thin_to).sum()}, "
        f"divergences {int(runs['divergences'].sum())}"
    )
    print(result.summary_line())
    print(f"wall time {wall:.0f} s (the sweep {result.seconds:.0f} s)")
    return result.passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="replications (default 200)")
    parser.add_argument("--seed", type=int, default=20240930)
    parser.add_argument("--draws", type=int, default=250, help="draws per chain (and tuning)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="'sync' or a Dask scheduler address")
    parser.add_argument("--out", default=None, help="folder for ranks, tables and figures")
    parser.add_argument("--no-control", action="store_true", help="skip the broken control")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--verbose", action="store_true", help="the control's table too")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    ok = run(args, None)
    control_failed = True
    if not args.no_control:
        control_failed = not run(args, "swap_evidence")
        print(f"\ncontrol {'FAILS as it must' if control_failed else 'PASSES: SBC has no power'}")
    return 0 if ok and control_failed else 1


if __name__ == "__main__":
    sys.exit(main())
