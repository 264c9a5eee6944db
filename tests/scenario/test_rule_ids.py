"""Rule ids: written in the file (``id:``) or derived from the node, ``from`` and ``given``.

A rule's id names its parameter everywhere (priors, PyMC coordinates, InferenceData, tables,
figures), so it must not depend on the rule's position, on the other rules or on the order
in which a list is written.
"""

from __future__ import annotations

import copy
import random

import arviz as az
import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast import ScenarioError
from forecast.analysis.summaries.priors import prior_table
from forecast.elicitation import elicit
from forecast.scenario import scenario_from_dict
from forecast.scenario.validated import rule_id
from forecast.scenario.yaml_source import load_yaml
from tests.paths import KURSK, ROOT, TINY

FORECASTERS = sorted((ROOT / "scenarios" / "forecasters").glob("*.yaml"))


def _ids(scenario: forecast.Scenario) -> dict[tuple[str, str], str]:
    """(node, rationale) -> id of every rule, ``stays: true`` ones too."""
    return {(n.name, r.spec.rationale): r.id for n in scenario.nodes for r in n.rules}


@pytest.fixture(scope="module")
def kursk_data() -> dict:
    data, _ = load_yaml(KURSK)
    return data


def _from_dict(data: dict) -> forecast.Scenario:
    return scenario_from_dict(data, "kursk_2024.yaml", folder=KURSK.parent)


def test_kursk_ids_are_derived_from_node_from_and_given(kursk) -> None:
    ids = [r.id for n in kursk.nodes for r in n.rules]
    assert ids[:3] == ["occupation:substantial", "occupation:foothold", "occupation:none"]
    # given parents in the node's parents order (talks: mediation, pressure), states in the
    # parent's state order (occupation: substantial, foothold, none)
    assert "talks:none[mediation=active,pressure=high,us_push=inactive]" in ids
    assert "pressure:high[occupation=substantial|foothold]" in ids
    assert "escalation:none[occupation=substantial|foothold,pressure=high]" in ids
    assert "land_for_land:none[talks=none]" in ids  # a stays: true rule has an id too
    assert len(set(ids)) == len(ids)
    for rule in kursk.rules:
        assert rule.name == rule.id
        assert not rule.has_written_id


def test_rule_id_normalises_the_order_of_states_and_parents() -> None:
    states = ("low", "mid", "high")
    parents = {"a": ("no", "yes"), "c": ("x", "y", "z")}
    one = rule_id("b", ["high", "low"], {"c": ["z", "x"], "a": ["yes"]}, states, parents)
    two = rule_id("b", ["low", "high"], {"a": ["yes"], "c": ["x", "z"]}, states, parents)
    assert one == two == "b:low|high[a=yes,c=x|z]"
    assert rule_id("b", ["mid"], {}, states, parents) == "b:mid"


@pytest.mark.parametrize("seed", range(12))
def test_ids_do_not_change_when_rules_and_lists_are_reordered(kursk, kursk_data, seed) -> None:
    """Shuffle every transitions list, every from/given state list and the given parents."""
    rng = random.Random(seed)
    data = copy.deepcopy(kursk_data)
    for node in data["nodes"].values():
        rules = node.get("transitions", [])
        rng.shuffle(rules)
        for rule in rules:
            if isinstance(rule["from"], list):
                rng.shuffle(rule["from"])
            given = list(rule.get("given", {}).items())
            rng.shuffle(given)
            rule["given"] = {
                p: rng.sample(s, len(s)) if isinstance(s, list) else s for p, s in given
            }
    shuffled = _from_dict(data)
    assert _ids(shuffled) == _ids(kursk)
    assert [r.id for r in shuffled.rules] != [r.id for r in kursk.rules]  # the order moved


def test_ids_do_not_change_when_a_rule_is_inserted(kursk, kursk_data) -> None:
    """Splitting pressure's last rule into two, written first, keeps every other id."""
    data = copy.deepcopy(kursk_data)
    rules = data["nodes"]["pressure"]["transitions"]
    split = rules.pop()  # high, given occupation [substantial, foothold]
    assert split["given"] == {"occupation": ["substantial", "foothold"]}
    for state in ("foothold", "substantial"):
        rules.insert(0, {**split, "given": {"occupation": state}, "rationale": f"split {state}"})
    edited = _ids(_from_dict(data))
    before = _ids(kursk)
    del before[("pressure", split["rationale"])]
    assert {k: v for k, v in edited.items() if not k[1].startswith("split")} == before
    assert edited[("pressure", "split foothold")] == "pressure:high[occupation=foothold]"


def test_a_written_id_wins(kursk_data) -> None:
    data = copy.deepcopy(kursk_data)
    data["nodes"]["talks"]["transitions"][0]["id"] = "talks_pushed"
    scenario = _from_dict(data)
    talks = scenario.node("talks").rules
    assert talks[0].id == talks[0].name == "talks_pushed" and talks[0].has_written_id
    assert talks[1].id == "talks:none[mediation=inactive,pressure=high,us_push=inactive]"
    priors = elicit(scenario)
    assert priors["talks_pushed"].labels == ("stay", "direct")
    assert "talks_pushed" in set(prior_table(scenario, priors)["rule"])


def test_written_ids_are_unique_across_nodes(kursk_data) -> None:
    data = copy.deepcopy(kursk_data)
    data["nodes"]["talks"]["transitions"][0]["id"] = "same"
    data["nodes"]["ceasefire"]["transitions"][2]["id"] = "same"
    with pytest.raises(ScenarioError) as info:
        _from_dict(data)
    (problem,) = info.value.problems
    assert problem.field == "nodes.ceasefire.transitions[2].id"
    assert "already the id of nodes.talks.transitions[0]" in problem.message


@pytest.mark.parametrize("path", FORECASTERS, ids=lambda p: p.stem)
def test_a_variant_shares_the_base_ids(kursk, path) -> None:
    variant = forecast.load_scenario(path)
    assert [r.id for n in variant.nodes for r in n.rules] == [
        r.id for n in kursk.nodes for r in n.rules
    ]
    assert [r.rule for r in elicit(variant).rules] == [r.id for r in kursk.rules]


def test_a_variant_may_write_ids(tmp_path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(TINY.read_text())
    variant = tmp_path / "variant.yaml"
    variant.write_text(
        "extends: base.yaml\nid: variant\nnodes:\n  a:\n    transitions:\n"
        "      - {from: no, id: a_moves, to: {yes: {beta: [2, 3]}}, rationale: r}\n"
        "      - {from: yes, to: {no: {beta: [2, 5]}}, rationale: r}\n"
    )
    scenario = forecast.load_scenario(variant)
    assert [r.id for r in scenario.rules] == ["a_moves", "a:yes", "b:low[a=yes]", "b:mid"]


def test_prior_table_has_the_ids(kursk) -> None:
    table = prior_table(kursk, elicit(kursk))
    assert list(dict.fromkeys(table["rule"])) == [r.id for r in kursk.rules]
    # an id indexes a pandas table like any other label
    row = table.set_index(["rule", "destination"]).loc[
        ("pressure:high[occupation=substantial|foothold]", "low")
    ]
    assert row["stated_best"] == 0.2


def test_a_fit_round_trips_through_netcdf_with_the_ids(tiny, tiny_fits, tmp_path) -> None:
    """The CLI writes fits with ``InferenceData.to_netcdf`` (h5netcdf): ids as variable,
    dimension and coordinate names survive the round trip."""
    fit = tiny_fits["all evidence"]
    path = tmp_path / "fit.nc"
    fit.to_netcdf(str(path), engine="h5netcdf")
    back = az.from_netcdf(str(path), engine="h5netcdf")
    for group in ("posterior", "prior"):
        for rule in tiny.rules:
            assert rule.id in back[group].data_vars, (group, rule.id)
            assert_allclose(back[group][rule.id].values, fit[group][rule.id].values)
    dirichlet = back.posterior["b:low[a=yes]"]
    assert dirichlet.dims == ("chain", "draw", "b:low[a=yes]_outcome")
    assert list(dirichlet["b:low[a=yes]_outcome"].values) == ["stay", "mid", "high"]
    rules = [d for d in back.posterior.coords if d.endswith("_rule")]
    assert rules and all(
        set(map(str, back.posterior[d].values)) <= {r.id for r in tiny.rules} for d in rules
    )
    mid = back.posterior["b:mid"].sel({"b:mid_outcome": "high"}).values
    assert np.all((mid > 0) & (mid < 1))
