"""Compile the numba kernels once, at install time (``python -m forecast.warmup``).

The likelihood, density, sampler callbacks and smoothing passes are numba code cached on disk
(``cache=True``): the first process on a machine compiles them (about 20 s on two cores), every
later one loads them. ``make setup`` runs this module after installing, so that the first
``forecast fit`` a user runs does not pay for the compilation. It fits a small random scenario
with a few draws through every compiled path; the scenario's numbers do not matter, the
argument types do, and those are the same for every scenario.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Run every compiled path once; return the seconds it took."""
    from forecast.engine.kernels import loglik_and_grad
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter
    from forecast.synthetic import random_scenario

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        scenario = random_scenario(np.random.default_rng(0), folder=Path(folder), n_nodes=3,
                                   n_months=4)
        fitter = ScenarioFitter(scenario, sampler=SamplerConfig(draws=10, tune=10, chains=1,
                                                                cores=1))
        fitter.fit(seed=0)
        density = fitter.density
        density.logp_dlogp(np.zeros(density.ndim))
        loglik_and_grad(density.lowered, fitter.priors.means(), density.pairs,
                        density.initial)
    return time.perf_counter() - started


def main() -> int:
    """Entry point of ``python -m forecast.warmup``."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    for name in ("pymc", "pytensor", "numba", "preliz"):
        logging.getLogger(name).setLevel(logging.ERROR)
    seconds = warm_up()
    import numba

    logger.info("forecast: numba kernels compiled and cached in %.1f s (%s)", seconds,
                numba.config.CACHE_DIR or "next to the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
