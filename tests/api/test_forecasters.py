"""Forecasters: several models of one structure, their forecasts, pools and disagreement."""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose

import forecast
from forecast import Forecasters, ScenarioModel
from tests.paths import KURSK, TINY

VARIANT = """extends: {base}
id: tiny_{name}
author: forecaster {name}
nodes:
  a:
    transitions:
      - {{from: no, to: {{yes: {{best: {best}, interval: [0.05, 0.7]}}}}, within_months: 2,
         rationale: r}}
      - {{from: yes, to: {{no: {{beta: [2, 5]}}}}, rationale: r}}
"""


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forecasters")
    files = {}
    for name, best in (("low", 0.2), ("high", 0.5)):
        path = folder / f"{name}.yaml"
        path.write_text(VARIANT.format(base=TINY, name=name, best=best))
        files[name] = path
    return Forecasters.from_files(files, reference=TINY)


def test_priors_differ_where_written(panel):
    table = panel.prior_table()
    assert set(table["forecaster"]) == {"low", "high"}
    rule = panel.reference.rule("a", from_="no").name
    means = table[table["rule"] == rule].set_index("forecaster")["mean"]
    assert means["low"] < means["high"]


def test_forecasts_and_pools(panel):
    draws = panel.forecasts({"all evidence": None}, seed=2, draws=400)
    assert set(draws) == {(n, s) for n in ("low", "high") for s in ("prior", "all evidence")}
    table = panel.forecast_table(draws)
    stage = table[table["stage"] == "all evidence"].pivot_table(
        index="question", columns="forecaster", values="mean"
    )
    assert_allclose(stage["linear pool"], (stage["low"] + stage["high"]) / 2)
    spread = panel.disagreement(table)
    assert len(spread) == len(panel.reference.scenario.questions)
    # the reference keeps its own priors after the forecasters' draws
    assert panel.reference.fitter().priors is panel.reference.priors


def test_structure_checked(panel):
    with pytest.raises(ValueError, match="structure"):
        panel.with_forecaster("kursk", ScenarioModel.from_file(KURSK))
    with pytest.raises(TypeError, match="ScenarioModel"):
        Forecasters({"x": panel.reference.scenario})


def test_bad_cut_off(panel):
    with pytest.raises(TypeError, match="cut_offs"):
        panel.forecasts({"when": 2024}, draws=10)
    assert forecast.Forecasters is Forecasters
