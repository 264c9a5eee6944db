"""Shared fixtures for the analysis and plot tests: the tiny chain, fitted fast, and Kursk.

The tiny chain of ``tests/scenarios/tiny_chain.yaml`` gets three outcomes (one per kind of
curve: in_state, reached and absorbing, reached and leavable) and a report date, written to a
temporary copy so that the shared fixture file stays as it is.
"""

from __future__ import annotations

import datetime as dt
import logging

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import forecast
from tests.paths import CLAIM_MAP, KURSK, TINY

AS_OF = dt.date(2024, 1, 31)

OUTCOMES = """
outcomes:
  - {id: b_high, label: b reaches high, node: b, state: high, kind: reached}
  - {id: b_mid, label: b has been mid, node: b, state: mid, kind: reached}
  - {id: a_yes, label: a is yes, node: a, state: yes, kind: in_state}
report_dates: [2024-02-29]
"""


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The tiny chain with outcomes."""
    path = tmp_path_factory.mktemp("tiny") / "tiny_outcomes.yaml"
    path.write_text(TINY.read_text() + OUTCOMES)
    return forecast.load_scenario(path)


@pytest.fixture(scope="session")
def tiny_fitter(tiny):
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

    for name in ("pymc", "pytensor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return ScenarioFitter(tiny, sampler=SamplerConfig(draws=100, tune=100, chains=2, cores=1))


@pytest.fixture(scope="session")
def tiny_fits(tiny_fitter):
    """Label -> fit: as of 2024-01-31 (no evidence yet) and with all evidence."""
    early = tiny_fitter.fit(as_of=AS_OF, seed=3)
    latest = tiny_fitter.fit(seed=3)
    return {"as of 2024-01-31": early, "all evidence": latest}


@pytest.fixture(scope="session")
def tiny_prior(tiny_fitter):
    return tiny_fitter.prior_draws(seed=5, size=300)


@pytest.fixture(scope="session")
def kursk():
    return forecast.load_scenario(KURSK)


@pytest.fixture(scope="session")
def claim_map():
    from forecast.analysis.summaries import load_claim_map

    return load_claim_map(CLAIM_MAP)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
