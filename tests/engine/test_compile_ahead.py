"""A first fit compiles the smoothing passes in a second process and loads them from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from forecast import load_scenario
from forecast.engine import ExactEngine, compile_ahead
from tests.paths import SCENARIOS

# run in a fresh process with an empty numba cache: the helper must compile the passes, and
# this process must then load them instead of compiling them
CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    from forecast.engine import ExactEngine, compile_ahead
    from forecast.engine.smoothing import smooth_block
    from forecast import load_scenario

    out = {"cached_before": compile_ahead.smoothing_cached(),
           "started": compile_ahead.start(), "started_again": compile_ahead.start()}
    helper = compile_ahead._helper
    compile_ahead.wait()
    out["helper_code"] = helper.returncode
    out["cached_after"] = compile_ahead.smoothing_cached()
    engine = ExactEngine(load_scenario(sys.argv[1]))
    params = [np.full((3, len(r.destinations) + 1), 1.0 / (len(r.destinations) + 1))
              for r in engine.scenario.rules]
    result = engine.run_draws(params, engine.evidence())
    out["finite"] = bool(np.all(np.isfinite(result.loglik)))
    out["hits"] = sum(smooth_block.stats.cache_hits.values())
    out["misses"] = sum(smooth_block.stats.cache_misses.values())
    out["started_when_cached"] = compile_ahead.start()
    # a helper whose work did not reach the cache is not started again in this process
    compile_ahead._index_path().unlink()
    out["started_after_loss"] = compile_ahead.start()
    print(json.dumps(out))
""")


def test_the_helper_compiles_the_smoothing_passes_for_this_process(tmp_path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(SCENARIOS / "tiny_chain.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["cached_before"] is False
    assert out["started"] is True and out["started_again"] is False
    # the helper ends without the interpreter's teardown, with success, its work on disk
    assert out["helper_code"] == 0
    assert out["cached_after"] is True
    # loaded from the helper's cache entry, never compiled in this process
    assert out["hits"] >= 1 and out["misses"] == 0
    assert out["finite"]
    assert out["started_when_cached"] is False
    assert out["started_after_loss"] is False


def test_a_warm_cache_starts_nothing() -> None:
    engine = ExactEngine(load_scenario(SCENARIOS / "tiny_chain.yaml"))
    engine.run_draws(
        [
            np.full((2, len(r.destinations) + 1), 1.0 / (len(r.destinations) + 1))
            for r in engine.scenario.rules
        ]
    )
    assert compile_ahead.smoothing_cached()
    assert compile_ahead.start() is False
    compile_ahead.wait()  # nothing to wait for


def test_only_a_writable_cache_folder_gets_a_helper(tmp_path, monkeypatch) -> None:
    """The nearest existing folder of the cache is what must be writable."""
    assert compile_ahead._writable(tmp_path / "numba" / "engine")
    asked = []
    monkeypatch.setattr(
        compile_ahead.os, "access", lambda path, mode: asked.append(Path(path)) or False
    )
    assert not compile_ahead._writable(tmp_path / "numba" / "engine")
    assert asked == [tmp_path]
