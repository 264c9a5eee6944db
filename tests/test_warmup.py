"""The install-time warm-up runs every compiled path without error."""

from __future__ import annotations

import logging

from forecast.warmup import main, warm_up


def test_warm_up_runs_every_compiled_path() -> None:
    assert warm_up() > 0.0


def test_warmup_entry_point_reports(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="forecast.warmup"):
        assert main([]) == 0
    assert "numba kernels compiled and cached" in caplog.text
