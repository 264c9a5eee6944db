"""Importing the package changes nothing in the user's process: environment, numba, processes."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

# run in a fresh interpreter: the test process has long imported everything
IMPORTS = textwrap.dedent("""
    import atexit, json, os, subprocess, sys
    import numba

    hooks, started = [], []
    register = atexit.register
    atexit.register = lambda func, *a, **k: hooks.append(func.__module__) or register(func, *a, **k)
    popen_init = subprocess.Popen.__init__

    def recording_init(self, args, *a, **k):
        started.append(str(args))
        popen_init(self, args, *a, **k)

    subprocess.Popen.__init__ = recording_init
    environ, cache_dir = dict(os.environ), numba.config.CACHE_DIR

    import forecast
    import forecast.engine.kernels
    import forecast.engine.smoothing
    import forecast.pymc_backend.nutpie_model
    from forecast.engine import compile_ahead
    import multiprocessing

    changed = sorted(
        k for k in set(environ) | set(os.environ) if environ.get(k) != os.environ.get(k)
    )
    print(json.dumps({
        "changed": changed,
        "cache_dir": [cache_dir, numba.config.CACHE_DIR],
        "hooks": [m for m in hooks if m and m.startswith("forecast")],
        "started": started,
        "helper": compile_ahead._helper is not None,
        "children": len(multiprocessing.active_children()),
    }))
""")


def clean_env() -> dict[str, str]:
    """A copy of this process's environment without the settings the package used to write."""
    drop = ("PYTENSOR_FLAGS", "NUMBA_CACHE_DIR")
    return {k: v for k, v in os.environ.items() if k not in drop}


def run(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_package_and_its_kernels_changes_nothing() -> None:
    out = run(IMPORTS)
    assert out["changed"] == []  # os.environ as it was (no PYTENSOR_FLAGS, no NUMBA_*)
    before, after = out["cache_dir"]
    assert after == before  # numba's cache folder is everyone's: left alone
    assert out["hooks"] == []  # no exit hook
    assert out["started"] == [] and not out["helper"] and out["children"] == 0


CHANGED = """
changed = sorted(k for k in set(environ) | set(os.environ) if environ.get(k) != os.environ.get(k))
"""

PYMC_ALONE = (
    textwrap.dedent("""
    import json, os
    environ = dict(os.environ)
    import pymc
""")
    + CHANGED
    + 'print(json.dumps({"changed": changed}))'
)

BLAS = (
    textwrap.dedent("""
    import json, os, warnings
    environ = dict(os.environ)
    from forecast.pymc_import import import_pymc

    pm = import_pymc()
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = pt.matrix("a")
        value = pytensor.function([a], pt.dot(a, a))(np.ones((3, 3))).sum()
""")
    + CHANGED
    + textwrap.dedent("""
    print(json.dumps({
        "value": float(value),
        "ldflags": pytensor.config.blas__ldflags,
        "warnings": [str(w.message)[:80] for w in caught],
        "changed": changed,
    }))
""")
)


@pytest.mark.skipif(ctypes.util.find_library("openblas") is None, reason="no OpenBLAS")
def test_pytensor_links_openblas_without_writing_the_environment() -> None:
    if os.path.exists(os.path.expanduser("~/.pytensorrc")):
        pytest.skip("a ~/.pytensorrc configures PyTensor here")
    out = run(BLAS)
    assert out["value"] == 27.0
    assert out["ldflags"] == "-lopenblas"
    assert not [w for w in out["warnings"] if "BLAS" in w], out["warnings"]
    # PyMC's own import sets KMP_DUPLICATE_LIB_OK; we add nothing to what it changes
    assert "PYTENSOR_FLAGS" not in out["changed"]
    assert set(out["changed"]) <= set(run(PYMC_ALONE)["changed"])
