import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import special, stats

import forecast
from forecast.analysis.pooling.forecasters import (
    LINEAR_POOL,
    LOG_POOL,
    PRIOR_STAGE,
    ForecastDraws,
    StructureMismatchError,
    check_same_structure,
    disagreement_table,
    elicited_judgements,
    forecaster_forecasts,
    forecaster_prior_table,
    forecaster_priors,
    hierarchical_pool,
    linear_pool,
    log_pool,
    log_pool_priors,
    pooled_forecast_table,
    reference_updated,
)
from forecast.analysis.reweighting.weights import weighted_quantile
from forecast.elicitation import Priors, RulePrior, elicit
from tests.conftest import AS_OF, OUTCOMES
from tests.paths import TINY

A_RULE = (
    "- {from: no, to: {yes: {best: 0.3, interval: [0.1, 0.6]}}, within_months: 2, rationale: r}"
)


def _variant(tmp_path, name, old="", new=""):
    """A copy of the tiny chain (with outcomes), one line replaced."""
    text = TINY.read_text() + OUTCOMES
    if old:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return forecast.load_scenario(path)


@pytest.fixture(scope="module")
def two_views(tmp_path_factory):
    """Two forecasters of the tiny chain who disagree on a:no: 0.3 against 0.5."""
    folder = tmp_path_factory.mktemp("views")
    low = _variant(folder, "low")
    high = _variant(
        folder,
        "high",
        A_RULE,
        A_RULE.replace("best: 0.3, interval: [0.1, 0.6]", "best: 0.5, interval: [0.3, 0.7]"),
    )
    return {"low": low, "high": high}


# --- pools against hand computation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "w", "linear", "log"),
    [
        (
            (0.2, 0.6),
            (0.5, 0.5),
            0.4,
            math.sqrt(0.2 * 0.6) / (math.sqrt(0.2 * 0.6) + math.sqrt(0.8 * 0.4)),
        ),
        (
            (0.2, 0.6),
            (1.0, 1.0),
            0.4,
            math.sqrt(0.2 * 0.6) / (math.sqrt(0.2 * 0.6) + math.sqrt(0.8 * 0.4)),
        ),
        (
            (0.2, 0.6),
            (0.25, 0.75),
            0.5,
            0.2**0.25 * 0.6**0.75 / (0.2**0.25 * 0.6**0.75 + 0.8**0.25 * 0.4**0.75),
        ),
        ((0.1, 0.5, 0.9), None, 0.5, 0.5),
        ((0.3, 0.0), (0.5, 0.5), 0.15, 0.0),
        ((0.3, 0.0), (1.0, 0.0), 0.3, 0.3),
    ],
)
def test_binary_pools(p, w, linear, log):
    assert_allclose(linear_pool(p, w), linear, rtol=1e-12)
    assert_allclose(log_pool(p, w), log, rtol=1e-12, atol=1e-15)


def test_pools_work_elementwise():
    probs = np.array([[0.2, 0.9], [0.6, 0.9]])
    assert_allclose(linear_pool(probs), [0.4, 0.9])
    assert_allclose(log_pool(probs), [log_pool([0.2, 0.6]), 0.9])


def test_categorical_log_pool():
    p = np.array([[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]])
    geo = np.sqrt(p[0] * p[1])
    assert_allclose(log_pool(p, categorical=True), geo / geo.sum(), rtol=1e-12)
    # two categories are the binary pool
    assert_allclose(
        log_pool([[0.8, 0.2], [0.4, 0.6]], categorical=True)[1], log_pool([0.2, 0.6]), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("p", "w", "message"),
    [
        ((0.0, 1.0), (0.5, 0.5), "certain of opposite"),
        ((0.2, 1.2), None, "in \\[0, 1\\]"),
        ((0.2, 0.6), (0.5,), "need 2 weights"),
        ((0.2, 0.6), (0.5, -0.5), "non-negative"),
    ],
)
def test_log_pool_refuses_bad_input(p, w, message):
    with pytest.raises(ValueError, match=message):
        log_pool(p, w)


# --- structure checks --------------------------------------------------------------------------


def test_same_structure_passes(tiny, two_views):
    check_same_structure(two_views, reference=tiny)
    priors = forecaster_priors(two_views, reference=tiny)
    assert list(priors) == ["low", "high"]
    assert_allclose(priors["high"]["a:no"].mean, [0.5, 0.5], atol=1e-6)


def test_missing_rule_is_named(tmp_path, tiny):
    # node a's 'yes' state made absorbing: its rule a:yes disappears
    other = _variant(
        tmp_path,
        "absorbing",
        "    transitions:\n      "
        + A_RULE
        + "\n      - {from: yes, to: {no: {beta: [2, 5]}}, rationale: r}",
        "    absorbing: [yes]\n    transitions:\n      " + A_RULE,
    )
    with pytest.raises(StructureMismatchError, match="rule\\(s\\) missing: a:yes") as info:
        check_same_structure({"me": tiny, "other": other})
    assert "forecaster 'other'" in str(info.value)


def test_changed_horizon_of_a_rule_is_named(tmp_path, tiny):
    other = _variant(
        tmp_path, "months", A_RULE, A_RULE.replace("within_months: 2", "within_months: 3")
    )
    with pytest.raises(StructureMismatchError, match="rule a:no: within_months 3 differs"):
        check_same_structure({"me": tiny, "other": other})


def test_different_evidence_is_refused(tmp_path, tiny):
    other = _variant(
        tmp_path, "evidence", "date: 2024-02-10, state: yes", "date: 2024-02-10, state: no"
    )
    with pytest.raises(StructureMismatchError, match="the evidence differs"):
        check_same_structure({"me": tiny, "other": other})


def test_priors_with_other_rule_names_are_refused(tiny_fitter, tiny):
    priors = elicit(tiny)
    renamed = Priors(
        [
            RulePrior("a:maybe" if r.rule == "a:no" else r.rule, r.labels, r.alpha)
            for r in priors.rules
        ]
    )
    with pytest.raises(
        StructureMismatchError, match=r"forecaster 'odd'.*missing a:no.*not in scenario.*a:maybe"
    ):
        forecaster_forecasts(tiny_fitter, {"odd": renamed}, {}, seed=1, size=10)


# --- forecasts and pools of forecasts ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_draws(tiny_fitter, tiny):
    priors = elicit(tiny)
    return forecaster_forecasts(
        tiny_fitter, {"a": priors, "b": priors}, {"early": AS_OF, "all": None}, seed=5, size=3000
    )


def test_prior_stage_is_the_fitters_prior_predictive(tiny_fitter, tiny, tiny_draws):
    expected = tiny_fitter.prior_draws(seed=5, size=3000).prior["question_prob"].values[0]
    assert_allclose(tiny_draws[("a", PRIOR_STAGE)].values, expected, rtol=1e-12)
    assert tiny_draws[("a", PRIOR_STAGE)].ess == 3000


def test_importance_posterior_matches_nuts(tiny, tiny_fits, tiny_draws):
    """The re-weighted prior draws agree with the NUTS fit within Monte Carlo error."""
    for label, stage in (("as of 2024-01-31", "early"), ("all evidence", "all")):
        values = tiny_fits[label].posterior["question_prob"].values
        nuts = values.reshape(-1, values.shape[-1]).mean(axis=0)
        assert_allclose(tiny_draws[("a", stage)].mean(), nuts, atol=0.04)
    assert tiny_draws[("a", "all")].ess > 500


def test_no_evidence_leaves_the_prior(tiny_draws):
    """Nothing is reported by 2024-01-31: every weight is equal and the evidence certain."""
    early = tiny_draws[("a", "early")]
    assert early.log_evidence == 0.0
    assert_allclose(early.ess, 3000)
    assert_allclose(early.values, tiny_draws[("a", PRIOR_STAGE)].values)


def test_nuts_path_is_the_fitters_fit(tiny_fitter, tiny, tiny_fits):
    """method="nuts" re-uses the compiled fitter: the same fit as fitter.fit, priors restored."""
    original = tiny_fitter.priors
    other = elicit(tiny).replace("a:yes", np.array([1.0, 1.0]))
    draws = forecaster_forecasts(
        tiny_fitter, {"flat": other, "same": original}, {"all": None}, seed=3, method="nuts"
    )
    assert tiny_fitter.priors is original
    values = tiny_fits["all evidence"].posterior["question_prob"].values
    assert_allclose(draws[("same", "all")].values, values.reshape(-1, values.shape[-1]), rtol=1e-9)
    assert draws[("same", "all")].method == "nuts"
    # the least bulk ESS of a non-constant question (NUTS can exceed the 200 draws slightly)
    from forecast.pymc_backend.fitting import diagnose

    table = diagnose(tiny_fits["all evidence"], ["question_prob"]).table
    assert_allclose(
        draws[("same", "all")].ess, table.loc[~table["constant"], "ess_bulk"].min(), rtol=1e-9
    )
    assert not np.allclose(draws[("flat", "all")].mean(), draws[("same", "all")].mean())


def test_reference_classes_are_sampled_exactly():
    prior = Priors(
        [RulePrior("r", ("stay", "move"), np.array([3.0, 2.0]), counts=np.array([3.0, 1.0]))]
    )
    updated, log_evidence = reference_updated(prior)
    assert_allclose(updated["r"].alpha, [6.0, 3.0])
    assert updated["r"].counts is None
    # beta-binomial: 1 of 4 cases moved, prior Beta(move=2, stay=3)
    assert_allclose(log_evidence, stats.betabinom.logpmf(1, 4, 2.0, 3.0), rtol=1e-12)


def test_pooling_identical_forecasters_returns_their_forecast(tiny, tiny_draws):
    table = pooled_forecast_table(tiny_draws, tiny)
    for stage in (PRIOR_STAGE, "early", "all"):
        part = table[table["stage"] == stage].set_index(["forecaster", "question"])
        for pool in (LINEAR_POOL, LOG_POOL):
            assert_allclose(part.loc[pool]["mean"], part.loc["a"]["mean"], rtol=1e-12, atol=1e-15)
        for column in ("low90", "high90"):
            assert_allclose(part.loc[LINEAR_POOL][column], part.loc["a"][column], rtol=1e-9)
        assert part.loc[LOG_POOL]["low90"].isna().all()


def test_pooled_table_against_hand_computation(tiny):
    ids = tuple(q.id for q in tiny.questions)
    one = np.full((2, len(ids)), 0.2)
    one[:, 0] = [0.1, 0.3]
    two = np.full((2, len(ids)), 0.6)
    two[:, 0] = [0.5, 0.7]
    draws = {
        ("x", PRIOR_STAGE): ForecastDraws(ids, one, np.array([0.5, 0.5]), 2.0),
        ("y", PRIOR_STAGE): ForecastDraws(ids, two, np.array([0.5, 0.5]), 2.0),
    }
    table = pooled_forecast_table(draws, tiny, weights=[0.25, 0.75]).set_index("forecaster")
    assert_allclose(table.loc["x", "mean"], 0.2)
    assert_allclose(table.loc[LINEAR_POOL, "mean"], 0.25 * 0.2 + 0.75 * 0.6)
    hand = 0.2**0.25 * 0.6**0.75 / (0.2**0.25 * 0.6**0.75 + 0.8**0.25 * 0.4**0.75)
    assert_allclose(table.loc[LOG_POOL, "mean"], hand, rtol=1e-12)
    # question 0 in the mixture: draws 0.1, 0.3 (weight 1/8 each) and 0.5, 0.7 (3/8 each) sit
    # at cumulative midpoints 1/16, 3/16, 7/16, 13/16: the 5% and 95% quantiles are the ends
    mixture = table.loc[LINEAR_POOL]
    assert_allclose([mixture["low90"].iloc[0], mixture["high90"].iloc[0]], [0.1, 0.7])
    assert_allclose(
        weighted_quantile(np.array([0.1, 0.3, 0.5, 0.7]), np.array([1, 1, 3, 3]) / 8, 0.5),
        0.5 + (0.5 - 7 / 16) / (13 / 16 - 7 / 16) * 0.2,
    )


def test_disagreement_narrows_by_hand(tiny):
    rows = []
    for forecaster, prior, post in (("x", 0.2, 0.5), ("y", 0.6, 0.6), ("z", 0.4, 0.55)):
        for stage, mean in ((PRIOR_STAGE, prior), ("later", post)):
            rows.append(
                {
                    "forecaster": forecaster,
                    "stage": stage,
                    "question": "q",
                    "text": "t",
                    "date": "2024-04-30",
                    "mean": mean,
                    "low90": np.nan,
                    "high90": np.nan,
                }
            )
    rows.append(
        {
            "forecaster": LINEAR_POOL,
            "stage": PRIOR_STAGE,
            "question": "q",
            "text": "t",
            "date": "2024-04-30",
            "mean": 0.9,
            "low90": 0.0,
            "high90": 1.0,
        }
    )
    table = disagreement_table(pd.DataFrame(rows)).loc["q"]
    assert_allclose(table["prior range"], 0.4)
    assert_allclose(table["later range"], 0.1)
    assert_allclose(table["later / prior"], 0.25)
    assert_allclose(table["prior sd"], np.std([0.2, 0.6, 0.4]))
    logit = disagreement_table(pd.DataFrame(rows), logit=True).loc["q"]
    assert_allclose(logit["prior range"], special.logit(0.6) - special.logit(0.2))


# --- pools of priors ---------------------------------------------------------------------------


def test_log_pool_of_priors_is_exact(tiny, two_views):
    priors = forecaster_priors(two_views, reference=tiny)
    pooled = log_pool_priors(priors, [0.25, 0.75])
    for rule in pooled.rules:
        assert_allclose(
            rule.alpha,
            0.25 * priors["low"][rule.rule].alpha + 0.75 * priors["high"][rule.rule].alpha,
        )
    same = log_pool_priors({"a": priors["low"], "b": priors["low"]})
    for rule in same.rules:
        assert_allclose(rule.alpha, priors["low"][rule.rule].alpha)


def test_elicited_judgements_on_the_logit_scale(tiny):
    table = elicited_judgements(tiny, {"me": elicit(tiny)}).set_index(["rule", "destination"])
    stated = table.loc[("a:no", "yes")]
    z = stats.norm.ppf(0.9)
    assert stated["stated"]
    assert_allclose(stated["logit_best"], special.logit(0.3))
    assert_allclose(stated["logit_sd"], (special.logit(0.6) - special.logit(0.1)) / (2 * z))
    # a rule given as Beta(2, 5) on moving: its mean and central 80% interval
    beta = table.loc[("a:yes", "no")]
    assert not beta["stated"]
    assert_allclose(beta["best"], 2 / 7)
    assert_allclose([beta["low"], beta["high"]], stats.beta(2, 5).ppf([0.1, 0.9]))


def test_forecaster_prior_table(tiny, two_views):
    priors = forecaster_priors(two_views, reference=tiny)
    table = forecaster_prior_table(tiny, priors, rules=["a:no"]).set_index("forecaster")
    assert_allclose(table["stated_best"], [0.3, 0.5])
    assert_allclose(table["mean"], [0.3, 0.5], atol=1e-6)
    a, b = priors["high"]["a:no"].alpha[1], priors["high"]["a:no"].alpha[0]
    assert_allclose(table.loc["high", "high90"], stats.beta(a, b).ppf(0.95))


# --- hierarchical pool -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def identical_pool(tiny):
    priors = elicit(tiny)
    return hierarchical_pool(
        tiny, {"a": priors, "b": priors, "c": priors}, seed=2, draws=300, tune=300
    )


def test_hierarchical_pool_of_identical_forecasters(tiny, identical_pool):
    table = identical_pool.table.set_index(["rule", "destination"])
    judgements = elicited_judgements(tiny, {"a": elicit(tiny)}).set_index(["rule", "destination"])
    # the shared mean sits on the common best guess: three measurements with sd s
    # against a Normal(0, 5) prior shrink the logit by the factor (3/s^2) / (3/s^2 + 1/25)
    factor = (3 / judgements["logit_sd"] ** 2) / (3 / judgements["logit_sd"] ** 2 + 1 / 25)
    centre = special.expit(judgements["logit_best"] * factor)
    assert_allclose(table["shared_centre"], centre, atol=0.02)
    assert_allclose(table["shared_centre"], judgements["best"], atol=0.03)
    # the pooled mean adds Jensen's shift of averaging over the logit spread (a few points)
    assert_allclose(table["pooled_mean"], judgements["best"], atol=0.05)
    # the pooled prior keeps the forecasters' own width and adds the uncertainty about the
    # shared mean: never narrower than their common prior
    prior = elicit(tiny)["a:no"]
    own = stats.beta(prior.alpha[1], prior.alpha[0])
    row = table.loc[("a:no", "yes")]
    assert row["pooled_low90"] <= own.ppf(0.05) + 1e-3
    assert row["pooled_high90"] >= own.ppf(0.95) - 1e-3
    assert identical_pool.priors["a:no"].source == "hierarchical pool"


def test_hierarchical_pool_of_disagreeing_forecasters_lies_between(tiny, two_views):
    priors = forecaster_priors(two_views, reference=tiny)
    pool = hierarchical_pool(tiny, priors, seed=4, draws=300, tune=300)
    row = pool.table.set_index(["rule", "destination"]).loc[("a:no", "yes")]
    assert (row["low"], row["high"]) == (0.3, 0.5)  # the two forecasters' best guesses
    assert 0.3 < row["shared_centre"] < 0.5
    assert 0.3 < row["pooled_mean"] < 0.5
    alpha = pool.priors["a:no"].alpha
    assert 0.3 < alpha[1] / alpha.sum() < 0.5
    assert pool.diagnostics["divergences"].max() == 0


def test_hierarchical_pool_needs_two_forecasters(tiny):
    with pytest.raises(ValueError, match="at least two forecasters"):
        hierarchical_pool(tiny, {"a": elicit(tiny)}, seed=1)


# --- figures -----------------------------------------------------------------------------------


def test_figures_draw_every_forecaster_and_stage(tiny, tiny_draws, two_views):
    from forecast.plots.pooling import (
        plot_disagreement,
        plot_forecaster_priors,
        plot_pooled_forecasts,
    )

    table = pooled_forecast_table(tiny_draws, tiny)
    fig = plot_pooled_forecasts(table, ["b_high_apr", "a_yes_jan"])
    gids = {line.get_gid() for ax in fig.axes for line in ax.lines}
    assert {
        "a:prior:b_high_apr",
        "b:all:a_yes_jan",
        f"{LINEAR_POOL}:early:b_high_apr",
        f"{LOG_POOL}:prior:a_yes_jan",
    } <= gids
    line = next(ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "a:all:b_high_apr")
    row = table[
        (table["forecaster"] == "a")
        & (table["stage"] == "all")
        & (table["question"] == "b_high_apr")
    ].iloc[0]
    assert_allclose(line.get_xdata(), [row["low90"], row["high90"]])

    dis = disagreement_table(table, ["a", "b"])
    fig = plot_disagreement(dis)
    assert {f"prior:{q.id}" for q in tiny.questions} <= {ln.get_gid() for ln in fig.axes[0].lines}

    priors = forecaster_priors(two_views, reference=tiny)
    fig = plot_forecaster_priors(forecaster_prior_table(tiny, priors), tiny)
    assert "high:a:no:yes" in {ln.get_gid() for ln in fig.axes[0].lines}
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[0].startswith("a: from no → yes") and ticks[0].endswith("\na:no")
    with pytest.raises(ValueError, match="unknown question"):
        plot_pooled_forecasts(table, ["nope"])


def test_table_dates_are_the_questions(tiny, tiny_draws):
    table = pooled_forecast_table(tiny_draws, tiny)
    first = table.drop_duplicates("question").set_index("question")["date"]
    assert dict(first) == {q.id: q.date.isoformat() for q in tiny.questions}
    assert all(isinstance(q.date, dt.date) for q in tiny.questions)
