"""Linear and log pools against hand computation: of probabilities, forecasts and priors."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import special

from forecast.analysis.pooling.forecasts import PRIOR_STAGE, ForecastDraws
from forecast.analysis.pooling.pools import (
    LINEAR_POOL,
    LOG_POOL,
    disagreement_table,
    linear_pool,
    log_pool,
    log_pool_priors,
    pooled_forecast_table,
)
from forecast.analysis.pooling.priors import forecaster_priors
from forecast.analysis.reweighting.weights import weighted_quantile


@pytest.mark.parametrize(
    ("p", "w", "linear", "log"),
    [
        (
            (0.2, 0.6),
            (0.5, 0.5),
            0.4,
            math.sqrt(0.2 * 0.6) / (math.sqrt(0.2 * 0.6) + math.sqrt(0.8 * 0.4)),
        ),
        (
            (0.2, 0.6),
            (1.0, 1.0),
            0.4,
            math.sqrt(0.2 * 0.6) / (math.sqrt(0.2 * 0.6) + math.sqrt(0.8 * 0.4)),
        ),
        (
            (0.2, 0.6),
            (0.25, 0.75),
            0.5,
            0.2**0.25 * 0.6**0.75 / (0.2**0.25 * 0.6**0.75 + 0.8**0.25 * 0.4**0.75),
        ),
        ((0.1, 0.5, 0.9), None, 0.5, 0.5),
        ((0.3, 0.0), (0.5, 0.5), 0.15, 0.0),
        ((0.3, 0.0), (1.0, 0.0), 0.3, 0.3),
    ],
)
def test_binary_pools(p, w, linear, log):
    assert_allclose(linear_pool(p, w), linear, rtol=1e-12)
    assert_allclose(log_pool(p, w), log, rtol=1e-12, atol=1e-15)


def test_pools_work_elementwise():
    probs = np.array([[0.2, 0.9], [0.6, 0.9]])
    assert_allclose(linear_pool(probs), [0.4, 0.9])
    assert_allclose(log_pool(probs), [log_pool([0.2, 0.6]), 0.9])


def test_categorical_log_pool():
    p = np.array([[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]])
    geo = np.sqrt(p[0] * p[1])
    assert_allclose(log_pool(p, categorical=True), geo / geo.sum(), rtol=1e-12)
    # two categories are the binary pool
    assert_allclose(
        log_pool([[0.8, 0.2], [0.4, 0.6]], categorical=True)[1], log_pool([0.2, 0.6]), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("p", "w", "message"),
    [
        ((0.0, 1.0), (0.5, 0.5), "certain of opposite"),
        ((0.2, 1.2), None, "in \\[0, 1\\]"),
        ((0.2, 0.6), (0.5,), "need 2 weights"),
        ((0.2, 0.6), (0.5, -0.5), "non-negative"),
    ],
)
def test_log_pool_refuses_bad_input(p, w, message):
    with pytest.raises(ValueError, match=message):
        log_pool(p, w)


def test_pooling_identical_forecasters_returns_their_forecast(tiny, forecaster_draws):
    table = pooled_forecast_table(forecaster_draws, tiny)
    for stage in (PRIOR_STAGE, "early", "all"):
        part = table[table["stage"] == stage].set_index(["forecaster", "question"])
        for pool in (LINEAR_POOL, LOG_POOL):
            assert_allclose(part.loc[pool]["mean"], part.loc["a"]["mean"], rtol=1e-12, atol=1e-15)
        for column in ("low90", "high90"):
            assert_allclose(part.loc[LINEAR_POOL][column], part.loc["a"][column], rtol=1e-9)
        assert part.loc[LOG_POOL]["low90"].isna().all()


def test_pooled_table_against_hand_computation(tiny):
    ids = tuple(q.id for q in tiny.questions)
    one = np.full((2, len(ids)), 0.2)
    one[:, 0] = [0.1, 0.3]
    two = np.full((2, len(ids)), 0.6)
    two[:, 0] = [0.5, 0.7]
    draws = {
        ("x", PRIOR_STAGE): ForecastDraws(ids, one, np.array([0.5, 0.5]), 2.0),
        ("y", PRIOR_STAGE): ForecastDraws(ids, two, np.array([0.5, 0.5]), 2.0),
    }
    table = pooled_forecast_table(draws, tiny, weights=[0.25, 0.75]).set_index("forecaster")
    assert_allclose(table.loc["x", "mean"], 0.2)
    assert_allclose(table.loc[LINEAR_POOL, "mean"], 0.25 * 0.2 + 0.75 * 0.6)
    hand = 0.2**0.25 * 0.6**0.75 / (0.2**0.25 * 0.6**0.75 + 0.8**0.25 * 0.4**0.75)
    assert_allclose(table.loc[LOG_POOL, "mean"], hand, rtol=1e-12)
    # question 0 in the mixture: draws 0.1, 0.3 (weight 1/8 each) and 0.5, 0.7 (3/8 each) sit
    # at cumulative midpoints 1/16, 3/16, 7/16, 13/16: the 5% and 95% quantiles are the ends
    mixture = table.loc[LINEAR_POOL]
    assert_allclose([mixture["low90"].iloc[0], mixture["high90"].iloc[0]], [0.1, 0.7])
    assert_allclose(
        weighted_quantile(np.array([0.1, 0.3, 0.5, 0.7]), np.array([1, 1, 3, 3]) / 8, 0.5),
        0.5 + (0.5 - 7 / 16) / (13 / 16 - 7 / 16) * 0.2,
    )


def test_table_dates_are_the_questions(tiny, forecaster_draws):
    table = pooled_forecast_table(forecaster_draws, tiny)
    first = table.drop_duplicates("question").set_index("question")["date"]
    assert dict(first) == {q.id: q.date.isoformat() for q in tiny.questions}
    assert all(isinstance(q.date, dt.date) for q in tiny.questions)


def test_disagreement_narrows_by_hand(tiny):
    rows = []
    for forecaster, prior, post in (("x", 0.2, 0.5), ("y", 0.6, 0.6), ("z", 0.4, 0.55)):
        for stage, mean in ((PRIOR_STAGE, prior), ("later", post)):
            rows.append(
                {
                    "forecaster": forecaster,
                    "stage": stage,
                    "question": "q",
                    "text": "t",
                    "date": "2024-04-30",
                    "mean": mean,
                    "low90": np.nan,
                    "high90": np.nan,
                }
            )
    rows.append(
        {
            "forecaster": LINEAR_POOL,
            "stage": PRIOR_STAGE,
            "question": "q",
            "text": "t",
            "date": "2024-04-30",
            "mean": 0.9,
            "low90": 0.0,
            "high90": 1.0,
        }
    )
    table = disagreement_table(pd.DataFrame(rows)).loc["q"]
    assert_allclose(table["prior range"], 0.4)
    assert_allclose(table["later range"], 0.1)
    assert_allclose(table["later / prior"], 0.25)
    assert_allclose(table["prior sd"], np.std([0.2, 0.6, 0.4]))
    logit = disagreement_table(pd.DataFrame(rows), logit=True).loc["q"]
    assert_allclose(logit["prior range"], special.logit(0.6) - special.logit(0.2))


def test_log_pool_of_priors_is_exact(tiny, two_views):
    priors = forecaster_priors(two_views, reference=tiny)
    pooled = log_pool_priors(priors, [0.25, 0.75])
    for rule in pooled.rules:
        assert_allclose(
            rule.alpha,
            0.25 * priors["low"][rule.rule].alpha + 0.75 * priors["high"][rule.rule].alpha,
        )
    same = log_pool_priors({"a": priors["low"], "b": priors["low"]})
    for rule in same.rules:
        assert_allclose(rule.alpha, priors["low"][rule.rule].alpha)
