"""Compile the numba kernels once, at install time (``python -m forecast.warmup``).

The likelihood, density, sampler callbacks and smoothing passes are numba code cached on disk
(``cache=True``): the first process on a machine compiles them (6-9 s on two cores), every
later one loads them. ``make setup`` runs this module after installing, so that the first
``forecast fit`` a user runs does not pay for the compilation. It fits a small random scenario
with a few draws through every compiled path; the scenario's numbers do not matter, the
argument types do, and those are the same for every scenario.

``python -m forecast.warmup --smoothing`` compiles only the smoothing passes: a fit on a machine
whose cache lacks them runs it in a second process (:mod:`forecast.engine.compile_ahead`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Run every compiled path once; return the seconds it took."""
    from forecast.engine.kernels import loglik_and_grad
    from forecast.engine.synthetic import random_scenario
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        scenario = random_scenario(
            np.random.default_rng(0), folder=Path(folder), n_nodes=3, n_months=4
        )
        fitter = ScenarioFitter(
            scenario, sampler=SamplerConfig(draws=10, tune=10, chains=1, cores=1)
        )
        fitter.fit(seed=0)
        density = fitter.density
        density.logp_dlogp(np.zeros(density.ndim))
        loglik_and_grad(density.lowered, fitter.priors.means(), density.pairs, density.initial)
    return time.perf_counter() - started


def warm_up_smoothing() -> float:
    """Run the smoothing passes once (no PyMC, no sampler); return the seconds it took."""
    from forecast.engine import ExactEngine
    from forecast.engine.synthetic import random_scenario

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        scenario = random_scenario(
            np.random.default_rng(0), folder=Path(folder), n_nodes=3, n_months=4
        )
        engine = ExactEngine(scenario)
        uniform = [
            np.full((2, len(r.destinations) + 1), 1.0 / (len(r.destinations) + 1))
            for r in scenario.rules
        ]
        engine.run_draws(uniform, engine.evidence())
    return time.perf_counter() - started


def main(argv: list[str] | None = None, *, exit_fast: bool = False) -> int:
    """Entry point of ``python -m forecast.warmup [--smoothing]``.

    With ``exit_fast`` (set when run as a script), ``--smoothing`` ends the process as soon as
    the passes are cached: it is the helper of a fit (:mod:`forecast.engine.compile_ahead`)
    that waits for it to end, and the interpreter's teardown (freeing numba's compiled code)
    would add 0.3-0.4 s to that wait. The helper imports nothing but numpy, numba and this
    package, and numba has written and closed its cache files by then.
    """
    parser = argparse.ArgumentParser(
        prog="python -m forecast.warmup", description="Compile and cache the numba kernels."
    )
    parser.add_argument(
        "--smoothing",
        action="store_true",
        help="only the smoothing passes (what a fit compiles in a second process)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    for name in ("pymc", "pytensor", "numba", "preliz"):
        logging.getLogger(name).setLevel(logging.ERROR)
    seconds = warm_up_smoothing() if args.smoothing else warm_up()
    from forecast.engine.compile_cache import kernel_cache_folder

    logger.info(
        "forecast: numba kernels compiled and cached in %.1f s (%s)",
        seconds,
        kernel_cache_folder(),
    )
    if args.smoothing and exit_fast:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(exit_fast=True))
