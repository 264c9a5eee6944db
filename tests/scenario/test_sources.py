"""Evidence sources with a reliability, and soft evidence: hand computation and brute force."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.engine import ExactEngine, central_params
from forecast.engine.kernels import loglik_and_grad
from forecast.engine.plan import scenario_size
from forecast.engine.slots import likelihood_pairs
from tests.engine.brute_force import brute_force
from tests.engine.test_exact_vs_brute_force import random_params
from tests.paths import SCENARIOS

PATH = SCENARIOS / "two_sources.yaml"
STATES = ("holds", "breaks", "contested")


@pytest.fixture(scope="module")
def scenario():
    return forecast.load_scenario(PATH)


def test_a_source_is_a_report_node_with_one_free_rule_per_true_state(scenario) -> None:
    tracker = scenario.node("tracker")
    assert tracker.is_source and tracker.reports_on == "front"
    assert tracker.states == STATES and tracker.parents == (("front", 0),)
    assert [r.name for r in tracker.rules] == [f"tracker_when_{s}" for s in STATES]
    for rule, truth in zip(tracker.rules, STATES, strict=True):
        assert rule.is_free and rule.pivot == truth and rule.given == {"front": (truth,)}
    assert not scenario.node("front").is_source
    # reports that name a source are evidence on its report node; the rest stays the truth
    assert sorted(e.node for e in scenario.evidence) == ["claims", "front", "tracker"]


def test_the_prior_of_a_report_being_true_is_the_stated_reliability(scenario) -> None:
    model = forecast.ScenarioModel(scenario)
    for source, best in (("tracker", 0.9), ("claims", 0.6)):
        for truth in STATES:
            prior = model.priors[f"{source}_when_{truth}"]
            mean = np.asarray(prior.alpha) / np.sum(prior.alpha)
            assert prior.labels[0] == truth
            assert_allclose(mean[0], best, atol=1e-3)  # the pivot is the true state
            assert_allclose(mean[1:], (1 - best) / 2, atol=1e-3)


def _by_hand(outcome: dict[str, np.ndarray]) -> np.ndarray:
    """P(front in January | both reports, February's soft evidence), enumerated by hand."""
    stay = {s: outcome[f"front:{s}"] for s in STATES}
    move = {"holds": "breaks", "breaks": "holds", "contested": "holds"}
    table = np.zeros((3, 3))
    for i, s in enumerate(STATES):
        table[i, i] = stay[s][0]
        table[i, STATES.index(move[s])] = stay[s][1]
    initial = np.array([0.6, 0.3, 0.1])

    def report(source: str, said: str) -> np.ndarray:
        # outcome vectors are [true state, *the others in state order]
        out = np.empty(3)
        for i, truth in enumerate(STATES):
            q = outcome[f"{source}_when_{truth}"]
            others = [s for s in STATES if s != truth]
            out[i] = q[0] if said == truth else q[1 + others.index(said)]
        return out

    january = (initial @ table) * report("tracker", "holds") * report("claims", "breaks")
    february = np.array([0.2, 0.8, 0.5])
    joint = january[:, None] * table * february[None, :]
    return joint.sum(axis=1) / joint.sum()


@pytest.mark.parametrize("point", range(3))
def test_disagreeing_sources_give_the_posterior_their_reliabilities_imply(scenario, point) -> None:
    rng = np.random.default_rng(7 + point)
    params = central_params(scenario) if point == 0 else random_params(scenario, rng, 0.5)
    outcome = dict(zip([r.name for r in scenario.rules], params, strict=True))
    engine = ExactEngine(scenario)
    result = engine.run(params, engine.evidence())
    assert_allclose(result.marginals["front"][0], _by_hand(outcome), rtol=0, atol=1e-12)
    assert_allclose(result.questions["holds_jan"], _by_hand(outcome)[0], rtol=0, atol=1e-12)


def test_at_the_stated_reliabilities_the_tracker_outweighs_the_claims(scenario) -> None:
    engine = ExactEngine(scenario)
    result = engine.run(central_params(scenario), engine.evidence())
    holds, breaks, _ = result.marginals["front"][0]
    assert holds > 0.5 > breaks  # 0.9 against 0.6: the tracker's "holds" wins


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("point", range(3))
def test_the_engine_equals_brute_force(scenario, point, compiled) -> None:
    rng = np.random.default_rng(70 + point)
    params = random_params(scenario, rng, 0.5)
    engine = ExactEngine(scenario)
    brute = brute_force(scenario, params)
    if compiled:  # one draw through the compiled passes, the source folded there too
        drawn = engine.run_draws([p[None] for p in params], engine.evidence())
        result = dataclasses.replace(
            drawn,
            loglik=drawn.loglik[0],
            marginals={k: v[0] for k, v in drawn.marginals.items()},
            questions={k: v[0] for k, v in drawn.questions.items()},
        )
    else:
        result = engine.run(params, engine.evidence())
    assert_allclose(result.loglik, brute.loglik, rtol=0, atol=1e-12)
    for name, marginal in brute.marginals.items():
        assert_allclose(result.marginals[name], marginal, rtol=0, atol=1e-12, err_msg=name)
    assert_allclose(result.questions["holds_jan"], brute.marginals["front"][0][0], atol=1e-12)


def test_soft_evidence_weights_the_states_in_node_order(scenario) -> None:
    soft = next(e for e in scenario.evidence if e.likelihood is not None)
    assert soft.likelihood == (("holds", 0.2), ("breaks", 0.8), ("contested", 0.5))
    assert soft.states == STATES and soft.shown == "holds=0.2|breaks=0.8|contested=0.5"
    matrix = ExactEngine(scenario).evidence()[scenario.node_index["front"]]
    assert_allclose(matrix[1], [0.2, 0.8, 0.5])


def test_a_csv_row_gives_soft_evidence_and_names_its_source(tmp_path) -> None:
    text = PATH.read_text(encoding="utf-8")
    table = tmp_path / "reports.csv"
    table.write_text(
        "date,node,state,source,reported_by\n"
        "2024-01-31,front,holds,map,tracker\n"
        "2024-01-31,front,breaks,statement,claims\n"
        "2024-02-29,front,holds=0.2|breaks=0.8|contested=0.5,a vague report,\n",
        encoding="utf-8",
    )
    start = text.index("  observations:")
    end = text.index("questions:")
    moved = text[:start] + "  tables: [reports.csv]\n" + text[end:]
    (tmp_path / "s.yaml").write_text(moved, encoding="utf-8")
    from_csv = forecast.load_scenario(tmp_path / "s.yaml")
    inline = forecast.load_scenario(PATH)
    a, b = ExactEngine(from_csv), ExactEngine(inline)
    for m, n in zip(a.evidence(), b.evidence(), strict=True):
        assert_allclose(m, n)


def test_a_source_row_is_not_edited_alone(scenario) -> None:
    model = forecast.ScenarioModel(scenario)
    with pytest.raises(forecast.ScenarioError) as caught:
        model.with_judgement("tracker_when_holds", best=0.1, interval=(0.05, 0.2), to="breaks")
    problem = caught.value.problems[0]
    assert problem.field.startswith("sources.tracker.reliability")
    assert "edit sources.tracker.reliability" in problem.allowed


def test_the_written_scenario_keeps_only_what_the_file_says(scenario) -> None:
    assert set(scenario.spec.nodes) == {"front"}
    assert set(scenario.spec.sources) == {"tracker", "claims"}


def test_reports_and_soft_evidence_count_only_once_known(tmp_path) -> None:
    text = PATH.read_text(encoding="utf-8").replace(
        "source: statement, reported_by: claims}",
        "source: statement, reported_by: claims, reported: 2024-03-15}",
    )
    path = tmp_path / "late.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = forecast.load_scenario(path)
    import datetime as dt

    early = scenario.evidence_as_of(dt.date(2024, 3, 1))
    assert sorted(e.node for e in early) == ["front", "tracker"]  # the claim is not known yet
    assert any(e.likelihood is not None for e in early)
    assert len(scenario.evidence_as_of(dt.date(2024, 3, 31))) == 3


def test_a_source_adds_no_axis_to_the_joint(scenario) -> None:
    engine = ExactEngine(scenario)
    assert len(engine.plan.axes) == 1  # the front alone: the two reports are folded
    assert [op.node for op in engine.plan.factors] == [
        scenario.node_index["tracker"],
        scenario.node_index["claims"],
    ]
    assert engine.lowered.n_joint == 3
    assert scenario_size(scenario, draws=100, threads=1).joint == 3


def test_the_gradient_through_a_source_matches_finite_differences(scenario) -> None:
    engine = ExactEngine(scenario)
    evidence = engine.evidence()
    pairs = likelihood_pairs(evidence, engine.lowered, engine.initial_flat)
    params = random_params(scenario, np.random.default_rng(3), 0.5)
    loglik, grad = loglik_and_grad(engine.lowered, params, pairs, engine.initial_flat)
    assert_allclose(loglik, engine.loglik(params, evidence), rtol=0, atol=1e-12)
    step = 1e-6
    for r, rule in enumerate(scenario.rules):
        numeric = np.zeros(len(params[r]))
        for j in range(len(params[r])):
            up = [p.copy() for p in params]
            up[r][j] += step
            down = [p.copy() for p in params]
            down[r][j] -= step
            numeric[j] = (engine.loglik(up, evidence) - engine.loglik(down, evidence)) / (2 * step)
        # months after the last evidence are dropped by the kernel: the gradients may differ
        # along (1, ..., 1), the direction off the simplex (see likelihood_pairs)
        assert_allclose(
            grad[r] - grad[r].mean(),
            numeric - numeric.mean(),
            rtol=1e-5,
            atol=1e-7,
            err_msg=rule.name,
        )
