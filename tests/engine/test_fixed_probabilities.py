"""Rules with fixed probabilities: tables, exact 0 and 1, and scenarios with nothing to sample."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import forecast
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.engine.tables import build_tables, node_tables
from tests.conftest import tiny_variant

A_YES = "      - {from: yes, to: {no: {beta: [2, 5]}}, rationale: r}"
A_NO = (
    "      - {from: no, to: {yes: {best: 0.3, interval: [0.1, 0.6]}}, within_months: 2, "
    "rationale: r}"
)


def _variant(folder, name, replacements):
    """The tiny chain with outcomes, lines of it replaced (``old -> new``)."""
    tiny_variant(folder, name)
    path = folder / f"{name}.yaml"
    text = path.read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return path, forecast.load_scenario(path)


def _fixed(folder, name, a_yes):
    return _variant(folder, name, {A_YES: a_yes})[1]


def test_a_fixed_rule_is_the_free_rule_at_that_value(tmp_path):
    free = tiny_variant(tmp_path, "free")
    fixed = _fixed(
        tmp_path,
        "fixed",
        "      - {from: yes, probabilities: {stay: 0.75, no: 0.25}, rationale: r}",
    )
    assert [r.name for r in fixed.rules] == [r.name for r in free.rules if r.name != "a:yes"]
    rule = next(r for r in fixed.node("a").rules if r.name == "a:yes")
    assert not rule.is_free and rule.describe().startswith("a: yes -> no 0.25 (fixed)")
    free_params = [
        np.full(len(r.destinations) + 1, 1.0 / (len(r.destinations) + 1)) for r in free.rules
    ]
    fixed_params = [p for r, p in zip(free.rules, free_params, strict=True) if r.name != "a:yes"]
    free_params[[r.name for r in free.rules].index("a:yes")] = np.array([0.75, 0.25])
    evidence = evidence_matrices(free, free.evidence)
    by_free = ExactEngine(free).run(free_params, evidence)
    by_fixed = ExactEngine(fixed).run(fixed_params, evidence)
    assert by_fixed.loglik == pytest.approx(by_free.loglik, abs=1e-12)
    for q in free.questions:
        assert by_fixed.questions[q.id] == pytest.approx(by_free.questions[q.id], abs=1e-12)
    # and the compiled passes agree with the numpy pass
    drawn = ExactEngine(fixed).run_draws([p[None] for p in fixed_params], evidence)
    for q in fixed.questions:
        assert drawn.questions[q.id][0] == pytest.approx(by_fixed.questions[q.id], abs=1e-12)


@pytest.mark.parametrize(
    ("written", "row"),
    [
        (
            "{from: yes, probabilities: {stay: 0.75, no: 0.25}, within_months: 3, rationale: r}",
            [1 - 0.75 ** (1 / 3), 0.75 ** (1 / 3)],
        ),
        (
            "{from: yes, probabilities: {stay: 0, no: 1}, within_months: 3, rationale: r}",
            [1.0, 0.0],
        ),
        (
            "{from: yes, probabilities: {stay: 1, no: 0}, within_months: 3, rationale: r}",
            [0.0, 1.0],
        ),
        ("{from: yes, probabilities: {no: 1}, rationale: r}", [1.0, 0.0]),
    ],
)
def test_fixed_rows_are_monthly_and_take_exact_zero_and_one(tmp_path, written, row):
    scenario = _fixed(tmp_path, "rows", f"      - {written}")
    layout = node_tables(scenario)
    a = scenario.node_index["a"]
    params = [np.full(len(r.destinations) + 1, 0.5) for r in scenario.rules]
    table = build_tables(layout, params, np)[a]  # (old, new)
    assert table[1] == pytest.approx(row, abs=1e-15)
    assert np.all(np.isfinite(table)) and table.sum(axis=-1) == pytest.approx(1.0)


B_LOW = (
    "        to: {mid: {best: 0.4, interval: [0.2, 0.6]}, high: {best: 0.2, interval: [0.05, 0.4]}}"
)
B_MID = "      - {from: mid, dirichlet: {stay: 3, low: 1, high: 2}, rationale: r}"
ALL_FIXED = {
    A_YES: "      - {from: yes, probabilities: {stay: 0.75, no: 0.25}, rationale: r}",
    A_NO: "      - {from: no, probabilities: {stay: 0.4, yes: 0.6}, within_months: 2, "
    "rationale: r}",
    B_LOW: "        probabilities: {stay: 0.4, mid: 0.4, high: 0.2}",
    B_MID: "      - {from: mid, probabilities: {stay: 0, low: 0, high: 1}, rationale: r}",
}


@pytest.fixture(scope="module")
def all_fixed(tmp_path_factory):
    return _variant(tmp_path_factory.mktemp("all_fixed"), "all_fixed", ALL_FIXED)


def test_a_scenario_with_only_fixed_rules_fits_exactly(all_fixed):
    path, scenario = all_fixed
    assert scenario.rules == []
    model = forecast.ScenarioModel.from_file(path)
    fit = model.fit(sampler={"draws": 50, "tune": 50, "chains": 2, "cores": 1})
    exact = ExactEngine(scenario).run([], evidence_matrices(scenario, scenario.evidence))
    probs = fit.idata.posterior["question_prob"]
    assert probs.sizes == {"chain": 2, "draw": 50, "question": len(scenario.questions)}
    for q in scenario.questions:
        values = probs.sel(question=q.id).values
        assert np.all(values == values.flat[0])
        assert values.flat[0] == pytest.approx(exact.questions[q.id], abs=1e-12)
    assert fit.idata.posterior.attrs["fit_method"].startswith("exact")


def test_forecast_fit_says_a_scenario_with_only_fixed_rules_is_exact(all_fixed, tmp_path):
    path, _ = all_fixed
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "forecast.cli",
            "fit",
            str(path),
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "every rule has fixed probabilities: exact, nothing to sample" in done.stdout
    assert "the forecast is exact" in done.stdout
    assert "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr


SPRINKLER = Path(__file__).resolve().parents[1] / "scenarios" / "sprinkler_network.yaml"


def test_a_cpt_node_is_the_network_it_writes():
    """The sprinkler network as cpt rows: P(rain | wet grass) by hand, exactly."""
    scenario = forecast.load_scenario(SPRINKLER)
    assert scenario.rules == []
    result = ExactEngine(scenario).run([], evidence_matrices(scenario, scenario.evidence))
    wet_and_rain = 0.2 * (0.99 * 0.8 + 0.01 * 0.99)
    wet_no_rain = 0.8 * (0.6 * 0.0 + 0.4 * 0.9)
    expected = wet_and_rain / (wet_and_rain + wet_no_rain)
    assert result.questions["rain_given_wet"] == pytest.approx(expected, abs=1e-15)
    # the table's rows are memoryless: from either old state the same row
    wet = node_tables(scenario)[scenario.node_index["wet"]]
    table = build_tables([wet], [], np)[0]  # (rain, sprinkler, old, new)
    assert np.array_equal(table[..., 0, :], table[..., 1, :])
    assert table[1, 0, 0] == pytest.approx([0.2, 0.8])


def test_check_shows_a_cpt_node_as_one_table():
    done = subprocess.run(
        [sys.executable, "-m", "forecast.cli", "check", str(SPRINKLER)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "wet: fixed table (cpt) of 4 row(s) over rain, sprinkler, memoryless" in done.stdout
    assert "0 rule parameters" in done.stdout
