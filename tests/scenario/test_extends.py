"""Scenario variants (``extends``): a short file restating some priors of another scenario."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from forecast import ScenarioError, load_scenario
from forecast.analysis.pooling.structure import check_same_structure
from forecast.elicitation import elicit
from tests.paths import ROOT, TINY

VARIANT = """\
extends: {base}
id: tiny_variant
author: a second forecaster
nodes:
  a:
    transitions:
      - {{from: no, to: {{yes: {{best: 0.6, interval: [0.4, 0.8]}}}}, within_months: 2,
         rationale: more eager}}
      - {{from: yes, to: {{no: {{beta: [2, 5]}}}}, rationale: r}}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_variant_keeps_the_structure_and_restates_priors(tmp_path) -> None:
    base_path = shutil.copy(TINY, tmp_path / "base.yaml")
    variant = load_scenario(_write(tmp_path, "variant.yaml", VARIANT.format(base="base.yaml")))
    base = load_scenario(base_path)
    assert variant.id == "tiny_variant" and variant.spec.author == "a second forecaster"
    assert variant.bases == (Path(base_path).resolve(),) and base.bases == ()
    assert variant.spec.title == base.spec.title  # not restated: the base's
    check_same_structure({"base": base, "variant": variant})
    assert variant.evidence == base.evidence
    assert [q.id for q in variant.questions] == [q.id for q in base.questions]
    prior_base, prior_variant = elicit(base), elicit(variant)
    for rule in prior_base.rules:
        same = np.allclose(prior_base[rule.rule].alpha, prior_variant[rule.rule].alpha)
        assert same == (rule.rule != "a:no"), rule.rule
    # node b's transitions are inherited unchanged
    assert variant.spec.nodes["b"] == base.spec.nodes["b"]


def test_the_hash_follows_the_base(tmp_path) -> None:
    base_path = Path(shutil.copy(TINY, tmp_path / "base.yaml"))
    path = _write(tmp_path, "variant.yaml", VARIANT.format(base="base.yaml"))
    before = load_scenario(path).hash
    assert before != load_scenario(base_path).hash
    base_path.write_text(base_path.read_text().replace("title: Two-node", "title: A two-node"))
    assert load_scenario(path).hash != before


def test_evidence_files_of_the_base_resolve_from_another_folder(tmp_path) -> None:
    text = TINY.read_text().replace("evidence:\n", "evidence:\n  tables: [data/obs.csv]\n")
    _write(tmp_path / "base", "base.yaml", text)
    _write(
        tmp_path / "base" / "data", "obs.csv", "date,node,state,source\n2024-03-10,b,low,report\n"
    )
    path = _write(
        tmp_path / "people" / "second", "variant.yaml", VARIANT.format(base="../../base/base.yaml")
    )
    variant = load_scenario(path)
    assert len(variant.evidence) == 2
    assert any(e.source == "report" for e in variant.evidence)


def test_a_variant_of_a_variant_accumulates_restated_nodes(tmp_path) -> None:
    shutil.copy(TINY, tmp_path / "base.yaml")
    _write(tmp_path, "first.yaml", VARIANT.format(base="base.yaml"))
    second = _write(
        tmp_path,
        "second.yaml",
        """\
extends: first.yaml
id: tiny_second
nodes:
  b:
    transitions:
      - {from: low, given: {a: yes}, to: {mid: {beta: [1, 1]}}, rationale: flat}
      - {from: low, given: {a: no}, stays: true, rationale: r}
      - {from: mid, dirichlet: {stay: 1, low: 1, high: 1}, rationale: r}
""",
    )
    scenario = load_scenario(second)
    assert scenario.bases == (
        (tmp_path / "first.yaml").resolve(),
        (tmp_path / "base.yaml").resolve(),
    )
    assert scenario.id == "tiny_second"
    assert scenario.spec.author == "a second forecaster"  # from the first variant
    a_rule = scenario.spec.nodes["a"].transitions[0]
    assert a_rule.rationale == "more eager"
    assert scenario.spec.nodes["b"].transitions[0].rationale == "flat"


def test_a_problem_in_an_inherited_field_names_the_base(tmp_path) -> None:
    broken = TINY.read_text().replace(
        "states: [low, mid, high]", "states: [low, mid, high]\n    parents: {a: 0, z: 1}", 1
    )
    broken = broken.replace("    parents: {a: 0}\n", "", 1)
    _write(tmp_path, "base.yaml", broken)
    path = _write(tmp_path, "variant.yaml", VARIANT.format(base="base.yaml"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problem = next(p for p in caught.value.problems if "nodes.b.parents" in p.field)
    assert Path(problem.file).name == "base.yaml"
    assert problem.line == broken.splitlines().index("    parents: {a: 0, z: 1}") + 1


def test_the_forecasters_are_variants_of_the_kursk_scenario() -> None:
    kursk = load_scenario(ROOT / "scenarios" / "kursk_2024.yaml")
    fits = {"kursk": kursk}
    for name in ("hawk", "dove", "base_rate"):
        path = ROOT / "scenarios" / "forecasters" / f"{name}.yaml"
        assert path.read_text().count("\nextends: ../kursk_2024.yaml\n") == 1
        fits[name] = load_scenario(path)
        assert fits[name].evidence == kursk.evidence
    check_same_structure(fits)


def test_a_malformed_node_of_the_base_is_reported_in_the_base(tmp_path) -> None:
    text = TINY.read_text()
    start = text.index("  a:\n")
    end = text.index("  b:\n")
    _write(tmp_path, "base.yaml", text[:start] + "  a: 5\n" + text[end:])
    path = _write(tmp_path, "variant.yaml", VARIANT.format(base="base.yaml"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problem = next(p for p in caught.value.problems if p.field == "nodes.a")
    assert Path(problem.file).name == "base.yaml"
    assert problem.line == text[:start].count("\n") + 1
