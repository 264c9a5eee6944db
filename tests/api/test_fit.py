"""Fit: tables, comparison, re-fits after an edit, provenance on save and load, pools."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast import Fit, ScenarioModel
from tests.paths import KURSK, TINY

SMALL = {"draws": 600, "tune": 300, "chains": 2, "cores": 1}


@pytest.fixture(scope="module")
def model():
    return ScenarioModel.from_file(TINY)


@pytest.fixture(scope="module")
def fit(model):
    return model.fit(seed=3, sampler=SMALL)


def test_as_of_string_and_date_agree(model):
    import datetime as dt

    a = model.fit(as_of="2024-02-29", seed=4, sampler=SMALL)
    b = model.fit(as_of=dt.date(2024, 2, 29), seed=4, sampler=SMALL)
    assert a.as_of == b.as_of == dt.date(2024, 2, 29)
    assert_allclose(a.idata.posterior["question_prob"], b.idata.posterior["question_prob"])
    with pytest.raises(TypeError, match="as_of"):
        model.fit(as_of=20240229, sampler=SMALL)
    with pytest.raises(TypeError, match="seed"):
        model.fit(seed=True, sampler=SMALL)


def test_questions_table(model, fit):
    table = fit.questions()
    assert list(table.index) == [q.id for q in model.scenario.questions]
    assert {"text", "date", "prior_mean", "mean", "low90", "high90"} <= set(table.columns)
    values = fit.idata.posterior["question_prob"].values.reshape(-1, len(table))
    assert_allclose(table["mean"], values.mean(axis=0))
    assert ((table["low90"] <= table["mean"]) & (table["mean"] <= table["high90"])).all()
    prior = model.prior_predictive(seed=5, draws=300)
    assert prior.method == "prior" and prior.group == "prior"
    assert "prior_mean" not in prior.questions().columns


def test_provenance_attributes(model, fit):
    attrs = fit.idata.posterior.attrs
    assert attrs["scenario_hash"] == model.scenario.hash
    assert attrs["priors_digest"] == hashlib.sha256(attrs["priors_json"].encode()).hexdigest()
    record = json.loads(attrs["priors_json"])
    assert [r["rule"] for r in record] == list(model.rules)
    assert attrs["seed"] == 3 and attrs["as_of"] == "all evidence"
    assert attrs["sampler_draws"] == SMALL["draws"]


def test_compare(model, fit):
    same = fit.compare(fit)
    assert (same["change"] == 0).all()
    rule = model.rule("a", from_="no")
    other = fit.refit(model.with_judgement(rule.name, best=0.4))
    table = fit.compare(other)
    assert_allclose(table["after"] - table["before"], table["change"])
    assert_allclose(table["after"], other.questions()["mean"])
    with pytest.raises(TypeError, match="another Fit"):
        fit.compare(fit.idata)


def test_refit_reweights_a_small_edit(model, fit):
    from forecast.analysis.reweighting import update_priors

    rule = model.rule("a", from_="no")
    edited = model.with_judgement(rule.name, best=0.33)
    refit = fit.refit(edited)
    assert refit.method == "reweighted"
    assert refit.model is edited
    assert refit.reweighting["pareto_k"] <= forecast.settings.PARETO_K_MAX
    assert refit.idata.posterior.attrs["priors_digest"] == edited.priors_digest
    expected = update_priors(model.fitter(SMALL), fit.idata, edited.priors, seed=fit.seed)
    assert_allclose(refit.idata.posterior["question_prob"], expected.posterior["question_prob"])


def test_refit_far_edit_uses_the_likelihood_pool(model, fit):
    # the fit's own draws cannot carry this edit; the pool (with draws from the edited
    # priors themselves) can, and agrees with NUTS under the edited priors
    rule = model.rule("a", from_="no")
    edited = model.with_parameters(rule.name, beta=(60.0, 2.0))
    far = fit.refit(edited)
    assert far.method == "reweighted"
    assert far.idata.posterior.attrs["reweight_source"] == "likelihood pool"
    assert far.reweighting["pareto_k"] <= forecast.settings.PARETO_K_MAX
    assert far.reweighting["ess"] >= forecast.settings.ESS_MIN
    nuts = edited.fit(seed=9, sampler=SMALL)
    draws = nuts.idata.posterior["question_prob"].values.reshape(-1, len(nuts.questions()))
    se = draws.std(axis=0) / np.sqrt(far.reweighting["ess"]) + draws.std(axis=0) / 20
    gap = np.abs(far.questions()["mean"].to_numpy() - nuts.questions()["mean"].to_numpy())
    assert np.all(gap <= 4 * se + 1e-6)
    # the same edit gives the same fit, whatever was edited before
    fit.refit(model.with_parameters(rule.name, beta=(2.0, 60.0)))
    again = fit.refit(edited)
    assert_allclose(again.questions()["mean"], far.questions()["mean"])


def test_refit_runs_nuts_when_it_must(model, fit, monkeypatch):
    from forecast.analysis.reweighting import likelihood_pool, prior_update

    rule = model.rule("a", from_="no")
    # nothing is trusted: NUTS
    monkeypatch.setattr(prior_update, "ESS_MIN", 10**9)
    monkeypatch.setattr(likelihood_pool, "ESS_MIN", 10**9)
    far = fit.refit(model.with_parameters(rule.name, beta=(60.0, 2.0)))
    assert far.method == "nuts"
    assert far.reweighting["ess"] < 10**9
    monkeypatch.undo()
    window = fit.refit(model.with_judgement(rule.name, within_months=3))
    assert window.method == "nuts" and not window.reweighting  # the likelihood changed


def test_save_and_load(model, fit, tmp_path):
    path = fit.save(tmp_path)
    assert path.is_file() and (tmp_path / f"{path.stem}_questions.csv").is_file()
    back = Fit.load(path, model)
    assert back.seed == fit.seed and back.as_of is None and back.method == "nuts"
    assert back.sampler == fit.sampler
    assert_allclose(back.questions()["mean"], fit.questions()["mean"])
    rule = model.rule("a", from_="no")
    with pytest.raises(forecast.DifferentModelError, match=rf"priors differ: rule {rule.name}"):
        Fit.load(path, model.with_judgement(rule.name, best=0.4))
    with pytest.raises(forecast.DifferentModelError, match="scenario differs"):
        Fit.load(path, ScenarioModel.from_file(KURSK))
    with pytest.raises(FileNotFoundError):
        Fit.load(tmp_path / "missing.nc", model)


def test_diagnostics(fit):
    diag = fit.diagnostics()
    assert set(diag.table["quantity"].str.split("[").str[0]) >= {"question_prob"}
    with pytest.raises(ValueError, match="prior predictive"):
        fit.model.prior_predictive(seed=1, draws=50).diagnostics()


def test_pool_of_fits(model, fit):
    rule = model.rule("a", from_="no")
    other = fit.refit(model.with_judgement(rule.name, best=0.4))
    table = forecast.pool({"one": fit, "two": other})
    names = set(table["forecaster"])
    assert {"one", "two", "linear pool", "log pool"} <= names
    means = table.pivot_table(index="question", columns="forecaster", values="mean")
    assert_allclose(means["linear pool"], (means["one"] + means["two"]) / 2)
    ess = table.groupby("forecaster")["ess"].first()
    diag = fit.diagnostics(parameters=False).table
    assert ess["one"] == pytest.approx(diag.loc[~diag["constant"], "ess_bulk"].min())
    if other.method == "reweighted":
        assert ess["two"] == pytest.approx(other.reweighting["ess"])
    with pytest.raises(TypeError, match="mapping"):
        forecast.pool([fit, other])


def test_headline_and_diagnostics_tables(tiny):
    with_outcomes = ScenarioModel(tiny)
    fits = {"all": with_outcomes.fit(seed=2, sampler=SMALL)}
    table = forecast.headline(fits)
    assert set(table["outcome"]) == {o.label for o in tiny.outcomes}
    assert set(forecast.diagnostics(fits)["fit"]) == {"all"}
    with pytest.raises(TypeError, match="not a Fit"):
        forecast.headline({"all": fits["all"].idata})


def test_import_is_light():
    code = (
        "import sys, forecast; forecast.ScenarioModel; "
        "print(sorted(m for m in ('arviz', 'pymc', 'pytensor', 'numba', 'nutpie', "
        "'ruamel.yaml', 'ipywidgets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_numbers_are_stable_under_the_front_door(model, fit):
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

    direct = ScenarioFitter(model.scenario, sampler=SamplerConfig(**SMALL)).fit(seed=3)
    assert_allclose(direct.posterior["question_prob"], fit.idata.posterior["question_prob"])
    assert np.isfinite(fit.questions()["mean"]).all()
