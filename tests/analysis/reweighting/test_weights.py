"""The weighting helpers every re-weighting analysis shares (analysis.reweighting.weights)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from forecast.analysis.reweighting.weights import (
    effective_sample_size,
    normalised_weights,
    psis_weights,
    relative_ess,
    weighted_mean_se,
    weighted_quantile,
)

# ------------------------------------------------------------------------ weighted quantiles


@pytest.mark.parametrize(
    ("values", "weights", "probs", "expected"),
    [
        ([0.0, 1.0], [3.0, 1.0], [0.5], [0.25]),  # cdf mid-points 0.375 and 0.875
        ([0.0, 1.0], [1.0, 1.0], [0.25, 0.5, 0.75], [0.0, 0.5, 1.0]),
        ([5.0, 1.0, 3.0], [1.0, 1.0, 2.0], [0.5], [3.0]),  # sorted 1, 3, 5: mid-points .125 .5 .875
        ([1.0, 2.0, 9.0], [1.0, 0.0, 1.0], [0.5], [5.0]),  # a zero weight drops the draw
        ([1.0, 2.0, 3.0], None, 0.5, 2.0),
        ([0.0, 1.0], [0.5, 0.5], 0.25, 0.0),
        ([0.0, 1.0, 5.0], [0.5, 0.5, 0.0], 0.9, 1.0),
        ([0.0, 1.0], [1.0, 3.0], 0.5, (0.5 - 0.125) / (0.625 - 0.125)),
    ],
)
def test_weighted_quantile_by_hand(values, weights, probs, expected) -> None:
    w = None if weights is None else np.array(weights)
    assert_allclose(weighted_quantile(np.array(values), w, probs), expected, rtol=1e-12)


def test_weighted_quantile_with_equal_weights_is_hazen() -> None:
    values = np.random.default_rng(0).normal(size=101)
    probs = [0.05, 0.3, 0.5, 0.95]
    assert_allclose(
        weighted_quantile(values, np.ones(101), probs), np.quantile(values, probs, method="hazen")
    )


def test_weighted_quantile_splitting_a_draw_changes_nothing() -> None:
    values = np.array([0.2, 0.5, 0.9])
    weights = np.array([0.5, 0.3, 0.2])
    split = weighted_quantile(
        np.array([0.2, 0.2, 0.5, 0.9]), np.array([0.25, 0.25, 0.3, 0.2]), [0.1, 0.5, 0.8]
    )
    assert_allclose(weighted_quantile(values, weights, [0.1, 0.5, 0.8]), split)


def test_weighted_quantile_shapes_follow_probs_then_columns() -> None:
    draws = np.random.default_rng(2).uniform(size=(50, 3, 2))
    assert weighted_quantile(draws, None, 0.5).shape == (3, 2)
    assert weighted_quantile(draws, None, [0.05, 0.95]).shape == (2, 3, 2)
    assert weighted_quantile(draws[:, 0, 0], None, [0.05, 0.95]).shape == (2,)
    assert_allclose(
        weighted_quantile(draws, None, [0.05, 0.95])[1, 2, 1],
        weighted_quantile(draws[:, 2, 1], None, 0.95),
    )


@pytest.mark.parametrize("weights", [np.ones(3), -np.ones(4), np.zeros(4)])
def test_weighted_quantile_refuses_bad_weights(weights) -> None:
    with pytest.raises(ValueError, match="one non-negative number per draw"):
        weighted_quantile(np.arange(4.0), weights, 0.5)


# ------------------------------------------------------------------------ importance weights


def test_normalised_weights_and_kish_ess() -> None:
    w = normalised_weights(np.log([1.0, 3.0]) + 700.0)  # large logs do not overflow
    assert_allclose(w, [0.25, 0.75], atol=1e-15)
    assert_allclose(normalised_weights([-np.inf, 0.0]), [0.0, 1.0])
    with pytest.raises(ValueError, match="impossible"):
        normalised_weights([-np.inf, -np.inf])
    assert effective_sample_size(np.full(8, 0.125)) == pytest.approx(8.0)
    assert effective_sample_size([0.25, 0.75]) == pytest.approx(1.6)
    assert effective_sample_size([1.0, 3.0]) == pytest.approx(1.6)  # unnormalised alike


def test_psis_weights_equal_and_impossible_draws() -> None:
    w, k = psis_weights(np.array([0.3, 0.3, -np.inf, 0.3]))
    assert_allclose(w, [1 / 3, 1 / 3, 0, 1 / 3])
    assert effective_sample_size(w) == pytest.approx(3.0)
    assert k == -np.inf  # equal ratios: the weights are exact
    with pytest.raises(ValueError, match="zero or undefined"):
        psis_weights(np.full(5, -np.inf))


def test_psis_weights_light_tail_are_the_plain_weights() -> None:
    lw = np.random.default_rng(1).normal(scale=0.2, size=4000)
    w, k = psis_weights(lw)
    plain = normalised_weights(lw)
    assert k < 0.5
    assert w.sum() == pytest.approx(1.0)
    # PSIS replaces only the largest M = 3 sqrt(N) weights (190 of 4000) by a Pareto fit
    tail = np.argsort(lw)[-190:]
    body = np.setdiff1d(np.arange(4000), tail)
    ratio = w[body] / plain[body]
    assert_allclose(ratio, ratio[0], rtol=1e-9)
    assert_allclose(w[tail], plain[tail], rtol=0.05)
    assert effective_sample_size(w) == pytest.approx(effective_sample_size(plain), rel=0.01)


def test_psis_weights_keep_impossible_draws_at_zero() -> None:
    lw = np.random.default_rng(3).normal(scale=0.3, size=1000)
    lw[::7] = -np.inf
    w, k = psis_weights(lw)
    assert np.all(w[::7] == 0.0)
    assert w.sum() == pytest.approx(1.0)
    assert k < 0.7


def test_psis_weights_flag_a_heavy_tail() -> None:
    rng = np.random.default_rng(0)
    _, light = psis_weights(rng.normal(size=4000) * 0.3)
    _, heavy = psis_weights(rng.standard_cauchy(size=4000) * 3)
    assert light < 0.5 < 0.7 < heavy


def test_relative_ess_is_one_for_independent_and_less_for_sticky_draws() -> None:
    rng = np.random.default_rng(4)
    independent = rng.normal(size=(2, 1000)).ravel()
    assert relative_ess(independent, (2, 1000)) > 0.8
    sticky = np.repeat(rng.normal(size=(2, 100)), 10, axis=1).ravel()  # each value 10 times
    assert relative_ess(sticky, (2, 1000)) < 0.2
    assert relative_ess(np.zeros(6), (2, 3)) == 1.0  # too few draws per chain to tell


def test_weighted_mean_se_by_hand() -> None:
    values = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    weights = np.full(4, 0.25)
    est, se = weighted_mean_se(values, weights)
    assert_allclose(est, [1.5, 1.0])
    # sum w^2 (x - mean)^2 = 1/16 * (2.25 + 0.25 + 0.25 + 2.25) = 5/16
    assert_allclose(se, [np.sqrt(5 / 16), 0.0])
    assert_allclose(weighted_mean_se(values, weights, reff=0.25)[1], [np.sqrt(5 / 4), 0.0])
