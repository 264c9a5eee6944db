"""The numba density and the nutpie callbacks against the PyMC model they stand for."""

from __future__ import annotations

import ctypes
import datetime as dt

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

import forecast
from forecast.elicitation import elicit
from forecast.engine import ExactEngine
from forecast.engine.synthetic import random_scenario
from forecast.pymc_backend.density import CompiledDensity, flat_outcomes
from forecast.pymc_backend.model import build_model
from forecast.pymc_backend.nutpie_model import (
    POSITION,
    POSITION_DIM,
    DensityModel,
    expand_callback,
    logp_callback,
    pack,
)
from tests.paths import TESTS, TINY

KURSK = TESTS.parent / "scenarios" / "kursk_2024.yaml"


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    out = [forecast.load_scenario(KURSK), forecast.load_scenario(TINY)]
    for seed in (1, 2, 3, 7):
        out.append(
            random_scenario(
                np.random.default_rng(seed),
                folder=tmp_path_factory.mktemp(f"d{seed}"),
                n_nodes=4,
                max_states=3,
                n_months=8,
                evidence_rate=0.3,
            )
        )
    return out


def _point(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """PyMC's value-variable dict for a flat unconstrained vector (value_vars order)."""
    start = model.initial_point()
    out, i = {}, 0
    for var in model.value_vars:
        shape = np.shape(start[var.name])
        size = int(np.prod(shape))
        out[var.name] = x[i : i + size].reshape(shape)
        i += size
    assert i == x.size
    return out


def _check_against_pymc(density: CompiledDensity, model, rng, n_points: int = 4) -> None:
    logp = model.compile_logp(jacobian=True)
    dlogp = model.compile_dlogp(jacobian=True)
    for _ in range(n_points):
        x = rng.normal(0.0, 1.5, density.ndim)
        value, grad = density.logp_dlogp(x)
        point = _point(model, x)
        assert_allclose(value, float(logp(point)), rtol=1e-11, atol=1e-9)
        assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-9)


def test_density_equals_pymc_logp_and_gradient(scenarios) -> None:
    """Value (constants and Jacobians included) and gradient equal PyMC's compiled ones."""
    rng = np.random.default_rng(0)
    for scenario in scenarios:
        priors = elicit(scenario)
        engine = ExactEngine(scenario)
        density = CompiledDensity(engine, priors)
        assert density.ndim == sum(
            int(np.prod(np.shape(v)))
            for v in build_model(scenario, priors).initial_point().values()
        )
        _check_against_pymc(density, build_model(scenario, priors, engine=engine), rng)


@pytest.mark.parametrize("as_of", [dt.date(2024, 9, 30), dt.date(2025, 3, 14), None])
def test_density_follows_evidence_and_prior_edits(scenarios, as_of) -> None:
    """After set_evidence / set_priors the density is PyMC's model with that data."""
    kursk = scenarios[0]
    engine = ExactEngine(kursk)
    priors = elicit(kursk)
    density = CompiledDensity(engine, priors)
    rule = next(r.rule for r in priors.rules if r.is_beta)
    edited = priors.replace(rule, [2.0, 7.0])
    density.set_priors(edited)
    density.set_evidence(engine.evidence(as_of))
    model = build_model(kursk, edited, as_of=as_of, engine=engine)
    _check_against_pymc(density, model, np.random.default_rng(1), n_points=2)


def test_density_rejects_priors_for_other_rules(scenarios) -> None:
    density = CompiledDensity(ExactEngine(scenarios[0]), elicit(scenarios[0]))
    with pytest.raises(ValueError, match="same rules"):
        density.set_priors(elicit(scenarios[1]))


def test_transforms_round_trip(scenarios) -> None:
    rng = np.random.default_rng(2)
    for scenario in scenarios:
        density = CompiledDensity(ExactEngine(scenario), elicit(scenario))
        x = rng.normal(0.0, 1.0, density.ndim)
        values = density.constrained(x)
        assert_allclose(density.unconstrained(values), x, atol=1e-10)
        for group in density.groups:
            v = values[group.name]
            assert np.all((v > 0) & (v < 1))
            if not group.is_beta:
                assert_allclose(v.sum(axis=1), 1.0)


def _call_logp(table, x):
    grad = np.zeros_like(x)
    logp = np.zeros(1)
    dbl = ctypes.POINTER(ctypes.c_double)
    code = logp_callback.ctypes(
        x.size,
        x.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        logp.ctypes.data_as(dbl),
        ctypes.c_void_p(table.ctypes.data),
    )
    return code, float(logp[0]), grad


def test_nutpie_callbacks_give_the_density_and_the_position(scenarios) -> None:
    """The C callbacks nutpie calls: success codes, the density ``logp_dlogp`` reports (both
    are checked against PyMC above), and the position itself as the stored draw."""
    rng = np.random.default_rng(3)
    dbl = ctypes.POINTER(ctypes.c_double)
    for scenario in scenarios:
        density = CompiledDensity(ExactEngine(scenario), elicit(scenario))
        table, arrays = pack(density)
        for _ in range(3):
            x = rng.normal(0.0, 1.0, density.ndim)
            code, logp, grad = _call_logp(table, x)
            want_logp, want_grad = density.logp_dlogp(x)
            assert code == 0
            assert np.isfinite(logp) and np.all(np.isfinite(grad))
            assert logp == want_logp
            assert_allclose(grad, want_grad, rtol=0, atol=0)
            out = np.full_like(x, np.nan)
            assert (
                expand_callback.ctypes(
                    x.size,
                    out.size,
                    x.ctypes.data_as(dbl),
                    out.ctypes.data_as(dbl),
                    ctypes.c_void_p(table.ctypes.data),
                )
                == 0
            )
            assert np.array_equal(out, x)
        del arrays


def test_variables_are_the_outcome_vectors_the_density_uses(scenarios) -> None:
    """``constrained`` (numpy, any leading axes) gives each rule the outcome vector the
    compiled density computes at the same position (``flat_outcomes``)."""
    rng = np.random.default_rng(4)
    for scenario in scenarios:
        density = CompiledDensity(ExactEngine(scenario), elicit(scenario))
        layout = density.layout
        x = rng.normal(0.0, 3.0, (2, 3, density.ndim))
        values = density.constrained(x)
        for c in range(2):
            for d in range(3):
                q = flat_outcomes(
                    x[c, d],
                    layout.kind,
                    layout.width,
                    layout.x_start,
                    layout.q_start,
                    density.n_params,
                )
                k = 0
                for group in density.groups:
                    for i in range(len(group.rules)):
                        start = layout.q_start[k]
                        if group.is_beta:
                            assert_allclose(
                                values[group.name][c, d, i], q[start + 1], rtol=1e-13, atol=1e-15
                            )
                        else:
                            assert_allclose(
                                values[group.name][c, d, i],
                                q[start : start + group.width],
                                rtol=1e-13,
                                atol=1e-15,
                            )
                        k += 1
        with pytest.raises(ValueError, match=f"{density.ndim} values on its last axis"):
            density.constrained(np.zeros(density.ndim + 1))


def test_nutpie_trace_becomes_the_models_variables(scenarios) -> None:
    """A trace of positions maps to the PyMC model's variables, dimensions and coordinates."""
    kursk = scenarios[0]
    priors = elicit(kursk)
    density = CompiledDensity(ExactEngine(kursk), priors)
    model = build_model(kursk, priors)
    coords = {name: list(values) for name, values in model.coords.items()}
    nutpie_model = DensityModel(density, coords)
    x = np.random.default_rng(5).normal(0.0, 1.0, (2, 4, density.ndim))
    trace = xr.Dataset(
        {POSITION: (("chain", "draw", POSITION_DIM), x)},
        coords={"chain": [0, 1], "draw": np.arange(4)},
        attrs={"a": 1},
    )
    variables = nutpie_model.variables(trace)
    assert variables.attrs == {"a": 1}
    assert set(variables.data_vars) == {v.name for v in model.free_RVs}
    for var in model.free_RVs:
        want_dims = ("chain", "draw", *model.named_vars_to_dims[var.name])
        assert variables[var.name].dims == want_dims
        for dim in want_dims[2:]:
            assert list(variables[var.name][dim].values) == coords[dim]
    for name, value in density.constrained(x).items():
        assert np.array_equal(variables[name].values, value)


def test_density_refuses_a_point_of_the_wrong_size(scenarios) -> None:
    """The callback reads ``ndim`` values; any other length is refused, not read past."""
    density = CompiledDensity(ExactEngine(scenarios[0]), elicit(scenarios[0]))
    for bad in (
        np.zeros(density.ndim + 1),
        np.zeros(max(density.ndim - 1, 0)),
        np.zeros((1, density.ndim)),
    ):
        with pytest.raises(ValueError, match="shape"):
            density.logp_dlogp(bad)


def test_nutpie_callback_reports_impossible_evidence(scenarios) -> None:
    """Evidence the model cannot produce gives -inf and a non-zero code, not a crash."""
    tiny = scenarios[1]
    engine = ExactEngine(tiny)
    density = CompiledDensity(engine, elicit(tiny))
    evidence = engine.evidence()
    evidence[tiny.node_index["b"]][0] = 0.0
    density.set_evidence(evidence)
    table, _ = pack(density)
    code, logp, grad = _call_logp(table, np.zeros(density.ndim))
    assert code != 0
    assert logp == -np.inf
    assert np.all(grad == 0)
