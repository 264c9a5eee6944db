"""Bayesian-network files imported as scenarios: exact against pyAgrum, names mapped, errors."""

from __future__ import annotations

import gzip
import importlib.resources
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import forecast
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.scenario import scenario_from_dict
from forecast.scenario.networks import network_scenario, scenario_name

gum = pytest.importorskip("pyagrum")

BNLEARN = Path(str(importlib.resources.files("pgmpy") / "utils" / "example_models"))
"""The bnlearn networks that pgmpy's wheel ships as ``.bif.gz``."""


def _network(name: str, folder: Path) -> Path:
    path = folder / f"{name}.bif"
    with gzip.open(BNLEARN / f"{name}.bif.gz") as f:
        path.write_bytes(f.read())
    return path


@pytest.mark.parametrize("name", ["asia", "cancer", "earthquake", "survey", "sachs"])
def test_imported_network_equals_pyagrum_exact_inference(name, tmp_path):
    path = _network(name, tmp_path)
    found = network_scenario(path)
    scenario = scenario_from_dict(found.scenario, name=f"{name}.yaml", folder=tmp_path)
    assert scenario.rules == [] and scenario.timeline.n_steps == 1
    reference = gum.loadBN(str(path))
    for n in reference.nodes():
        reference.cpt(n).normalizeAsCPT()  # sachs's columns add up to 1 within 1e-7
    engine = ExactEngine(scenario)
    # no evidence, then the first state of the last node and of the first observed
    for observed in ([], [scenario.nodes[-1]], [scenario.nodes[0], scenario.nodes[-1]]):
        evidence = evidence_matrices(scenario, ())
        inference = gum.LazyPropagation(reference)
        for node in observed:
            k = scenario.node_index[node.name]
            evidence[k][0] = 0.0
            evidence[k][0, 0] = 1.0
        inference.setEvidence({node.label: 0 for node in observed})
        inference.makeInference()
        result = engine.run([], evidence)
        for node in scenario.nodes:
            ours = result.marginals[node.name][0]
            theirs = inference.posterior(node.label).toarray()
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
        assert result.loglik == pytest.approx(np.log(inference.evidenceProbability()), abs=1e-10)


def _variable(name, outcomes):
    return (
        f"<VARIABLE TYPE='nature'><NAME>{name}</NAME>"
        + "".join(f"<OUTCOME>{o}</OUTCOME>" for o in outcomes)
        + "</VARIABLE>"
    )


def _table(name, given, values):
    given_xml = f"<GIVEN>{given}</GIVEN>" if given else ""
    return f"<DEFINITION><FOR>{name}</FOR>{given_xml}<TABLE>{values}</TABLE></DEFINITION>"


BAD_NAMES = (
    "<?xml version='1.0'?><BIF VERSION='0.3'><NETWORK><NAME>odd</NAME>"
    + _variable("my-var", ["low value", "high-value"])
    + _variable("1st", ["0", "1"])
    + _variable("my_var", ["a", "b"])
    + _table("my-var", None, "0.3 0.7")
    + _table("1st", "my-var", "0.9 0.1 0.2 0.8")
    + _table("my_var", "1st", "0.5 0.5 0.25 0.75")
    + "</NETWORK></BIF>"
)
"""Names a scenario cannot use (a hyphen, a leading digit, a space), in XMLBIF."""


def test_names_that_are_not_scenario_names_are_mapped_and_kept(tmp_path):
    path = tmp_path / "odd.bifxml"
    path.write_text(BAD_NAMES)
    found = network_scenario(path)
    nodes = found.scenario["nodes"]
    assert set(nodes) == {"my_var", "n_1st", "my_var_2"}
    assert found.renamed["my-var"] == "my_var" and found.renamed["1st"] == "n_1st"
    assert found.renamed["my_var"] == "my_var_2"  # the name was taken by the mapped my-var
    assert nodes["my_var"]["label"] == "my-var"
    assert nodes["my_var"]["states"] == {"low_value": "low value", "high_value": "high-value"}
    assert nodes["n_1st"]["states"] == {"n_0": "0", "n_1": "1"}
    assert nodes["n_1st"]["cpt"]["rows"] == [["low_value", 0.9, 0.1], ["high_value", 0.2, 0.8]]
    scenario = scenario_from_dict(found.scenario, name="odd.yaml", folder=tmp_path)
    marginal = ExactEngine(scenario).run([], evidence_matrices(scenario, ())).marginals
    assert marginal["n_1st"][0] == pytest.approx([0.3 * 0.9 + 0.7 * 0.2, 0.3 * 0.1 + 0.7 * 0.8])


def test_scenario_name_rules():
    taken: set[str] = set()
    assert [scenario_name(t, taken) for t in ["a b", "a_b", "é", "", "9"]] == [
        "a_b",
        "a_b_2",
        "n__",
        "n",
        "n_9",
    ]


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "forecast.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_forecast_import_writes_a_scenario_that_checks(tmp_path):
    _network("asia", tmp_path)
    done = _cli("import", "asia.bif", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Wrote asia.yaml: 8 nodes, 18 table rows, one month (2024-01)" in done.stdout
    text = (tmp_path / "asia.yaml").read_text()
    assert text.startswith("# imported by forecast import from asia.bif\n")
    model = forecast.ScenarioModel.from_file(tmp_path / "asia.yaml")
    assert len(model.scenario.nodes) == 8
    again = _cli("import", "asia.bif", cwd=tmp_path)
    assert again.returncode == 2
    assert "asia.yaml exists: give another --out, or --force to overwrite it" in again.stderr
    assert _cli("import", "asia.bif", "--force", cwd=tmp_path).returncode == 0
    fitted = _cli("fit", "asia.yaml", "--out", "out", "--no-progress", cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    shown = " ".join(fitted.stdout.split())
    assert "no questions; each node's state probabilities in 2024-01" in shown
    assert "smoke yes 0.500, no 0.500" in shown  # asia's smoking prior


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "file not found"),
        ("not a network at all {", "cannot be read as a Bayesian network"),
    ],
)
def test_forecast_import_refuses_what_it_cannot_read(tmp_path, content, words):
    if content is not None:
        (tmp_path / "broken.bif").write_text(content)
    done = _cli("import", "broken.bif", cwd=tmp_path)
    assert done.returncode == 2
    assert words in done.stdout and "broken.bif" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "broken.yaml").exists()


def test_a_network_too_large_for_a_scenario_file_is_refused(tmp_path, monkeypatch):
    import forecast.scenario.networks as networks
    from forecast.errors import ScenarioError
    from forecast.scenario.networks import scenario_yaml

    path = _network("asia", tmp_path)
    monkeypatch.setattr(networks, "MAX_YAML_NODES", 40)
    with pytest.raises(ScenarioError, match="tables hold 60 values, more than"):
        network_scenario(path)
    monkeypatch.setattr(networks, "MAX_YAML_NODES", 200_000)
    monkeypatch.setattr(networks, "MAX_SCENARIO_BYTES", 1000)
    found = network_scenario(path)
    with pytest.raises(ScenarioError, match="as a scenario the network would be a file of"):
        scenario_yaml(found.scenario, "header", path)
