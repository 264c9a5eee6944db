"""ScenarioModel: loading, rule lookup, immutable edits checked and elicited as the file is."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

import forecast
from forecast import ScenarioModel
from forecast.scenario.yaml_source import load_yaml
from tests.paths import TINY

SMALL = {"draws": 100, "tune": 100, "chains": 2, "cores": 1}


@pytest.fixture(scope="module")
def model():
    return ScenarioModel.from_file(TINY)


def a_rule(model):
    return model.rule("a", from_="no")


def edited_file(tmp_path, change):
    """A copy of the tiny chain with ``change(data)`` applied, loaded as a model."""
    data, _ = load_yaml(TINY)
    change(data)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return ScenarioModel.from_file(path)


def test_from_dict_equals_from_file(model):
    data, _ = load_yaml(TINY)
    built = ScenarioModel.from_dict(data, name="tiny", folder=TINY.parent)
    assert built.rules == model.rules
    assert [(e.node, e.date, e.states) for e in built.scenario.evidence] == [
        (e.node, e.date, e.states) for e in model.scenario.evidence
    ]
    assert built.scenario.evidence[0].origin.startswith("tiny:")
    for a, b in zip(built.priors.rules, model.priors.rules, strict=True):
        assert_allclose(a.alpha, b.alpha)


def test_from_dict_reports_like_a_file():
    data, _ = load_yaml(TINY)
    data["nodes"]["a"]["transitions"][0]["to"]["yes"]["best"] = 0.9  # outside [0.1, 0.6]
    with pytest.raises(forecast.ScenarioError) as err:
        ScenarioModel.from_dict(data, name="my scenario", folder=TINY.parent)
    problem = err.value.problems[0]
    assert problem.file == "my scenario"
    assert problem.field.startswith("nodes.a.transitions[0]")
    assert "0.9" in problem.message
    with pytest.raises(forecast.ScenarioError, match="not a mapping"):
        ScenarioModel.from_dict(["not", "a", "mapping"])


def test_rule_lookup(model):
    rule = model.rule("b", from_="low", given={"a": "yes"})
    assert rule.node == "b" and rule.from_states == ("low",)
    assert rule.name in model.rules
    with pytest.raises(KeyError, match="no node"):
        model.rule("nope")
    with pytest.raises(KeyError, match="its rules"):
        model.rule("a")  # two rules of a: from no, from yes


def test_edit_returns_a_new_model_and_leaves_the_old_one(model):
    rule = a_rule(model)
    before = model.priors[rule.name].alpha.copy()
    edited = model.with_judgement(rule.name, best=0.5)
    assert edited is not model
    assert_allclose(model.priors[rule.name].alpha, before)
    assert not np.allclose(edited.priors[rule.name].alpha, before)
    assert edited.scenario.rules[0].judgements["yes"].best == 0.5
    assert model.scenario.rules[0].judgements["yes"].best == 0.3
    for r in model.rules:  # the other rules keep their priors
        if r != rule.name:
            assert_allclose(edited.priors[r].alpha, model.priors[r].alpha)
    assert edited.machinery is model.machinery
    assert edited.priors_digest != model.priors_digest


def test_edit_elicits_as_a_file_does(model, tmp_path):
    rule = model.rule("b", from_="low", given={"a": "yes"})
    edited = model.with_judgement(
        rule.name, to="mid", best=0.3, interval=(0.1, 0.5), credibility=0.9
    )

    def change(data):
        data["nodes"]["b"]["transitions"][0]["to"]["mid"] = {
            "best": 0.3,
            "interval": [0.1, 0.5],
            "credibility": 0.9,
        }

    from_file = edited_file(tmp_path, change)
    assert_allclose(edited.priors[rule.name].alpha, from_file.priors[rule.name].alpha, rtol=1e-12)
    assert edited.priors[rule.name].stated == from_file.priors[rule.name].stated


def test_window_edit(model):
    rule = a_rule(model)
    edited = model.with_judgement(rule.name, within_months=4)
    assert next(r for r in edited.scenario.rules if r.name == rule.name).within_months == 4
    assert edited.priors_digest != model.priors_digest  # the window is part of the priors' record


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"best": 0.7}, "must contain the best guess"),
        ({"best": 1.5}, "less than 1"),
        ({"credibility": 1.0}, "less than 1"),
        ({"interval": (0.5, 0.2)}, "lo < hi"),
        ({"within_months": 0}, "greater than 0"),
        ({"best": "high"}, "number"),
    ],
)
def test_bad_edit_gives_the_files_message(model, tmp_path, kwargs, words):
    rule = a_rule(model)
    with pytest.raises(forecast.ScenarioError) as err:
        model.with_judgement(rule.name, **kwargs)
    problem = err.value.problems[0]
    assert words in problem.message
    assert f"(rule {rule.name})" in problem.field
    assert problem.file == str(TINY)

    def change(data):
        entry = data["nodes"]["a"]["transitions"][0]
        judgement = entry["to"]["yes"]
        for key, value in kwargs.items():
            if key == "within_months":
                entry[key] = value
            else:
                judgement[key] = list(value) if isinstance(value, tuple) else value

    with pytest.raises(forecast.ScenarioError) as from_file:
        edited_file(tmp_path, change)
    assert from_file.value.problems[0].message == problem.message


def test_unknown_rule_and_destination(model):
    with pytest.raises(KeyError, match="the ids are"):
        model.with_judgement("no_such_rule", best=0.2)
    rule = model.rule("b", from_="low", given={"a": "yes"})
    with pytest.raises(KeyError, match="name one with to="):
        model.with_judgement(rule.name, best=0.2)
    with pytest.raises(KeyError, match="no destination"):
        model.with_judgement(rule.name, to="low", best=0.2)


def test_with_parameters(model):
    rule = a_rule(model)
    edited = model.with_parameters(rule.name, beta=(2.0, 6.0))
    assert_allclose(edited.priors[rule.name].alpha, [6.0, 2.0])  # [stay, move]
    mid = model.rule("b", from_="mid")
    edited = model.with_parameters(mid.name, dirichlet={"stay": 4, "low": 2, "high": 1})
    labels = edited.priors[mid.name].labels
    assert dict(zip(labels, edited.priors[mid.name].alpha, strict=True)) == {
        "stay": 4,
        "low": 2,
        "high": 1,
    }
    with pytest.raises(ValueError, match="exactly one"):
        model.with_parameters(rule.name)
    with pytest.raises(ValueError, match="one destination"):
        model.with_parameters(mid.name, beta=(1, 1))
    with pytest.raises(forecast.ScenarioError, match="greater than 0"):
        model.with_parameters(rule.name, beta=(0.0, 1.0))
    with pytest.raises(ValueError, match="Dirichlet"):
        model.with_judgement(mid.name, to="low", best=0.2)


def test_an_edit_shares_the_compiled_fitter(model):
    rule = a_rule(model)
    edited = model.with_judgement(rule.name, best=0.45)
    first = model.fitter(SMALL)
    assert edited.fitter(SMALL) is first
    assert first.priors is edited.priors  # handed the edited priors, not rebuilt
    assert model.fitter(SMALL) is first and first.priors is model.priors
    assert model.machinery.compiles <= 1


def test_repr(model):
    assert "tiny_chain" in repr(model) and "rules with a prior" in repr(model)


def test_a_fit_starts_compiling_before_it_elicits(monkeypatch):
    """On a fresh machine the kernels compile in a second process while PreliZ works."""
    import forecast.api.model as front
    from forecast.engine import compile_ahead

    calls = []
    monkeypatch.setattr(compile_ahead, "start", lambda: calls.append("compile") or False)
    elicit = front.elicit
    monkeypatch.setattr(front, "elicit", lambda s: calls.append("elicit") or elicit(s))
    model = ScenarioModel.from_file(TINY)
    assert calls == []  # loading neither compiles nor elicits
    model.fitter({"draws": 10, "tune": 10, "chains": 1, "cores": 1})
    assert calls[:2] == ["compile", "elicit"]  # (the fitter asks again: started once)
