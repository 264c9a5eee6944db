"""Cold, first-after-install and warm fit times of two checkouts, side by side (figures only).

Run from the repository root::

    .venv/bin/python benchmarks/bench_against.py --base 0be20f8            # 3 runs a figure
    .venv/bin/python benchmarks/bench_against.py --base main~5 --runs 5
    .venv/bin/python benchmarks/bench_against.py --base 0be20f8 --head HEAD   # commits only

"head" is this working tree as it is (uncommitted changes included), or with ``--head REF`` a
second temporary checkout; "base" is a temporary ``git worktree add --detach`` of ``--base``;
both are removed at the end (also on Ctrl-C). Each run is
a fresh process of *that checkout's own* ``benchmarks/bench_fit.py --worker ...`` (the worker
protocol of bench_fit: ``--worker NAME --result FILE --t-spawn T``), started with
``PYTHONPATH=<checkout>`` and ``cwd=<checkout>`` and the interpreter running this script, so
each checkout imports its own ``forecast`` and measures itself its own way. For each figure
the runs alternate (base, head, base, head, ...), so that load on this shared machine hits
both alike. The environment of each figure is the one bench_fit's parent sets up:

* cold: worker ``cold`` with a fresh empty PyTensor compile directory (``PYTENSOR_FLAGS``
  ``compiledir=``), ``NUMBA_CACHE_DIR`` and ``FORECAST_CACHE_DIR``, new for every run;
* first fit after install: the same, except that numba's cache was primed by that checkout's
  ``python -m forecast.warmup`` (``make setup``), in a fresh ``NUMBA_CACHE_DIR`` of each run;
  worker ``installed``;
* warm: worker ``warm`` with primed caches: each checkout has its own PyTensor compile
  directory and ``FORECAST_CACHE_DIR`` for the whole run (``NUMBA_CACHE_DIR`` left as it is,
  so numba uses the package's default folder under ``FORECAST_CACHE_DIR``), primed by one
  ``prime`` worker (a 10 + 10 draw fit) before the first warm run. Kept apart so that the two
  checkouts (and whatever else runs on the machine) cannot overwrite each other's entries;
  the warm figure is load + build + first fit (bench_fit's definition), printed also from
  process start (imports included: a checkout whose ``import forecast`` is lazy pays its
  imports inside load and build instead); the second fit is the worker's second ``fit`` in
  the same process.

Both workers get the same sampler settings (``--draws --tune --chains --cores --seed
--sampler``); everything else (e.g. the edited rule of the warm worker) is each checkout's
own default. Printed per figure: every run, the medians and the ratio head / base (< 1: head is
faster); and the medians of each worker's split (imports, load, build, first fit). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = "benchmarks/bench_fit.py"
PROTOCOL = ("--worker", "--result", "--t-spawn", '"cold"', '"installed"', '"prime"', '"warm"')
"""What a checkout's bench_fit.py must contain for its workers to be driven from here."""

FIGURES = (
    ("cold", "cold fit (empty caches)"),
    ("first", "first fit after install"),
    ("warm", "warm fit (load + build + fit)"),
    ("warm_total", "warm, from process start"),
    ("second", "second fit (same process)"),
)
SPLIT = ("import_s", "load_s", "build_s", "fit1_s")


class Checkout:
    """One side of the comparison: a source tree and its per-run scratch folders."""

    def __init__(self, label: str, root: Path, scratch: Path) -> None:
        self.label = label
        self.root = root
        self.scratch = scratch / label
        self.scratch.mkdir()
        self.runs: dict[str, list[dict]] = {"cold": [], "first": [], "warm": []}
        self.warm_dirs: dict[str, Path] | None = None
        self.commit = ""
        self.dirty = False

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(extra)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.root), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        return env

    def fresh_dirs(self, tag: str) -> dict[str, Path]:
        """New empty PyTensor, numba and result cache folders."""
        base = Path(tempfile.mkdtemp(prefix=f"{tag}_", dir=self.scratch))
        dirs = {name: base / name for name in ("pytensor", "numba", "results")}
        for d in dirs.values():
            d.mkdir()
        dirs["base"] = base
        return dirs


def pytensor_flags(compiledir: Path) -> str:
    """``PYTENSOR_FLAGS`` with ``compiledir`` appended, as bench_fit's parent builds it."""
    existing = os.environ.get("PYTENSOR_FLAGS", "")
    return ",".join(x for x in (existing, f"compiledir={compiledir}") if x)


def check_protocol(text: str, where: str) -> None:
    missing = [token for token in PROTOCOL if token not in text]
    if missing:
        raise SystemExit(
            f"bench_against: {where} lacks the worker protocol ({', '.join(missing)} not found)"
        )


def run_worker(
    side: Checkout,
    name: str,
    env_extra: dict[str, str],
    sampler_args: list[str],
    logdir: Path,
    tag: str,
    extra_args: list[str] | None = None,
) -> dict:
    """One fresh process of the checkout's own bench_fit worker; its JSON result."""
    result = logdir / f"{side.label}_{tag}.json"
    log = logdir / f"{side.label}_{tag}.log"
    cmd = [
        sys.executable,
        str(side.root / BENCH),
        "--worker",
        name,
        "--result",
        str(result),
        *sampler_args,
        *(extra_args or []),
    ]
    print(f"[against] {side.label:4s} {tag}: running ...", end="", flush=True)
    t_spawn = time.time()
    with open(log, "w") as fh:
        proc = subprocess.run(
            [*cmd, "--t-spawn", repr(t_spawn)],
            env=side.env(env_extra),
            cwd=side.root,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    wall = time.time() - t_spawn
    if proc.returncode != 0:
        print(f" FAILED (exit {proc.returncode}); last lines of {log}:")
        print("".join(log.read_text().splitlines(keepends=True)[-40:]))
        raise SystemExit(2)
    data = json.loads(result.read_text())
    data["process_wall_s"] = wall
    print(f" {data['total_s']:.2f} s to the end of the first fit ({wall:.1f} s in all)")
    return data


def run_cold(side: Checkout, sampler_args: list[str], logdir: Path, i: int) -> dict:
    dirs = side.fresh_dirs("cold")
    env = {
        "PYTENSOR_FLAGS": pytensor_flags(dirs["pytensor"]),
        "NUMBA_CACHE_DIR": str(dirs["numba"]),
        "FORECAST_CACHE_DIR": str(dirs["results"]),
    }
    try:
        return run_worker(side, "cold", env, sampler_args, logdir, f"cold{i}")
    finally:
        shutil.rmtree(dirs["base"], ignore_errors=True)


def run_first(side: Checkout, sampler_args: list[str], logdir: Path, i: int) -> dict:
    dirs = side.fresh_dirs("first")
    env = {
        "PYTENSOR_FLAGS": pytensor_flags(dirs["pytensor"]),
        "NUMBA_CACHE_DIR": str(dirs["numba"]),
        "FORECAST_CACHE_DIR": str(dirs["results"]),
    }
    try:
        t0 = time.time()
        subprocess.run(
            [sys.executable, "-m", "forecast.warmup"],
            cwd=side.root,
            check=True,
            env=side.env({**env, "FORECAST_CACHE_DIR": str(dirs["results"] / "warmup")}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        warmup_s = time.time() - t0
        shutil.rmtree(dirs["pytensor"], ignore_errors=True)
        dirs["pytensor"].mkdir()
        data = run_worker(side, "installed", env, sampler_args, logdir, f"first{i}")
        data["warmup_s"] = warmup_s
        return data
    finally:
        shutil.rmtree(dirs["base"], ignore_errors=True)


def warm_env(side: Checkout) -> dict[str, str]:
    assert side.warm_dirs is not None
    return {
        "PYTENSOR_FLAGS": pytensor_flags(side.warm_dirs["pytensor"]),
        "FORECAST_CACHE_DIR": str(side.warm_dirs["results"]),
    }


def prime(side: Checkout, sampler_args: list[str], logdir: Path) -> dict:
    side.warm_dirs = side.fresh_dirs("warm")
    return run_worker(
        side,
        "prime",
        warm_env(side),
        sampler_args,
        logdir,
        "prime",
        extra_args=["--draws", "10", "--tune", "10"],
    )


def run_warm(side: Checkout, sampler_args: list[str], logdir: Path, i: int) -> dict:
    return run_worker(side, "warm", warm_env(side), sampler_args, logdir, f"warm{i}")


def figure_values(side: Checkout, figure: str) -> list[float]:
    if figure == "cold":
        return [r["total_s"] for r in side.runs["cold"]]
    if figure == "first":
        return [r["total_s"] for r in side.runs["first"]]
    if figure == "warm":
        return [r["load_s"] + r["build_s"] + r["fit1_s"] for r in side.runs["warm"]]
    if figure == "warm_total":
        return [r["total_s"] for r in side.runs["warm"]]
    return [r["fit2_s"] for r in side.runs["warm"]]


def report(base: Checkout, head: Checkout, args, started: float) -> None:
    print()
    print("=" * 100)
    print(
        f"bench_against: base {args.base} ({base.commit}) vs head "
        f"{args.head or 'working tree'} ({head.commit}"
        f"{', with uncommitted changes' if head.dirty else ''}); "
        f"{args.runs} runs a figure, alternating base, head; {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print("-" * 100)
    print("split of the first fit, medians (interpreter + imports / load / build / first fit):")
    for key, label in (("cold", "cold"), ("first", "first"), ("warm", "warm")):
        for side in (base, head):
            runs = side.runs[key]
            parts = " / ".join(f"{statistics.median(r[k] for r in runs):.2f}" for k in SPLIT)
            print(f"  {label:6s} {side.label:4s} {parts} s")
    warmups = ", ".join(
        f"{side.label} {statistics.median(r['warmup_s'] for r in side.runs['first']):.1f} s"
        for side in (base, head)
    )
    print(f"  python -m forecast.warmup before each first fit (median): {warmups}")
    print("=" * 100)
    w = max(len(label) for _, label in FIGURES) + 2
    print(f"{'figure':{w}s}{'side':6s}{'runs (s)':34s}{'median':>9s}")
    ratios = []
    for figure, label in FIGURES:
        medians = {}
        for side in (base, head):
            values = figure_values(side, figure)
            medians[side.label] = statistics.median(values)
            runs = ", ".join(f"{v:.2f}" for v in values)
            name = label if side is base else ""
            print(f"{name:{w}s}{side.label:6s}{runs:34s}{medians[side.label]:9.2f}")
        ratio = medians["head"] / medians["base"]
        ratios.append((label, medians["base"], medians["head"], ratio))
        print(f"{'':{w}s}{'ratio head / base':40s}{ratio:9.2f}")
    print("=" * 100)
    print(f"{'figure':{w}s}{'base median':>12s}{'head median':>12s}{'head / base':>12s}")
    for label, b, h, r in ratios:
        print(f"{label:{w}s}{b:11.2f}s{h:11.2f}s{r:12.2f}")
    print("=" * 100)
    print(f"bench_against wall time {time.time() - started:.0f} s")


def git(*argv: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *argv], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="git ref of the base checkout")
    p.add_argument(
        "--head", default=None, help="git ref of the head checkout (default: this working tree)"
    )
    p.add_argument("--runs", type=int, default=3, help="runs of each figure and side")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seed", type=int, default=20240930)
    p.add_argument("--sampler", choices=["nutpie", "pymc"], default="nutpie")
    args = p.parse_args(argv)
    args.runs = max(1, args.runs)
    return args


def _interrupt(signum, frame):  # SIGTERM as Ctrl-C: the finally blocks clean up
    raise KeyboardInterrupt


def resolve(ref: str) -> str:
    """The commit of ``ref``, after checking that its bench_fit has the worker protocol."""
    try:
        commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"bench_against: {ref!r} is not a commit") from None
    try:
        text = git("show", f"{commit}:{BENCH}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"bench_against: {ref} has no {BENCH}") from None
    check_protocol(text, f"{ref}:{BENCH}")
    return commit


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    refs = {"base": resolve(args.base)}
    if args.head is not None:
        refs["head"] = resolve(args.head)
    else:
        check_protocol((ROOT / BENCH).read_text(), str(ROOT / BENCH))
    sampler_args = [
        *("--draws", str(args.draws), "--tune", str(args.tune)),
        *("--chains", str(args.chains), "--cores", str(args.cores)),
        *("--seed", str(args.seed), "--sampler", args.sampler),
    ]

    signal.signal(signal.SIGTERM, _interrupt)
    scratch = Path(tempfile.mkdtemp(prefix="bench_against_"))
    logdir = scratch / "logs"
    logdir.mkdir()
    trees: list[Path] = []
    failed = True
    try:
        sides = {}
        for label in ("base", "head"):
            if label in refs:
                tree = scratch / f"{label}_checkout"
                git("worktree", "add", "--detach", str(tree), refs[label])
                trees.append(tree)
                side = Checkout(label, tree, scratch)
                side.commit = refs[label][:7]
            else:
                side = Checkout(label, ROOT, scratch)
                side.commit = git("rev-parse", "--short", "HEAD")
                side.dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
            sides[label] = side
        base, head = sides["base"], sides["head"]
        for side in (base, head):
            where = subprocess.run(
                [sys.executable, "-c", "import forecast; print(forecast.__file__)"],
                env=side.env({}),
                cwd=side.root,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            print(f"[against] {side.label}: {side.root} (imports {where})")
            if not Path(where).resolve().is_relative_to(side.root.resolve()):
                raise SystemExit(f"bench_against: the {side.label} checkout imports {where}")
        print(f"[against] worker logs in {logdir}; sampler {' '.join(sampler_args)}")

        for i in range(args.runs):
            for side in (base, head):
                side.runs["cold"].append(run_cold(side, sampler_args, logdir, i))
        for i in range(args.runs):
            for side in (base, head):
                side.runs["first"].append(run_first(side, sampler_args, logdir, i))
        for side in (base, head):
            prime(side, sampler_args, logdir)
        for i in range(args.runs):
            for side in (base, head):
                side.runs["warm"].append(run_warm(side, sampler_args, logdir, i))
        report(base, head, args, started)
        failed = False
    except KeyboardInterrupt:
        print("\n[against] interrupted: removing the temporary checkouts and scratch folders")
        return 130
    finally:
        for tree in trees:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                cwd=ROOT,
                capture_output=True,
            )
        if trees:
            subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)
        if failed:  # keep the logs of a failed run, drop the caches
            for child in scratch.iterdir():
                if child != logdir:
                    shutil.rmtree(child, ignore_errors=True)
            print(f"[against] logs kept in {logdir}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
