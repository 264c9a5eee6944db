"""Whether forecasters' scenarios and priors share one structure: every difference named."""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose

from forecast.analysis.pooling.forecasts import forecaster_forecasts
from forecast.analysis.pooling.priors import forecaster_priors
from forecast.analysis.pooling.structure import StructureMismatchError, check_same_structure
from forecast.elicitation import Priors, RulePrior, elicit
from tests.conftest import A_RULE, tiny_variant


def test_same_structure_passes(tiny, two_views):
    check_same_structure(two_views, reference=tiny)
    priors = forecaster_priors(two_views, reference=tiny)
    assert list(priors) == ["low", "high"]
    assert_allclose(priors["high"]["a:no"].mean, [0.5, 0.5], atol=1e-6)


def test_missing_rule_is_named(tmp_path, tiny):
    # node a's 'yes' state made absorbing: its rule a:yes disappears
    other = tiny_variant(
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
    other = tiny_variant(
        tmp_path, "months", A_RULE, A_RULE.replace("within_months: 2", "within_months: 3")
    )
    with pytest.raises(StructureMismatchError, match="rule a:no: within_months 3 differs"):
        check_same_structure({"me": tiny, "other": other})


def test_different_evidence_is_refused(tmp_path, tiny):
    other = tiny_variant(
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
