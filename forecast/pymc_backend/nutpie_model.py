"""The compiled density as a nutpie model: C callbacks, no Python in the sampling loop.

nutpie's Rust NUTS calls a log-density through a C function pointer. The two callbacks here
(:data:`logp_callback`, :data:`expand_callback`) are numba ``cfunc`` compiled once per
machine and cached on disk. The scenario, priors and evidence reach them as data: a table of
``(address, rows, columns)`` per array of :class:`~forecast.pymc_backend.density.CompiledDensity`,
read afresh at the start of every sampling run. So a new scenario, prior or evidence set
compiles nothing, and chains run in parallel without the GIL.

This uses nutpie's low-level model interface (``nutpie._lib``), the one its own numba backend
uses; ``pyproject.toml`` pins nutpie to the minor version it was tested with.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numba
import numpy as np
import xarray as xr
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from forecast.engine.compile_cache import cached
from forecast.pymc_backend.density import CompiledDensity, unconstrained_logp_dlogp
from forecast.pymc_backend.layout import parameter_dims

ARRAYS = (
    "kind",
    "width",
    "x_start",
    "q_start",
    "prior_weight",
    "prior_constant",
    "n_params",
    "fixed",
    "rule_param_start",
    "rule_months",
    "rule_cell_start",
    "cell_row_start",
    "cell_old",
    "rule_dest_start",
    "dest_state",
    "initial",
    "pair_start",
    "pair_src",
    "pair_cell",
    "pair_out",
    "pair_weight",
    "slot_start",
    "slot_entry",
    "n_ops",
)
"""The density's arrays, in the order of the table the callbacks read."""
N_ARRAYS = len(ARRAYS)

POSITION = "unconstrained_position"
"""The one variable nutpie stores: each draw's unconstrained position."""
POSITION_DIM = f"{POSITION}_dim"

LOGP_SIGNATURE = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
EXPAND_SIGNATURE = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


@intrinsic
def _as_pointer(typingctx, address):  # pragma: no cover - compiled
    """A void pointer from an integer address."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@cached(numba.njit(cache=True, inline="always"))
def _int(table, i):  # pragma: no cover - compiled
    return numba.carray(_as_pointer(table[i, 0]), (np.int64(table[i, 1]),), np.int64)


@cached(numba.njit(cache=True, inline="always"))
def _float(table, i):  # pragma: no cover - compiled
    return numba.carray(_as_pointer(table[i, 0]), (np.int64(table[i, 1]),), np.float64)


@cached(numba.njit(cache=True, inline="always"))
def _table(user_data):  # pragma: no cover - compiled
    return numba.carray(user_data, (N_ARRAYS, 3), np.uint64)


@cached(numba.cfunc(LOGP_SIGNATURE, cache=True))
def logp_callback(dim, x_, grad_, logp_, user_data):  # pragma: no cover - compiled
    """Write the log-density at ``x`` and its gradient; 0 when finite, else an error code."""
    t = _table(user_data)
    x = numba.carray(x_, (dim,))
    out = numba.carray(grad_, (dim,))
    logp_out = numba.carray(logp_, (1,))
    logp, grad = unconstrained_logp_dlogp(
        x,
        _int(t, 0),
        _int(t, 1),
        _int(t, 2),
        _int(t, 3),
        _float(t, 4),
        _float(t, 5)[0],
        _int(t, 6)[0],
        _float(t, 7),
        _int(t, 8),
        _int(t, 9),
        _int(t, 10),
        _int(t, 11),
        _int(t, 12),
        _int(t, 13),
        _int(t, 14),
        _float(t, 15),
        _int(t, 16),
        _int(t, 17),
        _int(t, 18),
        _int(t, 19),
        _float(t, 20),
        _int(t, 21),
        _int(t, 22),
        _int(t, 23)[0],
    )
    logp_out[0] = logp
    for i in range(dim):
        out[i] = grad[i]
    if not np.isfinite(logp):
        return 4
    for i in range(dim):
        if not np.isfinite(out[i]):
            return 3
    return 0


@cached(numba.cfunc(EXPAND_SIGNATURE, cache=True))
def expand_callback(dim, n_expanded, x_, out_, user_data):  # pragma: no cover - compiled
    """The draw nutpie stores: the unconstrained position itself (see :class:`DensityModel`)."""
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (n_expanded,))
    for i in range(dim):
        out[i] = x[i]
    return 0


def _density_arrays(density: CompiledDensity) -> list[np.ndarray]:
    layout, lowered, pairs = density.layout, density.lowered, density.pairs
    as_int = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    as_float = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    return [
        as_int(layout.kind),
        as_int(layout.width),
        as_int(layout.x_start),
        as_int(layout.q_start),
        as_float(density.prior.weight),
        as_float([density.prior.constant]),
        as_int([density.n_params]),
        as_float(lowered.fixed),
        as_int(lowered.rule_param_start),
        as_int(lowered.rule_months),
        as_int(lowered.rule_cell_start),
        as_int(lowered.cell_row_start),
        as_int(lowered.cell_old),
        as_int(lowered.rule_dest_start),
        as_int(lowered.dest_state),
        as_float(density.initial),
        as_int(pairs.start),
        as_int(pairs.src),
        as_int(pairs.cell),
        as_int(pairs.out),
        as_float(pairs.weight),
        as_int(pairs.slot_start),
        as_int(pairs.slot_entry),
        as_int([density.n_ops]),
    ]


def pack(density: CompiledDensity) -> tuple[np.ndarray, list[np.ndarray]]:
    """The table the callbacks read, and the arrays it points to (keep them alive)."""
    arrays = _density_arrays(density)
    table = np.zeros((len(ARRAYS), 3), dtype=np.uint64)
    for i, array in enumerate(arrays):
        table[i, 0] = array.ctypes.data
        table[i, 1] = array.shape[0]
        table[i, 2] = array.shape[1] if array.ndim == 2 else 1
    return table, arrays


def call_logp(density: CompiledDensity, x: np.ndarray) -> tuple[float, np.ndarray]:
    """The log-density and its gradient at ``x``, through the sampler's callback.

    ``-inf`` (and a zero gradient) where the evidence is impossible.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.shape != (density.ndim,):
        raise ValueError(f"x must have shape ({density.ndim},), not {x.shape}")
    table, _arrays = pack(density)
    grad = np.zeros_like(x)
    logp = np.zeros(1)
    as_double = ctypes.POINTER(ctypes.c_double)
    logp_callback.ctypes(
        x.shape[0],
        x.ctypes.data_as(as_double),
        grad.ctypes.data_as(as_double),
        logp.ctypes.data_as(as_double),
        ctypes.c_void_p(table.ctypes.data),
    )
    if not np.isfinite(logp[0]):
        grad[:] = 0.0
    return float(logp[0]), grad


class DensityModel:
    """A nutpie model (``nutpie.sample`` takes it) of a compiled density.

    nutpie stores each draw's unconstrained position as one variable, :data:`POSITION`;
    :meth:`variables` maps a trace of positions to the model's free variables with numpy
    (:meth:`CompiledDensity.constrained`) after sampling. So the sampler's second callback is
    a plain copy, which compiles in a fraction of the time a transforming one takes.

    Parameters
    ----------
    density : CompiledDensity
        The density; its current priors and evidence are read when a sampling run starts.
    coords : dict
        Coordinates of the parameter dimensions.
    """

    def __init__(self, density: CompiledDensity, coords: dict[str, list[str]]) -> None:
        self.density = density
        groups = density.groups
        self.dims = {g.name: parameter_dims(g) for g in groups}
        self._coords = {d: list(coords[d]) for g in groups for d in parameter_dims(g)}
        self.init_mean = np.zeros(density.ndim)
        self._packed: list[Any] = []

    @property
    def n_dim(self) -> int:
        """Number of unconstrained parameters."""
        return self.density.ndim

    @property
    def coords(self) -> dict[str, list[Any]]:
        """Coordinates of the stored variable's dimension."""
        return {POSITION_DIM: [str(i) for i in range(self.n_dim)]}

    def variables(self, trace: xr.Dataset) -> xr.Dataset:
        """The model's free variables, from a trace of :data:`POSITION` over chain and draw.

        The dataset keeps the trace's attributes; each variable has the dimensions and
        coordinates the PyMC backend gives it.
        """
        position = trace[POSITION]
        values = self.density.constrained(position.values)
        data = {
            name: (position.dims[:-1] + self.dims[name], value) for name, value in values.items()
        }
        coords = {d: c for d, c in trace.coords.items() if d in position.dims[:-1]}
        coords.update(self._coords)
        return xr.Dataset(data, coords=coords, attrs=trace.attrs)

    def _initial_point(self, seed: int) -> np.ndarray:
        """``init_mean`` jittered uniformly in (-1, 1), as PyMC's ``jitter+adapt_diag``."""
        rng = np.random.default_rng(int(seed))
        return self.init_mean + rng.uniform(-1.0, 1.0, self.n_dim)

    def _make_model(self, init_mean: Any = None) -> Any:
        from nutpie import _lib

        table, arrays = pack(self.density)
        # the sampler may outlive this call: keep every buffer it points to alive
        self._packed = [table, arrays]
        logp = _lib.LogpFunc(logp_callback.address, table.ctypes.data, self)
        expand = _lib.ExpandFunc(
            self.n_dim, self.n_dim, expand_callback.address, table.ctypes.data, self
        )
        dim_sizes = {POSITION_DIM: self.n_dim}
        variables = _lib.PyVariable.new_variables(
            [POSITION], ["float64"], [(self.n_dim,)], dim_sizes, {POSITION: (POSITION_DIM,)}
        )
        return _lib.PyMcModel(
            logp, expand, variables, self.n_dim, dim_sizes, self.coords, self._initial_point, None
        )

    def _make_sampler(
        self, settings: Any, init_mean: Any, cores: int, progress_type: Any, store: Any
    ) -> Any:
        from nutpie import _lib

        return _lib.PySampler.from_pymc(
            settings, cores, self._make_model(init_mean), progress_type, store
        )
