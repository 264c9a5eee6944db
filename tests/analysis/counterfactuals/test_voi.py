"""Value of information: exact preposterior values on small scenarios computed by hand.

In the two-node scenario ``a`` moves to yes in January with probability ``pa``, ``b`` follows
it in the same month (to yes with ``pb_yes`` if a is yes, ``pb_no`` if not), and ``c`` moves on
its own. The forecast is P(b yes in January) = pa pb_yes + (1 - pa) pb_no.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.analysis.counterfactuals.voi import next_month, preposterior, value_of_information
from forecast.elicitation import elicit
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.plots.sensitivity import plot_value_of_information

TWO_NODES = """
id: two_nodes
title: b follows a; c is on its own
source: {citation: "Test fixture"}
author: tests
priors_set_on: 2024-01-01
start: 2024-01
horizon: 2024-02
nodes:
  a:
    description: driver
    initial: no
    transitions:
      - {from: no, to: {yes: {beta: [2, 3]}}, rationale: r}
      - {from: yes, stays: true, rationale: r}
  b:
    description: follower
    parents: {a: 0}
    initial: no
    transitions:
      - {from: no, given: {a: yes}, to: {yes: {beta: [7, 3]}}, rationale: r}
      - {from: no, given: {a: no}, to: {yes: {beta: [2, 8]}}, rationale: r}
      - {from: yes, stays: true, rationale: r}
  c:
    description: independent
    initial: no
    transitions:
      - {from: no, to: {yes: {beta: [1, 1]}}, rationale: r}
      - {from: yes, stays: true, rationale: r}
evidence:
  observations:
    - {node: c, date: 2024-02-29, state: no, source: s}
outcomes:
  - {id: b_yes, label: b is yes, node: b, state: yes, kind: in_state}
  - {id: a_yes, label: a is yes, node: a, state: yes, kind: in_state}
report_dates: [2024-01-31]
"""


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    path = tmp_path_factory.mktemp("voi") / "two_nodes.yaml"
    path.write_text(TWO_NODES)
    return forecast.load_scenario(path)


def params_of(scenario, moves):
    """Per-rule ``[stay, move]`` draws from rule id -> array of move probabilities."""
    return [
        np.stack([1 - np.asarray(moves[r.name], float), np.asarray(moves[r.name], float)], axis=-1)
        for r in scenario.rules
    ]


def b_january(scenario):
    return [q for q in scenario.questions if q.id == "b_yes_by_2024_01"]


def test_rule_names_of_the_fixture(two):
    assert [r.name for r in two.rules] == ["a:no", "b:no[a=yes]", "b:no[a=no]", "c:no"]


def test_one_parameter_point_by_hand(two):
    engine = ExactEngine(two)
    params = params_of(
        two, {"a:no": [0.4], "b:no[a=yes]": [0.7], "b:no[a=no]": [0.2], "c:no": [0.5]}
    )
    voi = preposterior(engine, params, evidence_matrices(two, ()), 0, questions=b_january(two))
    table = voi.table.set_index("node")
    assert voi.month == "2024-01"
    assert_allclose(table["current"], 0.4, rtol=1e-12)  # 0.4 * 0.7 + 0.6 * 0.2
    assert_allclose(table["current_variance"], 0.24, rtol=1e-12)
    # observing a: after yes 0.7 (prob 0.4), after no 0.2 (prob 0.6)
    assert_allclose(table.loc["a", "expected_abs_change"], 0.4 * 0.3 + 0.6 * 0.2, rtol=1e-12)
    assert_allclose(
        table.loc["a", "expected_variance_reduction"], 0.4 * 0.09 + 0.6 * 0.04, rtol=1e-12
    )
    # observing b itself removes all of its variance
    assert_allclose(table.loc["b", "expected_variance_reduction"], 0.24, rtol=1e-12)
    assert_allclose(table.loc["b", "share"], 1.0, rtol=1e-12)
    assert_allclose(table.loc["b", "expected_abs_change"], 2 * 0.4 * 0.6, rtol=1e-12)
    # c is independent of b: nothing to learn
    assert table.loc["c", "expected_abs_change"] == pytest.approx(0.0, abs=1e-14)
    assert table.loc["c", "expected_variance_reduction"] == pytest.approx(0.0, abs=1e-14)
    states = voi.states.set_index(["node", "state"])
    assert_allclose(states.loc[("a", "yes"), ["probability", "after"]], [0.4, 0.7], rtol=1e-12)
    assert_allclose(states.loc[("a", "no"), ["probability", "after"]], [0.6, 0.2], rtol=1e-12)


def test_observation_also_teaches_the_parameters(two):
    """Two equally likely parameter draws: seeing a=yes favours the draw where a moves more."""
    engine = ExactEngine(two)
    moves = {"a:no": [0.2, 0.6], "b:no[a=yes]": [0.5, 0.9], "b:no[a=no]": [0.2, 0.2]}
    params = params_of(two, {**moves, "c:no": [0.3, 0.3]})
    voi = preposterior(engine, params, evidence_matrices(two, ()), 0, questions=b_january(two))
    table = voi.table.set_index("node")
    # now: mean(0.2*0.5 + 0.8*0.2, 0.6*0.9 + 0.4*0.2) = mean(0.26, 0.62)
    assert_allclose(table.loc["a", "current"], 0.44, rtol=1e-12)
    # P(a=yes) = 0.4; after yes (0.2*0.5 + 0.6*0.9) / 0.8 = 0.8; after no 0.2
    states = voi.states.set_index(["node", "state"])
    assert_allclose(states.loc[("a", "yes"), ["probability", "after"]], [0.4, 0.8], rtol=1e-12)
    assert_allclose(states.loc[("a", "no"), ["probability", "after"]], [0.6, 0.2], rtol=1e-12)
    assert_allclose(table.loc["a", "expected_abs_change"], 0.4 * 0.36 + 0.6 * 0.24, rtol=1e-12)
    assert_allclose(
        table.loc["a", "expected_variance_reduction"], 0.4 * 0.36**2 + 0.6 * 0.24**2, rtol=1e-12
    )
    assert_allclose(table.loc["b", "expected_variance_reduction"], 0.44 * 0.56, rtol=1e-12)
    # c's parameter is the same in both draws: seeing c teaches nothing
    assert table.loc["c", "expected_abs_change"] == pytest.approx(0.0, abs=1e-14)


def test_observing_the_outcome_node_removes_all_variance_under_uncertainty(tiny):
    """Many prior draws of the tiny chain: a's state in January resolves 'a yes in January'."""
    engine = ExactEngine(tiny)
    params = elicit(tiny).sample(np.random.default_rng(4), 300)
    question = [q for q in tiny.questions if q.id == "a_yes_jan"]
    voi = preposterior(engine, params, evidence_matrices(tiny, ()), 0, questions=question)
    row = voi.table.set_index("node").loc["a"]
    assert_allclose(row["expected_variance_reduction"], row["current_variance"], rtol=1e-10)
    after = voi.states[voi.states["node"] == "a"].set_index("state")["after"]
    assert_allclose(after.to_numpy(), [0.0, 1.0], atol=1e-12)


def test_forecasts_after_average_to_the_forecast_now(tiny, tiny_fits):
    voi = value_of_information(tiny_fits["as of 2024-01-31"], tiny, max_draws=150)
    assert voi.month == "2024-02"
    states = voi.states
    averaged = (
        states.assign(weighted=states["probability"] * states["after"])
        .groupby(["node", "question"])["weighted"]
        .sum()
    )
    current = states.groupby(["node", "question"])["current"].first()
    assert_allclose(averaged.to_numpy(), current.to_numpy(), atol=1e-10)
    total = states.groupby(["node", "question"])["probability"].sum()
    assert_allclose(total.to_numpy(), 1.0, atol=1e-10)
    table = voi.table
    assert (table["expected_variance_reduction"] <= table["current_variance"] + 1e-12).all()
    assert (table["expected_abs_change"] >= 0).all()
    summary = voi.summary()
    assert list(summary["rank"]) == list(range(1, len(tiny.nodes) + 1))
    assert_allclose(
        voi.summary(percent=True)["total_abs_change"], 100 * summary["total_abs_change"], rtol=1e-12
    )
    for node, row in summary.iterrows():
        part = table[table["node"] == node]
        assert_allclose(row["total_abs_change"], part["expected_abs_change"].sum(), rtol=1e-12)
        assert row["max_question"] == part.loc[part["expected_abs_change"].idxmax(), "question"]
        assert_allclose(row["mean_variance_share"], part["share"].mean(), rtol=1e-12)
    assert voi.to_watch() == summary.index[0]
    figure = plot_value_of_information(voi, tiny)
    bars = {p.get_gid() for p in figure.axes[1].patches if p.get_gid()}
    assert bars == {f"voi:{n.name}" for n in tiny.nodes}


def test_prior_group_uses_no_evidence(two):
    from forecast.pymc_backend.fitting import ScenarioFitter

    fitter = ScenarioFitter(two)
    prior = fitter.prior_draws(seed=1, size=400)
    voi = value_of_information(
        prior, two, engine=fitter.engine, group="prior", outcomes=["b_yes"], dates=["2024-01"]
    )
    row = voi.table.set_index("node").loc["b"]
    assert_allclose(row["expected_variance_reduction"], row["current_variance"], rtol=1e-10)
    # every c draw is independent of b's parameters: only sampling noise is left
    assert voi.table.set_index("node").loc["c", "expected_abs_change"] < 0.02
    assert voi.to_watch(observable_only=False) in {"a", "b"}
    assert voi.to_watch() == "c"  # the only node the scenario observes


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (dt.date(2024, 9, 30), "2024-10"),
        (dt.date(2024, 10, 15), "2024-10"),
        (dt.date(2024, 8, 31), "2024-09"),
        (dt.date(2024, 1, 1), "2024-09"),  # before the start: the first month
        (None, "2026-01"),  # the latest evidence was known on 2025-12-31
    ],
)
def test_next_month_after_the_cutoff(kursk, as_of, expected):
    assert kursk.timeline.labels[next_month(kursk, as_of)] == expected


def test_next_month_past_the_horizon_is_refused(two):
    with pytest.raises(ValueError, match="nothing is left"):
        next_month(two, dt.date(2024, 2, 29))
