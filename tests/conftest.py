"""Shared fixtures for the analysis and plot tests: the tiny chain, fitted fast, and Kursk.

The tiny chain of ``tests/scenarios/tiny_chain.yaml`` gets three outcomes (one per kind of
curve: in_state, reached and absorbing, reached and leavable) and a report date, written to a
temporary copy so that the shared fixture file stays as it is. Two forecasters of the tiny
chain (``two_views``) and their forecasts (``forecaster_draws``) serve the pooling analyses
and their figures.
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


A_RULE = (
    "- {from: no, to: {yes: {best: 0.3, interval: [0.1, 0.6]}}, within_months: 2, rationale: r}"
)
"""Rule ``a:no`` of the tiny chain as written, for variants that change it."""


def tiny_variant(folder, name, old="", new=""):
    """A copy of the tiny chain (with outcomes) in ``folder``, one line replaced."""
    text = TINY.read_text() + OUTCOMES
    if old:
        assert old in text
        text = text.replace(old, new)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return forecast.load_scenario(path)


@pytest.fixture(scope="session")
def two_views(tmp_path_factory):
    """Two forecasters of the tiny chain who disagree on a:no: 0.3 against 0.5."""
    folder = tmp_path_factory.mktemp("views")
    low = tiny_variant(folder, "low")
    high = tiny_variant(
        folder,
        "high",
        A_RULE,
        A_RULE.replace("best: 0.3, interval: [0.1, 0.6]", "best: 0.5, interval: [0.3, 0.7]"),
    )
    return {"low": low, "high": high}


@pytest.fixture(scope="session")
def forecaster_draws(tiny_fitter, tiny):
    """Two forecasters with the tiny chain's own priors: prior, as of 2024-01-31, all evidence."""
    from forecast.analysis.pooling import forecaster_forecasts
    from forecast.elicitation import elicit

    priors = elicit(tiny)
    return forecaster_forecasts(
        tiny_fitter, {"a": priors, "b": priors}, {"early": AS_OF, "all": None}, seed=5, size=3000
    )


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")
