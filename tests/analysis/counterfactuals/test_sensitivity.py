"""Tornado swings by re-weighting, and prior-vs-data power-scaling, against hand computations.

The single-rule scenario has one node ``x`` (no -> yes within one month, yes absorbing) and x
seen ``no`` in January, so with a Beta(a, b) prior on the monthly move the posterior is
Beta(a, b + 1) and P(x reached yes by February) = a / (a + b + 1): every tornado end is known
in closed form. Without evidence (prior predictive) P(yes in January) = E[theta] = the prior
mean and P(reached by February) = 1 - E[(1 - theta)^2].
"""

from __future__ import annotations

import logging

import arviz as az
import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose
from scipy import stats

import forecast
from forecast.analysis.counterfactuals.sensitivity import (
    outcome_questions,
    power_scaling,
    prior_edits,
    rule_label,
    shift_mean,
    top_swings,
    tornado_table,
    with_log_densities,
)
from forecast.analysis.reweighting import log_prior_draws, rule_log_density
from forecast.elicitation import elicit
from forecast.engine.exact import ExactEngine, evidence_matrices
from forecast.plots.sensitivity import plot_power_scaling, plot_tornado

SINGLE_RULE = """
id: single_rule
title: One rule decides the outcome
source: {{citation: "Test fixture"}}
author: tests
priors_set_on: 2024-01-15
start: 2024-01
horizon: {horizon}
nodes:
  x:
    description: the only node
    initial: no
    absorbing: [yes]
    transitions:
      - {{from: no, to: {{yes: {prior}}}, within_months: 1, rationale: r{reference}}}
evidence:
  observations:
{observations}
outcomes:
  - {{id: x_yes, label: x has become yes, node: x, state: yes, kind: reached}}
report_dates: [2024-01-31]
"""

JUDGEMENT = "{best: 0.3, interval: [0.1, 0.6]}"


def write_single_rule(
    tmp_path,
    prior: str = JUDGEMENT,
    months_seen_no: int = 1,
    reference: str = "",
    name: str = "single.yaml",
):
    """The single-rule scenario: x seen ``no`` in the first months, horizon one month later."""
    observations = "\n".join(
        f"    - {{node: x, date: {2024 + m // 12}-{m % 12 + 1:02d}-28, state: no, source: s}}"
        for m in range(months_seen_no)
    )
    horizon = f"{2024 + months_seen_no // 12}-{months_seen_no % 12 + 1:02d}"
    path = tmp_path / name
    path.write_text(
        SINGLE_RULE.format(
            horizon=horizon, prior=prior, reference=reference, observations=observations
        )
    )
    return forecast.load_scenario(path)


def draws_idata(
    scenario, theta: np.ndarray, group: str, evidence=None, chains: int = 2
) -> az.InferenceData:
    """InferenceData holding exact draws of the single rule and their question probabilities."""
    engine = ExactEngine(scenario)
    result = engine.run_draws([np.stack([1 - theta, theta], axis=-1)], evidence)
    values = np.stack([result.questions[q.id] for q in scenario.questions], axis=-1)
    shape = (chains, theta.size // chains)
    rule = scenario.rules[0].name
    ds = xr.Dataset(
        {
            rule: (("chain", "draw"), theta.reshape(shape)),
            "question_prob": (("chain", "draw", "question"), values.reshape(*shape, -1)),
        },
        coords={"question": [q.id for q in scenario.questions]},
    )
    return az.InferenceData(**{group: ds})


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return write_single_rule(tmp_path_factory.mktemp("single"))


# --------------------------------------------------------------------------------------------
# prior edits


@pytest.mark.parametrize(
    ("alpha", "index", "mean", "expected"),
    [
        ([3.0, 1.0], 1, 0.5, [2.0, 2.0]),  # Beta(1, 3) -> Beta(2, 2)
        ([3.0, 1.0], 1, 0.1, [3.6, 0.4]),
        ([2.0, 1.0, 1.0], 1, 0.5, [4 / 3, 2.0, 2 / 3]),  # the others keep their 2:1 odds
        ([2.0, 1.0, 1.0], 0, 0.25, [1.0, 1.5, 1.5]),
    ],
)
def test_shift_mean_keeps_concentration_and_odds(alpha, index, mean, expected):
    out = shift_mean(np.array(alpha), index, mean)
    assert_allclose(out, expected, rtol=1e-12)
    assert_allclose(out.sum(), sum(alpha), rtol=1e-12)
    assert_allclose(out[index] / out.sum(), mean, rtol=1e-12)


@pytest.mark.parametrize("mean", [0.0, 1.0, -0.1])
def test_shift_mean_refuses_means_outside_the_open_interval(mean):
    with pytest.raises(ValueError, match="strictly between"):
        shift_mean(np.array([1.0, 1.0]), 1, mean)


def test_rule_label_names_the_move_and_the_condition(kursk):
    talks = {r.name: r for r in kursk.rules}[
        "talks:none[mediation=active,pressure=high,us_push=inactive]"
    ]
    assert rule_label(talks, "direct") == (
        "talks: none->direct | us_push=inactive, pressure=high, mediation=active"
    )
    assert rule_label({r.name: r for r in kursk.rules}["occupation:substantial"], "none") == (
        "occupation: substantial->none"
    )


def test_rule_log_density_is_the_beta_and_dirichlet_density():
    p = np.array([0.1, 0.5, 0.93])
    assert_allclose(
        rule_log_density(np.array([4.0, 2.5]), np.stack([1 - p, p], -1)),
        stats.beta(2.5, 4.0).logpdf(p),
        rtol=1e-12,
    )
    q = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    alpha = np.array([2.0, 1.5, 3.0])
    assert_allclose(
        rule_log_density(alpha, q), [stats.dirichlet(alpha).logpdf(v) for v in q], rtol=1e-12
    )


def test_prior_edits_use_stated_intervals_else_the_prior_interval(tiny):
    priors = elicit(tiny)
    edits = {(e.rule, e.destination): e for e in prior_edits(tiny, priors, credibility=0.8)}
    stated = edits[("a:no", "yes")]
    assert (stated.low, stated.high, stated.interval_source) == (0.1, 0.6, "stated")
    assert_allclose(stated.baseline, 0.3, rtol=1e-9)
    assert_allclose(stated.alpha_low[1] / stated.alpha_low.sum(), 0.1, rtol=1e-12)
    assert_allclose(stated.alpha_high.sum(), priors["a:no"].alpha.sum(), rtol=1e-12)
    given = edits[("a:yes", "no")]  # written as beta: [2, 5]
    assert given.interval_source == "prior 80% interval"
    assert_allclose([given.low, given.high], stats.beta(2, 5).ppf([0.1, 0.9]), rtol=1e-12)
    dirichlet = edits[("b:mid", "high")]  # dirichlet {stay: 3, low: 1, high: 2}: marginal B(2, 4)
    assert_allclose([dirichlet.low, dirichlet.high], stats.beta(2, 4).ppf([0.1, 0.9]), rtol=1e-12)
    assert len(edits) == sum(len(r.destinations) for r in tiny.rules)


def test_outcome_questions_filter_by_outcome_and_month(single):
    assert [q.id for q in outcome_questions(single)] == ["x_yes_by_2024_01", "x_yes_by_2024_02"]
    assert [q.id for q in outcome_questions(single, dates=["2024-02"])] == ["x_yes_by_2024_02"]
    with pytest.raises(ValueError, match="unknown outcome"):
        outcome_questions(single, ["nope"])


# --------------------------------------------------------------------------------------------
# tornado: exact expectations


def _beta_ab(scenario):
    alpha = elicit(scenario).rules[0].alpha
    return float(alpha[1]), float(alpha[0])


def _within(est, exact, se, z=4.0, floor=2e-3):
    assert abs(est - exact) <= z * se + floor, (est, exact, se)


def test_posterior_tornado_matches_the_conjugate_posterior(single):
    a, b = _beta_ab(single)
    kappa = a + b
    rng = np.random.default_rng(11)
    evidence = evidence_matrices(single, single.evidence)
    idata = draws_idata(single, rng.beta(a, b + 1, size=8000), "posterior", evidence)
    table = tornado_table(idata, single, group="posterior")
    later = table[table["question"] == "x_yes_by_2024_02"].iloc[0]
    exact = {end: kappa * x / (kappa + 1) for end, x in (("low", 0.1), ("high", 0.6))}
    assert_allclose(later["baseline"], a / (a + b + 1), atol=0.01)
    for end in ("low", "high"):
        if later[f"k_{end}"] <= 0.7:
            _within(later[end], exact[end], later[f"{end}_se"])
    # monotone: a higher best guess of the only rule raises the only outcome
    assert later["low"] < later["baseline"] < later["high"]
    assert later["swing"] == pytest.approx(later["high"] - later["low"])
    # January is observed (x was no): nothing moves it
    january = table[table["question"] == "x_yes_by_2024_01"].iloc[0]
    assert january["baseline"] == january["low"] == january["high"] == 0.0
    # flagged ends re-computed from the edited prior and the exact likelihood match too
    redone = tornado_table(
        idata,
        single,
        group="posterior",
        recompute="prior_is",
        k_threshold=-1.0,
        draws=20000,
        seed=5,
    )
    row = redone[redone["question"] == "x_yes_by_2024_02"].iloc[0]
    assert row["method_low"] == row["method_high"] == "prior IS"
    for end in ("low", "high"):
        _within(row[end], exact[end], row[f"{end}_se"])


def test_prior_tornado_matches_the_edited_prior_moments(single):
    a, b = _beta_ab(single)
    kappa = a + b
    rng = np.random.default_rng(12)
    idata = draws_idata(single, rng.beta(a, b, size=8000), "prior")

    def reached(x):  # 1 - E[(1 - theta)^2] under Beta(kappa x, kappa (1 - x))
        return 1 - (1 - x) * (kappa * (1 - x) + 1) / (kappa + 1)

    for method in (None, "prior_is"):
        table = tornado_table(
            idata,
            single,
            group="prior",
            recompute=method,
            k_threshold=-1.0 if method else 0.7,
            draws=20000,
            seed=3,
        )
        rows = table.set_index("question")
        for end, x in (("low", 0.1), ("high", 0.6)):
            for question, exact in (("x_yes_by_2024_01", x), ("x_yes_by_2024_02", reached(x))):
                row = rows.loc[question]
                if method or row[f"k_{end}"] <= 0.7:
                    _within(row[end], exact, row[f"{end}_se"])
        assert (rows["low"] < rows["baseline"]).all() and (rows["baseline"] < rows["high"]).all()
        if method:
            assert set(table["method_low"]) == {"re-drawn"}


def test_refit_recomputes_flagged_ends_with_the_fitter(single):
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

    for name in ("pymc", "pytensor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    a, b = _beta_ab(single)
    kappa = a + b
    fitter = ScenarioFitter(single, sampler=SamplerConfig(draws=200, tune=200, chains=2, cores=1))
    original = fitter.priors
    # exact posterior draws stand for the fit; the flagged ends are re-fitted with NUTS
    rng = np.random.default_rng(13)
    evidence = evidence_matrices(single, single.evidence)
    idata = draws_idata(single, rng.beta(a, b + 1, size=4000), "posterior", evidence)
    table = tornado_table(
        idata,
        single,
        recompute="refit",
        k_threshold=-1.0,
        fitter=fitter,
        outcomes=["x_yes"],
        dates=["2024-02"],
        seed=4,
    )
    assert fitter.priors is original  # restored
    row = table.iloc[0]
    assert row["method_low"] == row["method_high"] == "re-fitted"
    assert not row["flagged"]
    for end, x in (("low", 0.1), ("high", 0.6)):
        _within(row[end], kappa * x / (kappa + 1), row[f"{end}_se"], floor=0.01)
    # prior mode: the fitter re-draws the prior predictive (no sampling)
    prior = draws_idata(single, rng.beta(a, b, size=4000), "prior")
    redrawn = tornado_table(
        prior,
        single,
        group="prior",
        recompute="refit",
        k_threshold=-1.0,
        fitter=fitter,
        outcomes=["x_yes"],
        dates=["2024-01"],
        seed=4,
    )
    row = redrawn.iloc[0]
    assert row["method_low"] == row["method_high"] == "re-drawn"
    for end, x in (("low", 0.1), ("high", 0.6)):
        _within(row[end], x, row[f"{end}_se"])


def test_tornado_on_a_fit_ranks_every_rule(tiny, tiny_fits):
    table = tornado_table(tiny_fits["all evidence"], tiny)
    n_edits = sum(len(r.destinations) for r in tiny.rules)
    n_questions = len(outcome_questions(tiny))
    assert len(table) == n_edits * n_questions
    for _, part in table.groupby("question"):
        assert sorted(part["rank"]) == list(range(1, n_edits + 1))
        top = part.sort_values("rank")
        assert (np.diff(top["swing"].to_numpy()) <= 1e-15).all()
    assert (table["flagged"] == (table["k_low"] > 0.7) | (table["k_high"] > 0.7)).all()
    # b's rule from low given a=yes is the only way to reach b=high: it matters for b_high
    b_high = table[table["outcome"] == "b_high"].sort_values("rank")
    assert b_high.iloc[0]["rule"].startswith(("b:", "a:"))


def test_top_swings_keeps_the_largest_per_question(tiny, tiny_fits):
    table = tornado_table(tiny_fits["all evidence"], tiny)
    top = top_swings(table, n=2, date="2024-04-30")
    assert set(top.index.get_level_values("date")) == {"2024-04-30"}
    assert list(dict.fromkeys(top.index.get_level_values("outcome"))) == [
        "b_high",
        "b_mid",
        "a_yes",
    ]
    for outcome, part in top.groupby(level="outcome"):
        assert list(part.index.get_level_values("rank")) == [1, 2]
        full = table[(table["outcome"] == outcome) & (table["date"] == "2024-04-30")]
        assert_allclose(
            part["swing"].to_numpy(), np.sort(full["swing"].to_numpy())[::-1][:2], rtol=1e-12
        )
    assert top["rule"].str.contains(r"\[[0-9.e-]+, [0-9.e-]+\]$").all()


def test_tornado_refuses_unknown_modes(single):
    idata = draws_idata(single, np.full(10, 0.3), "prior")
    with pytest.raises(ValueError, match="group"):
        tornado_table(idata, single, group="likelihood")
    with pytest.raises(ValueError, match="recompute"):
        tornado_table(idata, single, group="prior", recompute="magic")
    with pytest.raises(ValueError, match="fitter"):
        tornado_table(idata, single, group="prior", recompute="refit")


def test_plot_tornado_draws_two_bars_per_rule_and_marks_flags(single):
    rng = np.random.default_rng(2)
    a, b = _beta_ab(single)
    table = tornado_table(
        draws_idata(single, rng.beta(a, b, size=2000), "prior"), single, group="prior"
    )
    table.loc[:, ["flagged_low", "flagged"]] = True
    table.loc[:, "k_low"] = 0.91
    fig = plot_tornado(table, single, top=3)
    ax = fig.axes[0]
    gids = sorted(p.get_gid() for p in ax.patches if p.get_gid())
    assert gids == ["x_yes:x:no:yes:high", "x_yes:x:no:yes:low"]
    assert [t.get_text().splitlines()[-1] for t in ax.get_yticklabels()] == ["x:no"]
    assert any(t.get_text().strip() == "k=0.91" for t in ax.texts)
    assert "x has become yes" in ax.get_title(loc="left")
    with pytest.raises(ValueError, match="no forecast"):
        plot_tornado(table, single, date="1999-01-31")


# --------------------------------------------------------------------------------------------
# power-scaling


def _conjugate_fit(
    tmp_path,
    prior: str,
    months: int,
    seed: int,
    reference: str = "",
    a_b: tuple[float, float] | None = None,
):
    scenario = write_single_rule(
        tmp_path, prior=prior, months_seen_no=months, reference=reference, name=f"ps_{seed}.yaml"
    )
    a, b = a_b or _beta_ab(scenario)
    rng = np.random.default_rng(seed)
    evidence = evidence_matrices(scenario, scenario.evidence)
    theta = rng.beta(a, b + months, size=4000)
    return scenario, draws_idata(scenario, theta, "posterior", evidence), theta


def test_log_densities_are_the_prior_reference_and_evidence_terms(tmp_path):
    reference = ", reference_class: {n: 5, counts: {yes: 1}, description: d, source: s}"
    scenario, idata, theta = _conjugate_fit(
        tmp_path, "{beta: [2, 6]}", 3, seed=1, reference=reference, a_b=(3, 10)
    )
    as_prior = with_log_densities(idata, scenario, reference="prior")
    beta = stats.beta(2, 6).logpdf(theta)
    binomial = stats.binom(5, theta).logpmf(1)
    assert_allclose(as_prior.log_prior["rules"].values.ravel(), beta + binomial, rtol=1e-10)
    # x seen no in three months from no: (1 - theta)^3
    assert_allclose(
        as_prior.log_likelihood["evidence"].values.ravel(), 3 * np.log1p(-theta), rtol=1e-10
    )
    as_likelihood = with_log_densities(idata, scenario, reference="likelihood")
    assert_allclose(as_likelihood.log_prior["rules"].values.ravel(), beta, rtol=1e-10)
    assert_allclose(as_likelihood.log_likelihood["reference"].values.ravel(), binomial, rtol=1e-10)
    params = [np.stack([1 - theta, theta], -1)]
    assert_allclose(log_prior_draws(elicit(scenario), params, "likelihood"), beta, rtol=1e-10)
    with pytest.raises(ValueError, match="reference"):
        log_prior_draws(elicit(scenario), params, "both")


def test_flat_prior_has_no_prior_sensitivity(tmp_path):
    scenario, idata, _ = _conjugate_fit(tmp_path, "{beta: [1, 1]}", 6, seed=2)
    table = power_scaling(idata, scenario, include_parameters=True).set_index("quantity")
    for quantity in ("x_yes_by_2024_07", "x:no[yes]"):
        assert table.loc[quantity, "prior_sensitivity"] == pytest.approx(0.0, abs=1e-5)
        assert table.loc[quantity, "likelihood_sensitivity"] > 0.05
        assert table.loc[quantity, "diagnosis"] == "-"
    # the months seen are fixed by the evidence
    assert table.loc["x_yes_by_2024_01", "diagnosis"] == "fixed by the evidence"
    assert np.isnan(table.loc["x_yes_by_2024_01", "prior_sensitivity"])


@pytest.mark.parametrize(
    ("prior", "months", "diagnosis"),
    [
        ("{beta: [60, 540]}", 1, "strong prior / weak likelihood"),  # 600 pseudo-cases vs 1 month
        ("{beta: [30, 3]}", 40, "prior-data conflict"),  # P(move) ~0.9, never moved
    ],
)
def test_power_scaling_diagnoses_strong_priors_and_conflicts(tmp_path, prior, months, diagnosis):
    scenario, idata, _ = _conjugate_fit(tmp_path, prior, months, seed=3)
    table = power_scaling(idata, scenario, include_parameters=True).set_index("quantity")
    assert table.loc["x:no[yes]", "diagnosis"] == diagnosis
    finite = [q for q in table.index if np.isfinite(table.loc[q, "prior_sensitivity"])]
    assert "x:no[yes]" in finite and len(finite) == 2  # January is fixed by the evidence
    plot = plot_power_scaling(table.reset_index(), kind="all")
    assert {line.get_gid() for line in plot.axes[0].lines if line.get_gid()} == {
        f"psens:fit:{q}" for q in finite
    }
    both = plot_power_scaling({"early": table, "late": table}, kind="parameter")
    assert {line.get_gid() for line in both.axes[0].lines if line.get_gid()} == {
        "psens:early:x:no[yes]",
        "psens:late:x:no[yes]",
    }


def test_power_scaling_of_a_fit_covers_every_question(tiny, tiny_fits):
    table = power_scaling(tiny_fits["all evidence"], tiny)
    assert list(table["quantity"]) == [q.id for q in tiny.questions]
    assert set(table["diagnosis"]) <= {
        "prior-data conflict",
        "strong prior / weak likelihood",
        "weak likelihood",
        "-",
        "fixed by the evidence",
    }
    free = table[table["diagnosis"] != "fixed by the evidence"]
    assert (
        len(free) and np.isfinite(free[["prior_sensitivity", "likelihood_sensitivity"]]).all().all()
    )
