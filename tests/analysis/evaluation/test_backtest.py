"""The backtest replay: importance sampling against brute-force integration and NUTS, leaks.

The one-rule scenario has a single parameter ``q`` (the 2-month probability of moving from
``no`` to the absorbing ``yes``, prior Beta(2, 3)), so its posterior at any evidence cut-off is
a one-dimensional integral computed here with scipy, independently of the package: the monthly
probability of staying is ``s = (1 - q) ** (1 / 2)``, seeing ``no`` at step ``k - 1`` has
likelihood ``s ** k``, and from there ``yes`` at step 5 has probability ``1 - s ** (6 - k)``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats

import forecast
from forecast.analysis.evaluation.backtest import (
    Replay,
    evidence_arrivals,
    largest_moves,
    replay,
    replay_dates,
)
from tests.paths import ROOT

ONE_RULE = """
id: one_rule
title: One rule
source: {citation: "test fixture"}
author: tests
priors_set_on: 2024-01-01
start: 2024-01
horizon: 2024-06
nodes:
  x:
    description: moves from no to the absorbing yes
    initial: no
    absorbing: [yes]
    transitions:
      - {from: no, to: {yes: {beta: [2, 3]}}, within_months: 2, rationale: r}
evidence:
  observations:
    - {node: x, date: 2024-01-31, state: no, source: s1}
    - {node: x, date: 2024-03-15, state: MARCH, source: s2, reported: 2024-04-10}
questions:
  - id: yes_jun
    text: x is yes in June
    node: x
    state: yes
    date: 2024-06-30
    resolution: {outcome: 0, resolved_on: 2024-06-30, source: s3}
  - id: no_mar
    text: x is still no in March
    node: x
    state: no
    date: 2024-03-31
    resolution: {outcome: 1, resolved_on: 2024-04-10, source: s2}
"""
"""The March observation's state is filled in by :func:`write_one_rule`."""

ALPHA, BETA, N_MONTHS = 2.0, 3.0, 2
JAN, FEB, MAR, APR = (
    dt.date(2024, 1, 31),
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 31),
    dt.date(2024, 4, 30),
)
SEEN = {JAN: 1, FEB: 1, MAR: 1, APR: 3}
"""Months known to be ``no`` at each cut-off (the March reading is reported on 10 April)."""


def write_one_rule(folder: Path, march: str = "no", name: str = "one_rule.yaml") -> Path:
    path = folder / name
    path.write_text(ONE_RULE.replace("MARCH", march))
    return path


def exact_mean(k: int, g) -> float:
    """Posterior mean of ``g(q)`` given ``no`` seen for the first ``k`` months (k=0: prior)."""

    def weight(q: float) -> float:
        return stats.beta.pdf(q, ALPHA, BETA) * (1 - q) ** (k / N_MONTHS)

    top = integrate.quad(lambda q: weight(q) * g(q), 0, 1, epsabs=1e-12)[0]
    return top / integrate.quad(weight, 0, 1, epsabs=1e-12)[0]


def exact_quantiles(k: int, probs: list[float]) -> np.ndarray:
    """Posterior quantiles of ``q`` given ``no`` seen for ``k`` months, on a fine grid."""
    q = np.linspace(0, 1, 200_001)
    density = stats.beta.pdf(q, ALPHA, BETA) * (1 - q) ** (k / N_MONTHS)
    cdf = np.concatenate([[0], np.cumsum((density[1:] + density[:-1]) / 2)])
    return np.interp(probs, cdf / cdf[-1], q)


def yes_jun(k: int):
    """P(yes in June | q, no seen for k months)."""
    return lambda q: 1 - (1 - q) ** ((6 - k) / N_MONTHS)


@pytest.fixture(scope="module")
def one_rule(tmp_path_factory):
    return forecast.load_scenario(write_one_rule(tmp_path_factory.mktemp("one_rule")))


@pytest.fixture(scope="module")
def one_rule_replay(one_rule):
    engine = Replay(one_rule, draws=40_000, seed=7)
    return engine, engine.table(replay_dates(one_rule))


# ---------------------------------------------------------------------------------- helpers


def test_replay_dates_run_to_the_month_of_the_latest_evidence(one_rule, kursk) -> None:
    assert replay_dates(one_rule) == [JAN, FEB, MAR, APR]  # March reading known 2024-04-10
    assert replay_dates(one_rule, start="2024-02", end=dt.date(2024, 3, 3)) == [FEB, MAR]
    known = [
        pd.to_datetime(pd.read_csv(ROOT / "data" / name)[column]).max()
        for name, column in (
            ("kursk_observations.csv", "reported"),
            ("kursk_territory.csv", "date"),
        )
    ]
    last = max(known)
    dates = replay_dates(kursk)
    assert dates[0] == dt.date(2024, 9, 30)  # the scenario's first month
    assert (dates[-1].year, dates[-1].month) == (last.year, last.month)
    assert len(dates) == (last.year - 2024) * 12 + last.month - 9 + 1


# ------------------------------------------------------------------- exact posterior (1-D)


@pytest.mark.parametrize("as_of", [JAN, FEB, MAR, APR])
def test_is_replay_equals_brute_force_integration(one_rule_replay, as_of) -> None:
    engine, table = one_rule_replay
    k = SEEN[as_of]
    row = table[(table["as_of"] == as_of) & (table["question"] == "yes_jun")].iloc[0]
    cut = engine.at(as_of)
    f = cut.questions["yes_jun"]
    se = float(np.sqrt(np.sum(cut.weights**2 * (f - row["mean"]) ** 2)))
    assert se < 0.003
    assert abs(row["mean"] - exact_mean(k, yes_jun(k))) < 4 * se
    # quantiles of an increasing function of q are the function of q's quantiles
    lo, hi = yes_jun(k)(exact_quantiles(k, [0.05, 0.95]))
    assert_allclose([row["low90"], row["high90"]], [lo, hi], atol=0.01)
    assert row["n_evidence"] == (2 if as_of == APR else 1)
    assert row["lead_days"] == (dt.date(2024, 6, 30) - as_of).days
    assert row["prior_mean"] == pytest.approx(exact_mean(0, yes_jun(0)), abs=0.005)
    assert 0.5 * engine.draws < row["ess"] <= engine.draws
    assert row["pareto_k"] < 0.5


def test_replay_settles_a_question_the_evidence_answers(one_rule_replay) -> None:
    _, table = one_rule_replay
    rows = table[table["question"] == "no_mar"].set_index("as_of")
    # as of January: P(no in March | no in January) = E[s^2]; by April the March reading is in
    assert rows.loc[JAN, "mean"] == pytest.approx(exact_mean(1, lambda q: 1 - q), abs=0.004)
    assert not rows.loc[JAN, "settled"]
    assert rows.loc[APR, "settled"]
    assert_allclose(
        rows.loc[APR, ["mean", "low90", "high90"]].astype(float), 1.0, rtol=0, atol=1e-12
    )


def test_replay_function_equals_the_class(one_rule) -> None:
    table = replay(one_rule, dates=[JAN, APR], draws=2000, seed=3)
    again = Replay(one_rule, draws=2000, seed=3).table([JAN, APR])
    pd.testing.assert_frame_equal(table, again)
    assert list(table.columns[:6]) == ["as_of", "question", "outcome", "node", "kind", "date"]
    assert set(table["method"]) == {"is"}


def test_with_questions_shares_the_draws(one_rule) -> None:
    engine = Replay(one_rule, draws=3000, seed=5)
    other = engine.with_questions([one_rule.questions[0]])
    assert other.questions == (one_rule.questions[0],)
    first, second = engine.at(APR), other.at(APR)
    assert_allclose(second.questions["yes_jun"], first.questions["yes_jun"], rtol=0, atol=0)
    assert_allclose(second.weights, first.weights, rtol=0, atol=0)


def test_all_evidence_and_the_prior_are_kept_apart(one_rule) -> None:
    engine = Replay(one_rule, draws=2000, seed=5)
    prior = engine.prior()
    everything = engine.at(None)
    assert (prior.method, prior.n_evidence, everything.n_evidence) == ("prior", 0, 2)
    assert everything.mean("yes_jun") == engine.at(APR).mean("yes_jun")  # all known by April
    assert prior.mean("yes_jun") == pytest.approx(exact_mean(0, yes_jun(0)), abs=0.01)
    assert everything.mean("yes_jun") == pytest.approx(exact_mean(3, yes_jun(3)), abs=0.01)


def test_replay_rejects_bad_input(one_rule) -> None:
    with pytest.raises(ValueError, match="unknown method 'mcmc'"):
        Replay(one_rule, method="mcmc")
    with pytest.raises(ValueError, match="unique"):
        Replay(one_rule, questions=[one_rule.questions[0]] * 2)


# --------------------------------------------------------------------------------- no leaks


def test_as_of_forecast_is_unchanged_when_later_evidence_changes(tmp_path) -> None:
    """The March reading (reported 10 April) is changed from no to yes: every forecast made
    before 10 April stays bit-identical, the April one moves."""
    dates = [JAN, FEB, MAR, APR]
    kept = forecast.load_scenario(write_one_rule(tmp_path, "no", "kept.yaml"))
    changed = forecast.load_scenario(write_one_rule(tmp_path, "yes", "changed.yaml"))
    before = Replay(kept, draws=3000, seed=11).table(dates)
    after = Replay(changed, draws=3000, seed=11).table(dates)
    early = before["as_of"] < APR
    pd.testing.assert_frame_equal(before[early], after[early])
    late = before[~early].set_index("question")
    moved = after[~early].set_index("question")
    # yes is absorbing: seen in March, yes in June
    assert moved.loc["yes_jun", "mean"] == pytest.approx(1.0, abs=1e-12)
    assert late.loc["yes_jun", "mean"] < 0.5
    assert moved.loc["no_mar", "mean"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------- IS and NUTS


@pytest.fixture(scope="module")
def tiny_nuts_and_is(tiny):
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

    fitter = ScenarioFitter(tiny, sampler=SamplerConfig(draws=600, tune=400, chains=2, cores=1))
    dates = replay_dates(tiny)
    nuts = Replay(tiny, method="nuts", fitter=fitter, seed=3)
    imp = Replay(tiny, draws=20_000, seed=3)
    return dates, nuts, imp


def test_is_replay_matches_nuts_within_monte_carlo_error(tiny_nuts_and_is) -> None:
    dates, nuts, imp = tiny_nuts_and_is
    assert len(dates) == 2  # January (nothing known) and February (a = yes)
    compared = 0
    for as_of in dates:
        by_nuts, by_is = nuts.at(as_of), imp.at(as_of)
        assert by_nuts.n_evidence == by_is.n_evidence
        for q in imp.questions:
            f = by_is.questions[q.id]
            is_mean = by_is.mean(q.id)
            is_se = float(np.sqrt(np.sum(by_is.weights**2 * (f - is_mean) ** 2)))
            g = by_nuts.questions[q.id]
            nuts_se = float(np.std(g) / np.sqrt(by_nuts.ess_of(q.id)))
            tolerance = 4 * np.hypot(is_se, nuts_se) + 1e-9
            assert abs(by_nuts.mean(q.id) - is_mean) < tolerance, (as_of, q.id)
            compared += 1
    assert compared == 2 * len(imp.questions)


def test_nuts_replay_table_reports_per_question_ess(tiny_nuts_and_is) -> None:
    dates, nuts, _ = tiny_nuts_and_is
    table = nuts.table(dates)
    assert set(table["method"]) == {"nuts"}
    assert table["pareto_k"].isna().all()
    assert nuts.fitter.compiles == 1  # one compiled sampler for every cut-off
    free = table[~table["settled"]]
    assert (free["ess"] > 100).all()


# ------------------------------------------------------------------ arrivals and big moves


def test_evidence_arrivals_and_largest_moves(one_rule_replay, one_rule) -> None:
    _, table = one_rule_replay
    arrivals = evidence_arrivals(one_rule, [JAN, FEB, MAR, APR])
    assert list(arrivals["as_of"]) == [JAN, APR]
    assert list(arrivals["label"]) == ["x=no (2024-01-31)", "x=no (2024-03-15)"]
    assert list(arrivals["news"]) == [True, False]  # the second repeats the first state
    assert list(arrivals["known_on"]) == [JAN, dt.date(2024, 4, 10)]
    moves = largest_moves(table, arrivals, k=1, min_change=0.0, questions=["yes_jun"])
    row = moves.iloc[0]
    rows = table[table["question"] == "yes_jun"].set_index("as_of")
    assert row["as_of"] == APR  # from no seen for one month to three: the biggest drop
    assert row["before"] == rows.loc[MAR, "mean"]
    assert row["after"] == rows.loc[APR, "mean"]
    assert row["evidence"] == "x=no (2024-03-15)"
    two = largest_moves(table, arrivals, k=2, min_change=0.0, questions=["yes_jun"])
    assert list(two["as_of"]) == [APR, JAN]  # January's move is from the prior mean
    assert two.iloc[1]["before"] == rows.loc[JAN, "prior_mean"]
    none = largest_moves(table, arrivals, k=2, min_change=0.5, questions=["yes_jun"])
    assert none.empty
    with pytest.raises(ValueError, match="not in the replay table"):
        largest_moves(table, arrivals, questions=["nope"])
