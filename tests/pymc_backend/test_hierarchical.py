"""The hierarchical pool's PyMC model: its density by hand, its sampling, its diagnostics."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from forecast.pymc_backend.hierarchical import (
    build_hierarchical_pool_model,
    hierarchical_pool_diagnostics,
    sample_hierarchical_pool,
)

FORECASTERS = ("low", "high", "base")
ITEMS = ("a:no:yes", "a:yes:no")
Y = np.array([[-0.8, -1.0], [0.0, -0.7], [-0.4, -1.2]])
S = np.array([[0.6, 0.5], [0.4, 0.7], [0.5, 0.5]])


@pytest.fixture(scope="module")
def fit():
    return sample_hierarchical_pool(FORECASTERS, ITEMS, Y, S, seed=7, draws=150, tune=150)


def test_model_density_by_hand():
    model = build_hierarchical_pool_model(FORECASTERS, ITEMS, Y, S, mu_sd=3.0, tau_scale=0.5)
    assert model.coords["forecaster"] == FORECASTERS
    assert model.coords["item"] == ITEMS
    assert {v.name for v in model.free_RVs} == {"mu", "tau", "z"}
    assert [v.name for v in model.observed_RVs] == ["y"]
    mu, tau = np.array([-0.5, -0.9]), 0.3
    z = np.array([[0.2, -0.1], [1.0, 0.4], [-0.3, 0.0]])
    point = {"mu": mu, "tau_log__": np.log(tau), "z": z}
    hand = (
        stats.norm.logpdf(mu, 0.0, 3.0).sum()
        + stats.halfnorm.logpdf(tau, scale=0.5)
        + stats.norm.logpdf(z).sum()
        + stats.norm.logpdf(Y, mu[None, :] + tau * z, S).sum()
    )
    assert_allclose(model.compile_logp(jacobian=False)(point), hand, rtol=1e-7)


def test_sampling_is_seeded_and_keeps_the_coordinates(fit):
    post = fit.posterior
    assert post["mu"].dims == ("chain", "draw", "item")
    assert post["theta"].dims == ("chain", "draw", "forecaster", "item")
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 150
    assert list(post["theta"].coords["forecaster"].values) == list(FORECASTERS)
    theta = (post["mu"] + post["tau"] * post["z"]).transpose(*post["theta"].dims)
    assert_allclose(post["theta"], theta, rtol=1e-12, atol=1e-15)
    again = sample_hierarchical_pool(FORECASTERS, ITEMS, Y, S, seed=7, draws=150, tune=150)
    assert_array_equal(again.posterior["mu"].values, post["mu"].values)


def test_diagnostics_of_mu_and_tau(fit):
    table = hierarchical_pool_diagnostics(fit)
    assert list(table["quantity"]) == ["mu", "tau"]
    assert list(table.columns) == [
        "quantity",
        "max_r_hat",
        "min_ess_bulk",
        "min_ess_tail",
        "divergences",
    ]
    assert (table["divergences"] == int(fit.sample_stats["diverging"].sum())).all()
    assert (table["min_ess_bulk"] > 0).all()


def test_the_pooling_analysis_imports_pymc_only_to_fit():
    code = (
        "import sys, forecast.analysis.pooling, forecast.pymc_backend.hierarchical; "
        "print('pymc' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
