"""Judgements to priors (forecast.elicitation), checked against scipy by hand.

With its mean fixed at ``best``, a Beta(best * k, (1 - best) * k) has one free parameter,
the concentration k; the interval mass is 0 as k -> 0 (mass at the ends of [0, 1]) and 1 as
k -> infinity, so the stated mass fixes k. The tests find that k with scipy's ``brentq`` and
compare it with what PreliZ's maximum-entropy fit returns.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import optimize, stats

import forecast
from forecast.elicitation import Priors, RulePrior, elicit, maxent_beta
from tests.paths import TESTS, TINY

KURSK = TESTS.parent / "scenarios" / "kursk_2024.yaml"

# Mass in the interval: PreliZ's maximum-entropy fit is an SLSQP solve whose equality
# constraint is the interval mass; SLSQP's default tolerance (ftol 1e-6) leaves residuals of
# order 1e-6, so 1e-4 is ample slack yet 100x tighter than the 1% relative error at which PreliZ
# itself would warn (the package silences that warning, so nothing else would catch a miss).
MASS_ATOL = 1e-4
# Concentration: the mass changes by O(0.1) per unit of log k for these intervals, so a mass
# error of 1e-4 moves k by about 1e-3 relative.
KAPPA_RTOL = 1e-3
ESCALATION = "escalation:none[occupation=substantial|foothold,pressure=high]"
TALKS = "talks:none[mediation=inactive,pressure=low,us_push=inactive]"

FIXTURE = """\
id: elicitation_fixture
title: Judgements, plain parameters and reference classes
source: {citation: "Test fixture"}
author: tests
priors_set_on: 2024-01-15
start: 2024-01
horizon: 2024-03
nodes:
  a:
    description: a node with four states
    states: [w, x, y, z]
    initial: w
    transitions:
      - from: w
        within_months: 6
        credibility: 0.9
        to:
          x: {best: 0.1, interval: [0.02, 0.3]}
          y: {best: 0.2, interval: [0.05, 0.4], credibility: 0.6}
          z: {best: 0.3, interval: [0.1, 0.6]}
        rationale: r
        reference_class: {n: 10, counts: {x: 1, z: 3}, description: d, source: s}
      - from: x
        dirichlet: {stay: 4, w: 2, y: 1}
        rationale: r
        reference_class: {n: 5, counts: {w: 2}, description: d, source: s}
      - {from: [y, z], stays: true, rationale: r}
  c:
    description: a binary node
    initial: no
    transitions:
      - {from: no, to: {yes: {beta: [1.5, 4]}}, rationale: r}
      - {from: yes, to: {no: {best: 0.2, interval: [0.05, 0.5]}}, credibility: 0.7, rationale: r}
questions:
  - {id: q, text: a in z at the end, node: a, state: z, date: 2024-03-31}
"""


def _mass(a: float, b: float, lo: float, hi: float) -> float:
    dist = stats.beta(a, b)
    return float(dist.cdf(hi) - dist.cdf(lo))


def _concentration(best: float, lo: float, hi: float, mass: float) -> float:
    """The concentration k at which Beta(best k, (1 - best) k) has ``mass`` in [lo, hi]."""

    def gap(log_k: float) -> float:
        k = np.exp(log_k)
        return _mass(best * k, (1 - best) * k, lo, hi) - mass

    grid = np.linspace(np.log(1e-2), np.log(1e7), 400)
    signs = np.sign([gap(x) for x in grid])
    first = int(np.flatnonzero(signs > 0)[0])  # smallest k where the mass is reached
    assert first > 0, "the mass is already reached at the smallest concentration tried"
    return float(np.exp(optimize.brentq(gap, grid[first - 1], grid[first], xtol=1e-12)))


@pytest.fixture(scope="module")
def fixture_priors(tmp_path_factory) -> tuple[forecast.Scenario, Priors]:
    path = tmp_path_factory.mktemp("elicitation") / "fixture.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    scenario = forecast.load_scenario(path)
    return scenario, elicit(scenario)


@pytest.fixture(scope="module")
def kursk() -> tuple[forecast.Scenario, Priors]:
    scenario = forecast.load_scenario(KURSK)
    return scenario, elicit(scenario)


JUDGEMENTS = [  # (best, lo, hi, mass): Kursk and tiny_chain judgements and harder ones
    (0.3, 0.1, 0.6, 0.8),
    (0.35, 0.15, 0.6, 0.8),
    (0.1, 0.03, 0.25, 0.8),
    (0.03, 0.005, 0.1, 0.9),
    (0.005, 0.0005, 0.02, 0.9),
    (0.6, 0.3, 0.85, 0.8),
    (0.5, 0.4, 0.6, 0.95),
    (0.9, 0.7, 0.97, 0.5),
    (0.2, 0.05, 0.5, 0.7),
]


@pytest.mark.parametrize(("best", "lo", "hi", "mass"), JUDGEMENTS)
def test_maxent_beta_has_the_stated_mean_and_mass(best, lo, hi, mass) -> None:
    a, b = maxent_beta(best, lo, hi, mass)
    assert a > 0 and b > 0
    assert abs(a / (a + b) - best) < 1e-6
    assert abs(_mass(a, b, lo, hi) - mass) < MASS_ATOL
    assert_allclose(a + b, _concentration(best, lo, hi, mass), rtol=KAPPA_RTOL)


def test_wider_interval_or_less_mass_gives_a_flatter_beta() -> None:
    a1, b1 = maxent_beta(0.3, 0.1, 0.6, 0.8)
    a2, b2 = maxent_beta(0.3, 0.05, 0.8, 0.8)
    a3, b3 = maxent_beta(0.3, 0.1, 0.6, 0.5)
    assert a2 + b2 < a1 + b1
    assert a3 + b3 < a1 + b1


def test_single_judgement_becomes_a_beta_on_the_move(fixture_priors) -> None:
    """c: yes -> no within 1 month, best 0.2 in [0.05, 0.5] at the rule's credibility 0.7."""
    _, priors = fixture_priors
    prior = priors["c:yes"]
    assert prior.is_beta
    assert prior.labels == ("stay", "no")
    a, b = prior.alpha[1], prior.alpha[0]  # Beta(alpha[1], alpha[0]) on the move
    assert abs(a / (a + b) - 0.2) < 1e-6
    assert abs(_mass(a, b, 0.05, 0.5) - 0.7) < MASS_ATOL
    (stated,) = prior.stated
    assert (stated.destination, stated.best, stated.interval, stated.credibility) == (
        "no",
        0.2,
        (0.05, 0.5),
        0.7,
    )
    assert_allclose(stated.fitted_mass, _mass(a, b, 0.05, 0.5), rtol=1e-12)


def test_plain_beta_parameters_pass_through(fixture_priors) -> None:
    """``beta: [1.5, 4]`` is Beta(1.5, 4) on the move: outcome vector alpha [4, 1.5]."""
    _, priors = fixture_priors
    prior = priors["c:no"]
    assert_array_equal(prior.alpha, [4.0, 1.5])
    assert_allclose(prior.mean, [4 / 5.5, 1.5 / 5.5], rtol=1e-15)
    (stated,) = prior.stated
    assert stated.best is None and stated.interval is None
    assert stated.credibility is None and stated.fitted_mass is None
    assert_allclose(stated.fitted_mean, 1.5 / 5.5, rtol=1e-15)


def test_tiny_chain_plain_parameters_pass_through() -> None:
    scenario = forecast.load_scenario(TINY)
    priors = elicit(scenario)
    assert [r.rule for r in priors.rules] == [r.name for r in scenario.rules]
    assert_array_equal(priors["a:yes"].alpha, [5.0, 2.0])  # beta: [2, 5] on yes -> no
    mid = next(r for r in scenario.rules if r.node == "b" and r.from_states == ("mid",))
    assert priors[mid.name].labels == ("stay", "low", "high")
    assert_array_equal(priors[mid.name].alpha, [3.0, 1.0, 2.0])  # dirichlet {stay 3, low 1, high 2}
    assert priors[mid.name].source == "dirichlet"


def test_several_destinations_pool_to_a_dirichlet(fixture_priors) -> None:
    """w -> x 0.1, y 0.2, z 0.3: mean [0.4, 0.1, 0.2, 0.3]; the concentration is the geometric
    mean of each destination's own concentration (credibility 0.9 from the rule, 0.6 for y)."""
    _, priors = fixture_priors
    prior = priors["a:w"]
    assert not prior.is_beta
    assert prior.labels == ("stay", "x", "y", "z")
    assert_allclose(prior.mean, [0.4, 0.1, 0.2, 0.3], atol=1e-12)
    kappas = [
        _concentration(0.1, 0.02, 0.3, 0.9),
        _concentration(0.2, 0.05, 0.4, 0.6),
        _concentration(0.3, 0.1, 0.6, 0.9),
    ]
    assert_allclose(prior.alpha.sum(), np.exp(np.mean(np.log(kappas))), rtol=KAPPA_RTOL)
    assert [s.credibility for s in prior.stated] == [0.9, 0.6, 0.9]
    total = prior.alpha.sum()
    for k, (s, (lo, hi)) in enumerate(
        zip(prior.stated, [(0.02, 0.3), (0.05, 0.4), (0.1, 0.6)], strict=True), start=1
    ):
        assert s.interval == (lo, hi)
        assert_allclose(s.fitted_mean, s.best, rtol=1e-12)
        # a Dirichlet's marginal is Beta(alpha_k, total - alpha_k)
        assert_allclose(
            s.fitted_mass, _mass(prior.alpha[k], total - prior.alpha[k], lo, hi), rtol=1e-12
        )


@pytest.mark.parametrize(
    ("node", "start", "bests"),
    [
        ("occupation", "substantial", {"foothold": 0.35, "none": 0.1}),
        ("occupation", "foothold", {"none": 0.45, "substantial": 0.1}),
    ],
)
def test_kursk_multi_destination_means(kursk, node, start, bests) -> None:
    scenario, priors = kursk
    rule = next(r for r in scenario.rules if r.node == node and r.from_states == (start,))
    prior = priors[rule.name]
    assert prior.labels == ("stay", *bests)
    assert_allclose(prior.mean, [1 - sum(bests.values()), *bests.values()], atol=1e-12)
    assert prior.alpha.shape == (3,) and np.all(prior.alpha > 0)


def test_every_kursk_rule_gets_its_stated_mean(kursk) -> None:
    scenario, priors = kursk
    assert len(priors.rules) == len(scenario.rules) == 34
    for rule, prior in zip(scenario.rules, priors.rules, strict=True):
        assert prior.rule == rule.name
        for k, (dest, judgement) in enumerate(rule.judgements.items(), start=1):
            assert prior.labels[k] == dest
            assert abs(prior.mean[k] - judgement.best) < 1e-6


def test_reference_counts_are_stored(fixture_priors, kursk) -> None:
    _, priors = fixture_priors
    # n 10, counts x 1, z 3 -> stay 6; n 5, counts w 2 -> stay 3
    assert_array_equal(priors["a:w"].counts, [6, 1, 0, 3])
    assert_array_equal(priors["a:x"].counts, [3, 2, 0])
    assert priors["c:no"].counts is None and priors["c:yes"].counts is None
    scenario, kursk_priors = kursk
    with_counts = {
        r.name: kursk_priors[r.name].counts
        for r in scenario.rules
        if kursk_priors[r.name].counts is not None
    }
    # escalation: 0 of 16 wars saw nuclear use; talks: 0 of 2 windows saw direct talks
    assert sorted(with_counts) == [ESCALATION, TALKS]
    assert_array_equal(with_counts[ESCALATION], [16, 0])
    assert_array_equal(with_counts[TALKS], [2, 0])


def test_reference_loglik_is_the_multinomial_logpmf(fixture_priors) -> None:
    _, priors = fixture_priors
    rng = np.random.default_rng(0)
    for name, n, counts in (("a:w", 10, [6, 1, 0, 3]), ("a:x", 5, [3, 2, 0])):
        q = rng.dirichlet(np.ones(len(counts)), size=5)
        expected = [stats.multinomial(n, row).logpmf(counts) for row in q]
        assert_allclose(priors[name].reference_loglik(q), expected, rtol=1e-12)
        assert_allclose(priors[name].reference_loglik(q[0]), expected[0], rtol=1e-12)
    # a rule without reference class adds nothing, with the batch shape
    assert_array_equal(priors["c:no"].reference_loglik(np.full((4, 2), 0.5)), np.zeros(4))


def test_kursk_reference_loglik_is_the_binomial_logpmf(kursk) -> None:
    _, priors = kursk
    q_move = np.array([1e-4, 0.01, 0.03, 0.2])
    q = np.stack([1 - q_move, q_move], axis=-1)
    assert_allclose(
        priors[ESCALATION].reference_loglik(q), stats.binom(16, q_move).logpmf(0), rtol=1e-12
    )
    assert_allclose(priors[TALKS].reference_loglik(q), 2 * np.log1p(-q_move), rtol=1e-12)


def test_priors_reference_loglik_sums_the_rules(fixture_priors) -> None:
    _, priors = fixture_priors
    params = priors.sample(np.random.default_rng(1), 3)
    assert [p.shape for p in params] == [(3, 4), (3, 3), (3, 2), (3, 2)]
    expected = np.array(
        [
            stats.multinomial(10, params[0][d]).logpmf([6, 1, 0, 3])
            + stats.multinomial(5, params[1][d]).logpmf([3, 2, 0])
            for d in range(3)
        ]
    )
    assert_allclose(priors.reference_loglik(params), expected, rtol=1e-12)


def test_replace_changes_one_rule_only(fixture_priors) -> None:
    _, priors = fixture_priors
    before = [r.alpha.copy() for r in priors.rules]
    edited = priors.replace("a:x", [1.0, 1.0, 2.0])
    assert [r.rule for r in edited.rules] == [r.rule for r in priors.rules]
    new = edited["a:x"]
    assert_array_equal(new.alpha, [1.0, 1.0, 2.0])
    assert new.labels == ("stay", "w", "y")
    assert new.source == "edited" and new.stated == ()
    assert_array_equal(new.counts, [3, 2, 0])  # the reference class stays
    for old, now in zip(priors.rules, edited.rules, strict=True):
        if old.rule != "a:x":
            assert now is old
    # the original is untouched
    for alpha, r in zip(before, priors.rules, strict=True):
        assert_array_equal(r.alpha, alpha)
    assert priors["a:x"].source == "dirichlet"


@pytest.mark.parametrize("alpha", [[1.0, 1.0], [1.0, 0.0, 1.0], [1.0, -2.0, 1.0]])
def test_replace_rejects_wrong_parameters(fixture_priors, alpha) -> None:
    _, priors = fixture_priors
    with pytest.raises(ValueError, match="a:x: need 3 positive parameters"):
        priors.replace("a:x", alpha)


def test_unknown_rule_is_a_key_error(fixture_priors) -> None:
    """A misspelt rule must not silently leave the priors unchanged."""
    _, priors = fixture_priors
    with pytest.raises(KeyError, match="a:q"):
        priors.replace("a:q", [1.0, 1.0])
    with pytest.raises(KeyError, match="a:q"):
        priors["a:q"]


def test_rule_prior_sample_and_mean() -> None:
    prior = RulePrior("r", ("stay", "x", "y"), np.array([6.0, 3.0, 1.0]))
    assert_allclose(prior.mean, [0.6, 0.3, 0.1], rtol=1e-15)
    draws = prior.sample(np.random.default_rng(2), 20_000)
    assert draws.shape == (20_000, 3)
    assert_allclose(draws.sum(axis=1), 1.0, rtol=1e-12)
    # Dirichlet(6, 3, 1): var_k = m_k (1 - m_k) / 11; 5 standard errors
    se = np.sqrt(np.array([0.6 * 0.4, 0.3 * 0.7, 0.1 * 0.9]) / 11 / 20_000)
    assert np.all(np.abs(draws.mean(axis=0) - [0.6, 0.3, 0.1]) < 5 * se)
