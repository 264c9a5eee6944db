import arviz as az
import numpy as np
import pytest

from forecast.analysis.summaries import diagnostics_table


def _idata(shift: float, divergences: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 500)) + np.array([[0.0], [shift]])
    fixed = np.full((2, 500), 0.25)
    diverging = np.zeros((2, 500), dtype=bool)
    diverging[0, :divergences] = True
    return az.from_dict(posterior={"x": x, "fixed": fixed}, sample_stats={"diverging": diverging})


@pytest.mark.parametrize(
    ("shift", "divergences", "ok"),
    [
        (0.0, 0, True),
        (3.0, 0, False),  # chains disagree: R-hat far above 1.01
        (0.0, 2, False),  # divergences
    ],
)
def test_checks(tiny, shift, divergences, ok):
    table = diagnostics_table(
        {"fit": _idata(shift, divergences)}, tiny, groups={"x and a constant": ["x", "fixed"]}
    )
    row = table.iloc[0]
    assert row["checked"] == 1 and row["fixed"] == 1
    assert row["divergences"] == divergences
    assert bool(row["ok"]) is ok
    assert bool(row["max_r_hat"] > 1.01) == (shift > 0)


def test_default_groups_on_a_fit(tiny, tiny_fits):
    table = diagnostics_table(tiny_fits, tiny)
    assert list(table["fit"]) == [label for label in tiny_fits for _ in range(2)]
    assert list(table["quantities"])[:2] == ["rule parameters", "question probabilities"]
    assert (table["checked"] + table["fixed"] > 0).all()
