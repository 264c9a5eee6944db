"""Measuring sources (an emission model on a grid): hand computation, brute force, priors."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.elicitation import elicit
from forecast.engine import ExactEngine
from forecast.scenario.sources import grid_probabilities, grid_states
from tests.engine.brute_force import brute_force
from tests.paths import SCENARIOS

PATH = SCENARIOS / "measured_chain.yaml"
EDGES = [100, 300, 600, 1000]


@pytest.fixture(scope="module")
def scenario():
    return forecast.load_scenario(PATH)


def _cell(value: float) -> int:
    return sum(1 for e in EDGES if value >= e)


def _lognormal_cells(median: float, lo: float, hi: float, bias=None) -> np.ndarray:
    z = NormalDist().inv_cdf(0.95)
    mu, sigma = math.log(median), (math.log(hi) - math.log(lo)) / (2 * z)
    if bias is not None:
        mu += math.log(bias[0])
        sigma = math.sqrt(sigma**2 + ((math.log(bias[2]) - math.log(bias[1])) / (2 * z)) ** 2)
    cdf = [NormalDist(mu, sigma).cdf(math.log(e)) for e in EDGES]
    return np.diff([0.0, *cdf, 1.0])


def test_a_reading_is_counted_in_its_grid_cell(scenario) -> None:
    maps = scenario.node("maps")
    assert maps.states == tuple(grid_states(scenario.spec.sources["maps"].measures))
    by_origin = {e.origin: e for e in scenario.evidence}
    assert by_origin["measured_area.csv:2"].node == "maps"
    assert by_origin["measured_area.csv:2"].states == (maps.states[_cell(1100)],)
    assert by_origin["measured_area.csv:4"].states == (maps.states[_cell(420)],)
    assert by_origin["measured_area.csv:5"].node == "claims"
    assert by_origin["measured_area.csv:5"].states == (maps.states[_cell(650)],)


def test_the_prior_mean_is_the_stated_log_normal(scenario) -> None:
    measure = scenario.spec.sources["claims"].measures
    expected = _lognormal_cells(200, 60, 450, bias=(1.5, 1.1, 2.2))
    assert_allclose(grid_probabilities(measure, "small"), expected, rtol=0, atol=1e-12)
    priors = elicit(scenario)
    rule = next(r for r in scenario.rules if r.name == "claims_when_small")
    alpha = np.asarray(priors[rule.name].alpha)
    # the outcome vector runs pivot (the first cell) then the others, in the node's order
    assert_allclose(alpha, np.maximum(0.25, 20.0 * expected), rtol=0, atol=1e-12)


def _emission(outcome: dict[str, np.ndarray], source: str, state: str) -> np.ndarray:
    return np.asarray(outcome[f"{source}_when_{state}"])  # cells in order, pivot first


def _by_hand(scenario, outcome: dict[str, np.ndarray]):
    """Enumerate the 2^3 paths of the hidden holding: loglik, marginals, P(large in March)."""
    stay_large, to_small = outcome["held:large"]
    stay_small, to_large = outcome["held:small"]
    move = np.array([[stay_large, to_small], [to_large, stay_small]])
    initial = np.array([0.8, 0.2]) @ move  # month 0 is one transition from the start
    states = ("large", "small")
    reads = {
        0: [("maps", _cell(1100)), ("claims", _cell(1600))],
        1: [("maps", _cell(420))],
        2: [("claims", _cell(650))],
    }
    total, marginals = 0.0, np.zeros((3, 2))
    for path in itertools.product(range(2), repeat=3):
        p = initial[path[0]] * move[path[0], path[1]] * move[path[1], path[2]]
        for t, s in enumerate(path):
            for source, cell in reads[t]:
                p *= _emission(outcome, source, states[s])[cell]
        total += p
        for t, s in enumerate(path):
            marginals[t, s] += p
    return math.log(total), marginals / total


@pytest.mark.parametrize("point", range(3))
def test_an_emission_model_equals_hand_computation(scenario, point) -> None:
    rng = np.random.default_rng(11 + point)
    priors = elicit(scenario)
    params = (
        priors.means()
        if point == 0
        else [rng.dirichlet(np.asarray(priors[r.name].alpha)) for r in scenario.rules]
    )
    outcome = dict(zip([r.name for r in scenario.rules], params, strict=True))
    loglik, marginals = _by_hand(scenario, outcome)
    engine = ExactEngine(scenario)
    result = engine.run(params, engine.evidence())
    assert_allclose(result.loglik, loglik, rtol=0, atol=1e-12)
    assert_allclose(result.marginals["held"], marginals, rtol=0, atol=1e-12)
    assert_allclose(result.questions["large_mar"], marginals[2, 0], rtol=0, atol=1e-12)
    compiled = engine.run_draws([p[None] for p in params], engine.evidence())
    assert_allclose(compiled.loglik[0], loglik, rtol=0, atol=1e-12)
    assert_allclose(compiled.marginals["held"][0], marginals, rtol=0, atol=1e-12)


def test_the_engine_equals_brute_force_with_measures(scenario) -> None:
    rng = np.random.default_rng(5)
    priors = elicit(scenario)
    params = [rng.dirichlet(np.asarray(priors[r.name].alpha)) for r in scenario.rules]
    brute = brute_force(scenario, params)
    engine = ExactEngine(scenario)
    result = engine.run_draws([p[None] for p in params], engine.evidence())
    for name, marginal in brute.marginals.items():
        assert_allclose(result.marginals[name][0], marginal, rtol=0, atol=1e-12, err_msg=name)


def test_a_falling_reading_moves_the_state(scenario) -> None:
    engine = ExactEngine(scenario)
    priors = elicit(scenario)
    result = engine.run(priors.means(), engine.evidence())
    large = result.marginals["held"][:, 0]
    assert large[0] > 0.9  # 1,100 km2 on the maps, 1,600 claimed
    assert large[1] < large[0] - 0.3  # 420 km2 on the maps: likely shrunk


@pytest.mark.parametrize("cut", ["2024-01-31", "2024-02-29"])
def test_evidence_of_every_kind_known_after_the_cut_changes_nothing(scenario, cut) -> None:
    """Readings, soft evidence and hard truths known after the cut: not seen as of it."""
    import dataclasses
    import datetime as dt

    from forecast.engine.exact import evidence_matrices
    from forecast.scenario.validated import EvidenceItem

    as_of = dt.date.fromisoformat(cut)
    late = as_of + dt.timedelta(days=1)
    cells = scenario.node("maps").states
    later = [
        EvidenceItem("maps", dt.date(2024, 1, 31), late, (cells[0],), "late", "a"),
        EvidenceItem("claims", dt.date(2024, 2, 29), late, (cells[-1],), "late", "b"),
        EvidenceItem(
            "held",
            dt.date(2024, 1, 31),
            late,
            (),
            "late",
            "c",
            likelihood=(("large", 0.01), ("small", 1.0)),
        ),
        EvidenceItem("held", dt.date(2024, 3, 31), late, ("small",), "late", "d"),
    ]
    widened = dataclasses.replace(scenario, evidence=(*scenario.evidence, *later))
    truncated = tuple(e for e in scenario.evidence if e.known_on <= as_of)
    engine = ExactEngine(widened)
    for got, want in zip(
        engine.evidence(as_of), evidence_matrices(scenario, truncated), strict=True
    ):
        assert np.array_equal(got, want)
    params = elicit(scenario).means()
    brute = brute_force(scenario, params, evidence=truncated)
    result = engine.run_draws([p[None] for p in params], engine.evidence(as_of))
    assert_allclose(result.loglik[0], brute.loglik, rtol=0, atol=1e-12)
    assert_allclose(result.questions["large_mar"][0], brute.questions["large_mar"], atol=1e-12)
