"""Scenarios written as Bayesian networks: the network's marginals are the engine's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import forecast
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.engine.export import scenario_network, write_network
from tests.paths import TINY

gum = pytest.importorskip("pyagrum")
SPRINKLER = Path(__file__).resolve().parents[1] / "scenarios" / "sprinkler_network.yaml"


def test_an_unrolled_scenario_has_the_engines_marginals_with_evidence(tmp_path):
    model = forecast.ScenarioModel.from_file(TINY)
    scenario = model.scenario
    params = [r.mean for r in model.priors.rules]
    bn = model.network()
    assert bn.size() == len(scenario.nodes) * (scenario.timeline.n_steps + 1)
    evidence = evidence_matrices(scenario, scenario.evidence)
    result = ExactEngine(scenario).run(params, evidence)
    inference = gum.LazyPropagation(bn)
    observed = {}
    for item in scenario.evidence:
        t = scenario.timeline.step_of(item.date)
        label = scenario.timeline.month_label(t).replace("-", "_")
        observed[f"{item.node}__{label}"] = item.states[0]
    inference.setEvidence(observed)
    inference.makeInference()
    for t in range(scenario.timeline.n_steps):
        label = scenario.timeline.month_label(t).replace("-", "_")
        for node in scenario.nodes:
            theirs = inference.posterior(f"{node.name}__{label}").toarray()
            np.testing.assert_allclose(result.marginals[node.name][t], theirs, atol=1e-12)
    assert np.log(inference.evidenceProbability()) == pytest.approx(result.loglik, abs=1e-12)
    # every format pyAgrum writes reads back to the same network
    for suffix in (".bif", ".bifxml", ".net", ".uai"):
        again = gum.loadBN(str(write_network(bn, tmp_path / f"tiny{suffix}")))
        assert again.size() == bn.size() and again.sizeArcs() == bn.sizeArcs()
    assert scenario_network(scenario, params, months=2).size() == len(scenario.nodes) * 3


def test_a_static_scenario_round_trips_through_import(tmp_path):
    model = forecast.ScenarioModel.from_file(SPRINKLER)
    path = write_network(model.network(), tmp_path / "sprinkler.bifxml")
    done = subprocess.run(
        [sys.executable, "-m", "forecast.cli", "import", str(path), "--out", "back.yaml"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    back = forecast.load_scenario(tmp_path / "back.yaml")
    ours = ExactEngine(model.scenario).run([], evidence_matrices(model.scenario, ()))
    theirs = ExactEngine(back).run([], evidence_matrices(back, ()))
    for node in model.scenario.nodes:
        np.testing.assert_allclose(
            ours.marginals[node.name], theirs.marginals[node.name], atol=1e-15
        )


def test_forecast_export_writes_and_refuses(tmp_path):
    def export(*args):
        return subprocess.run(
            [sys.executable, "-m", "forecast.cli", "export", str(TINY), *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )

    done = export("--to", "xmlbif")
    assert done.returncode == 0, done.stderr
    assert (
        "Wrote tiny_chain.bifxml: 10 variables, 12 arcs, rules at their prior means" in done.stdout
    )
    assert gum.loadBN(str(tmp_path / "tiny_chain.bifxml")).size() == 10
    again = export("--to", "xmlbif")
    assert again.returncode == 2 and "exists" in again.stderr
    wrong = export("--to", "net", "--out", "x.bif")
    assert wrong.returncode == 2 and "--out x.bif must end in .net for --to net" in wrong.stderr
    missing = export("--fit", "nowhere.nc")
    assert missing.returncode == 2 and "--fit nowhere.nc" in missing.stderr
    assert "Traceback" not in done.stderr + again.stderr + wrong.stderr + missing.stderr


def test_a_fits_network_takes_its_posterior_means():
    model = forecast.ScenarioModel.from_file(TINY)
    fit = model.fit(sampler={"draws": 100, "tune": 100, "chains": 2, "cores": 1}, seed=1)
    prior, posterior = model.network(), fit.network()
    a_yes = "a__" + model.scenario.timeline.month_label(0).replace("-", "_")
    # a's first-month table moves with the evidence that a was yes in February
    assert not np.allclose(prior.cpt(a_yes).toarray(), posterior.cpt(a_yes).toarray())
    assert posterior.size() == prior.size()
