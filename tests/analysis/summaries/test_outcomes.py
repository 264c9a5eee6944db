import datetime as dt

import numpy as np
import pytest
from numpy.testing import assert_allclose

from forecast.analysis.summaries import (
    evidence_cutoff,
    headline_table,
    monthly_bands,
    outcome_curves,
    question_summary,
    rule_parameters,
)


def _question_means(idata, scenario, group="posterior"):
    values = idata[group]["question_prob"].values
    means = values.reshape(-1, values.shape[-1]).mean(axis=0)
    return {q.id: float(m) for q, m in zip(scenario.questions, means, strict=True)}


def test_curves_have_ordered_bands(tiny, tiny_fits):
    for idata in tiny_fits.values():
        for group in ("prior", "posterior"):
            curves = outcome_curves(idata, tiny, group=group, max_draws=None)
            assert len(curves) == len(tiny.outcomes) * tiny.timeline.n_steps
            eps = 1e-12
            assert (curves["low90"] <= curves["low50"] + eps).all()
            assert (curves["low50"] <= curves["high50"] + eps).all()
            assert (curves["high50"] <= curves["high90"] + eps).all()
            assert (curves["low90"] <= curves["mean"] + eps).all()
            assert (curves["mean"] <= curves["high90"] + eps).all()


@pytest.mark.parametrize("outcome", ["b_high", "a_yes"])
def test_marginal_outcomes_are_the_monthly_bands(tiny, tiny_fits, outcome):
    idata = tiny_fits["all evidence"]
    spec = next(o for o in tiny.outcomes if o.id == outcome)
    curves = outcome_curves(idata, tiny, [outcome])
    bands = monthly_bands(idata, tiny, spec.node, [spec.state])
    assert_allclose(curves["mean"], bands["mean"])
    assert_allclose(curves["high90"], bands["high90"])


@pytest.mark.parametrize("label", ["as of 2024-01-31", "all evidence"])
def test_reached_curve_matches_the_questions(tiny, tiny_fits, label):
    """At each report date the cumulative curve is the fit's own question probability."""
    idata = tiny_fits[label]
    curves = outcome_curves(idata, tiny, ["b_mid", "b_high"], max_draws=None)
    means = _question_means(idata, tiny)
    for q in tiny.questions:
        if q.outcome in ("b_mid", "b_high"):
            row = curves[
                (curves["outcome"] == q.outcome)
                & (curves["month"] == tiny.timeline.month_label(q.step))
            ]
            assert_allclose(row["mean"].iloc[0], means[q.id], rtol=1e-9)
    mid = curves[curves["outcome"] == "b_mid"]["mean"].to_numpy()
    assert np.all(np.diff(mid) >= -1e-12)


def test_prior_curves_need_no_evidence(tiny, tiny_prior):
    curves = outcome_curves(tiny_prior, tiny, ["b_mid"], group="prior", max_draws=None)
    means = _question_means(tiny_prior, tiny, "prior")
    last = curves.iloc[-1]
    assert_allclose(last["mean"], means["b_mid_by_2024_04"], rtol=1e-9)


def test_thinning_is_deterministic(tiny, tiny_fits):
    idata = tiny_fits["all evidence"]
    params = rule_parameters(idata, tiny, max_draws=50)
    assert all(p.shape[0] == 50 for p in params)
    assert_allclose(params[0].sum(axis=1), 1.0)
    a = outcome_curves(idata, tiny, ["b_mid"], max_draws=50)
    b = outcome_curves(idata, tiny, ["b_mid"], max_draws=50)
    assert a.equals(b)


def test_unknown_outcome_is_an_error(tiny, tiny_fits):
    with pytest.raises(ValueError, match="nope"):
        outcome_curves(tiny_fits["all evidence"], tiny, ["nope"])


def test_evidence_cutoff_is_read_from_the_fit(tiny_fits):
    assert evidence_cutoff(tiny_fits["as of 2024-01-31"]) == dt.date(2024, 1, 31)
    assert evidence_cutoff(tiny_fits["all evidence"]) is None


def test_question_summary(tiny, tiny_prior):
    table = question_summary(tiny_prior, tiny)
    means = _question_means(tiny_prior, tiny, "prior")
    assert list(table["question"]) == [q.id for q in tiny.questions]
    assert_allclose(table["mean"], [means[q.id] for q in tiny.questions])
    assert (table["low90"] <= table["mean"]).all() and (table["mean"] <= table["high90"]).all()


def test_headline_table_is_the_rounded_means(tiny, tiny_fits):
    table = headline_table(tiny_fits, tiny, ["b_high", "a_yes"])
    expected_rows = [q.id for o in ("b_high", "a_yes") for q in tiny.questions if q.outcome == o]
    assert list(table.index) == expected_rows
    assert list(table.columns) == ["outcome", "date", "prior", *tiny_fits]
    for label, idata in tiny_fits.items():
        means = _question_means(idata, tiny)
        for qid in expected_rows:
            assert table.loc[qid, label] == round(means[qid], 2)
    prior = _question_means(next(iter(tiny_fits.values())), tiny, "prior")
    assert table.loc[expected_rows[0], "prior"] == round(prior[expected_rows[0]], 2)
