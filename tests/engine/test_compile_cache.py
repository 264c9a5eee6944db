"""numba's cache folder follows the compiled sources (numba alone misses edits across files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numba
import pytest

from forecast.engine import compile_cache


@pytest.fixture
def package_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the compiled sources that the digest reads instead of the package."""
    for name in compile_cache.COMPILED_SOURCES:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(compile_cache.PACKAGE / name, target)
    monkeypatch.setattr(compile_cache, "PACKAGE", tmp_path)
    return tmp_path


def test_any_edit_to_a_compiled_source_changes_the_folder(package_copy) -> None:
    before = compile_cache.source_digest()
    assert compile_cache.source_digest() == before
    for name in compile_cache.COMPILED_SOURCES:
        path = package_copy / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        assert compile_cache.source_digest() != before, name
        path.write_bytes(original)
    assert compile_cache.source_digest() == before


def test_the_folder_is_under_the_forecast_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    folder = compile_cache.configure_numba_cache()
    assert folder == tmp_path / "numba" / compile_cache.source_digest()
    assert numba.config.CACHE_DIR == str(folder)


def test_numba_cache_dir_set_by_the_user_wins(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert compile_cache.configure_numba_cache() is None
    assert numba.config.CACHE_DIR == str(tmp_path)


def test_the_kernels_use_the_configured_folder() -> None:
    from forecast.engine.kernels import _loglik_and_grad

    assert numba.config.CACHE_DIR  # ours, or the user's NUMBA_CACHE_DIR
    assert str(_loglik_and_grad._cache._cache_path).startswith(numba.config.CACHE_DIR)


def test_an_unwritable_cache_folder_still_runs(tmp_path) -> None:
    """numba then falls back to its own cache locations (or compiles in memory)."""
    import os
    import subprocess
    import sys

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FORECAST_CACHE_DIR"] = str(blocked)
    code = (
        "import numpy as np\n"
        "from forecast.engine.kernels import _max\n"
        "print(_max(np.array([3, 9, 4])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "9"
