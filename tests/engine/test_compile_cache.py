"""numba's cache folder follows the compiled sources (numba alone misses edits across files)."""

from __future__ import annotations

import os
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
    folder = compile_cache.kernel_cache_folder()
    assert folder == tmp_path / "numba" / compile_cache.source_digest()


def test_numba_cache_dir_set_by_the_user_wins(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert compile_cache.kernel_cache_folder() == tmp_path


def test_the_folder_is_set_only_while_a_function_is_created(tmp_path, monkeypatch) -> None:
    """numba's setting is everyone's: ours applies to our functions, not after them."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "someone else's")
    seen = []

    @compile_cache.cached(lambda func: seen.append(numba.config.CACHE_DIR) or func)
    def f():
        return 1

    assert seen == [str(compile_cache.kernel_cache_folder())]
    assert numba.config.CACHE_DIR == "someone else's"
    with pytest.raises(RuntimeError), compile_cache.kernel_cache():
        raise RuntimeError
    assert numba.config.CACHE_DIR == "someone else's"


def test_the_kernels_use_the_folder_and_leave_numba_s_setting_alone() -> None:
    from forecast.engine.kernels import loglik_and_table_grad
    from forecast.pymc_backend.nutpie_model import logp_callback

    folder = str(compile_cache.kernel_cache_folder())
    assert str(loglik_and_table_grad._cache._cache_path).startswith(folder)
    assert str(logp_callback._cache._cache_path).startswith(folder)
    assert numba.config.CACHE_DIR != folder or os.environ.get("NUMBA_CACHE_DIR") == folder


def test_an_unwritable_cache_folder_still_runs(tmp_path) -> None:
    """numba then falls back to its own cache locations (or compiles in memory)."""
    import subprocess
    import sys

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FORECAST_CACHE_DIR"] = str(blocked)
    code = (
        "import numpy as np\n"
        "from forecast.engine.kernels import max_entry\n"
        "print(max_entry(np.array([3, 9, 4])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "9"
