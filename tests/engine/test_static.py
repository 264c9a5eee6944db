"""Static networks by variable elimination: equal to the dense engine and to pyAgrum."""

from __future__ import annotations

import gzip
import importlib.resources
from pathlib import Path

import numpy as np
import pytest

import forecast
from forecast.engine.checks import size_problems
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.engine.plan import MAX_NODES
from forecast.engine.static import is_static
from forecast.scenario import scenario_from_dict
from forecast.scenario.networks import network_scenario
from tests.paths import TINY

SPRINKLER = Path(__file__).resolve().parents[1] / "scenarios" / "sprinkler_network.yaml"
BNLEARN = Path(str(importlib.resources.files("pgmpy") / "utils" / "example_models"))

THREE_MONTHS = """
  observations:
    - {node: wet, date: 2024-01-31, state: yes, source: s}
    - {node: sprinkler, date: 2024-02-29, state: no, source: s}
    - {node: wet, date: 2024-03-31, state: no, source: s}
questions:
  - {id: rain_jan, text: rain in January, node: rain, state: yes, date: 2024-01-31}
  - {id: rain_any, text: rain in some month, node: rain, state: yes, date: 2024-03-31,
     kind: reached}
  - {id: wet_feb_mar, text: wet grass in Feb or Mar, node: wet, state: yes, date: 2024-03-31,
     kind: reached, window_start: 2024-02-01}
"""


def _three_months(tmp_path):
    text = SPRINKLER.read_text().replace("horizon: 2024-01", "horizon: 2024-03")
    head = text[: text.index("\n  observations:")]
    path = tmp_path / "sprinkler_3.yaml"
    path.write_text(head + THREE_MONTHS)
    return forecast.load_scenario(path)


def _dense(scenario, evidence):
    engine = ExactEngine(scenario)
    engine.static = None  # the joint-state path, for comparison
    return engine.run([], evidence)


def test_months_of_a_static_network_equal_the_dense_engine(tmp_path):
    scenario = _three_months(tmp_path)
    assert is_static(scenario)
    evidence = evidence_matrices(scenario, scenario.evidence)
    static = ExactEngine(scenario).run([], evidence)
    dense = _dense(scenario, evidence)
    assert static.loglik == pytest.approx(dense.loglik, abs=1e-12)
    np.testing.assert_allclose(static.norms, dense.norms, atol=1e-12)
    for node in scenario.nodes:
        np.testing.assert_allclose(
            static.marginals[node.name], dense.marginals[node.name], atol=1e-12
        )
    for q in scenario.questions:
        assert static.questions[q.id] == pytest.approx(dense.questions[q.id], abs=1e-12), q.id
    drawn = ExactEngine(scenario).run_draws([], evidence)
    assert drawn.loglik.shape == (1,) and drawn.marginals["wet"].shape == (1, 3, 2)
    assert drawn.questions["rain_any"][0] == pytest.approx(static.questions["rain_any"])


def test_impossible_evidence_gives_minus_infinity(tmp_path):
    scenario = _three_months(tmp_path)
    evidence = evidence_matrices(scenario, scenario.evidence)
    index = scenario.node_index
    # February: no rain, no sprinkler, yet wet grass (its table gives that 0)
    evidence[index["rain"]][1] = [1.0, 0.0]
    evidence[index["sprinkler"]][1] = [1.0, 0.0]
    evidence[index["wet"]][1] = [0.0, 1.0]
    result = ExactEngine(scenario).run([], evidence)
    assert result.loglik == -np.inf
    assert np.isnan(result.marginals["rain"][1]).all()
    assert np.isfinite(result.marginals["rain"][0]).all()  # other months are not touched


def test_a_scenario_with_memory_or_priors_is_not_static():
    assert not is_static(forecast.load_scenario(TINY))
    assert ExactEngine(forecast.load_scenario(TINY)).static is None


@pytest.fixture(scope="module")
def alarm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alarm")
    path = folder / "alarm.bif"
    with gzip.open(BNLEARN / "alarm.bif.gz") as f:
        path.write_bytes(f.read())
    found = network_scenario(path)
    return path, scenario_from_dict(found.scenario, name="alarm.yaml", folder=folder)


def test_alarm_beyond_the_joint_engine_equals_pyagrum(alarm):
    gum = pytest.importorskip("pyagrum")
    path, scenario = alarm
    assert len(scenario.nodes) > MAX_NODES
    assert size_problems(scenario) == []  # refused by the joint's plan, fine by elimination
    reference = gum.loadBN(str(path))
    for n in reference.nodes():
        reference.cpt(n).normalizeAsCPT()
    observed = {"HRBP": 0, "VENTLUNG": 1, "MINVOL": 2}
    evidence = evidence_matrices(scenario, ())
    for name, state in observed.items():
        k = scenario.node_index[name]
        evidence[k][0] = 0.0
        evidence[k][0, state] = 1.0
    result = ExactEngine(scenario).run([], evidence)
    inference = gum.LazyPropagation(reference)
    inference.setEvidence(observed)
    inference.makeInference()
    for node in scenario.nodes:
        np.testing.assert_allclose(
            result.marginals[node.name][0], inference.posterior(node.label).toarray(), atol=1e-10
        )
    assert result.loglik == pytest.approx(np.log(inference.evidenceProbability()), abs=1e-10)
    assert ExactEngine(scenario).static.width() < 1000


def test_check_prints_what_the_engine_will_do():
    import subprocess
    import sys

    def check(path):
        done = subprocess.run(
            [sys.executable, "-m", "forecast.cli", "check", str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())  # the console wraps long lines

    assert "Engine: the joint of 6 states month by month, the largest contraction" in check(TINY)
    assert "A static network" in check(SPRINKLER) and "the largest factor 8 entries" in check(
        SPRINKLER
    )


def test_an_intervention_on_a_static_network_equals_the_dense_engine(tmp_path):
    from forecast.engine.exact import TableOverride, forced_state

    scenario = _three_months(tmp_path)
    evidence = evidence_matrices(scenario, scenario.evidence)
    do = [forced_state(scenario, "sprinkler", "yes", [0, 2])]  # February saw it off
    static = ExactEngine(scenario).run([], evidence, overrides=do)
    dense_engine = ExactEngine(scenario)
    dense_engine.static = None
    dense = dense_engine.run([], evidence, overrides=do)
    assert static.loglik == pytest.approx(dense.loglik, abs=1e-12)
    for node in scenario.nodes:
        np.testing.assert_allclose(
            static.marginals[node.name], dense.marginals[node.name], atol=1e-12
        )
    for q in scenario.questions:
        assert static.questions[q.id] == pytest.approx(dense.questions[q.id], abs=1e-12), q.id
    assert static.marginals["sprinkler"][2] == pytest.approx([0.0, 1.0])
    # an override that remembers the old state goes to the dense engine, with the same answer
    k = scenario.node_index["rain"]
    table = np.zeros((2, 2))
    table[0] = [1.0, 0.0]  # stays dry if it was dry
    table[1] = [0.5, 0.5]
    sticky = [TableOverride(k, (2,), table)]
    engine = ExactEngine(scenario)
    assert engine._static_overrides(sticky) is None
    assert np.isfinite(engine.run([], evidence, overrides=sticky).loglik)


def test_the_loglik_of_a_static_network_needs_no_joint(alarm):
    _, scenario = alarm
    engine = ExactEngine(scenario)
    evidence = evidence_matrices(scenario, ())
    k = scenario.node_index["HRBP"]
    evidence[k][0] = [1.0, 0.0, 0.0]
    assert engine.loglik([], evidence) == pytest.approx(engine.run([], evidence).loglik)
