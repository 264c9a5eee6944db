"""The front door refuses bad arguments naming the argument and what is allowed."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import pytest

import forecast
from forecast.api.arguments import (
    as_of_date,
    draw_count,
    folder_path,
    sampler_config,
    scenario_cutoff,
    scenario_mapping,
    scheduler_value,
    seed_value,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2024-09-30", dt.date(2024, 9, 30)),
        (" 2024-09-30 ", dt.date(2024, 9, 30)),
        (dt.date(2024, 9, 30), dt.date(2024, 9, 30)),
        (dt.datetime(2024, 9, 30, 15, 0), dt.date(2024, 9, 30)),
    ],
)
def test_as_of_accepted(value, expected):
    assert as_of_date(value) == expected


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (20240930, TypeError, "as_of must be a date"),
        (2024.9, TypeError, "not float"),
        (["2024-09-30"], TypeError, "not list"),
        ("30/09/2024", ValueError, "YYYY-MM-DD"),
        ("2024-02-30", ValueError, "is not a date"),
        ("2024-09", ValueError, "is not a date"),
    ],
)
def test_as_of_refused(value, error, words):
    with pytest.raises(error, match=words):
        as_of_date(value)


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (True, TypeError), (1.5, TypeError), ("1", TypeError)]
)
def test_seed_refused(value, error):
    with pytest.raises(error, match="seed"):
        seed_value(value)


def test_seed_default():
    assert seed_value(None) == forecast.settings.DEFAULT_SEED


def test_sampler_settings():
    config = sampler_config({"draws": 200, "chains": 3})
    assert (config.draws, config.chains) == (200, 3)
    assert config.tune == forecast.settings.TUNE
    assert sampler_config(None) == forecast.SamplerConfig()
    with pytest.raises(TypeError, match="unknown setting"):
        sampler_config({"draw": 200})
    with pytest.raises(TypeError, match="whole number"):
        sampler_config({"draws": 2.5})
    with pytest.raises(ValueError, match="draws"):
        sampler_config({"draws": 0})
    with pytest.raises(TypeError, match="SamplerConfig"):
        sampler_config("fast")


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (2**63, ValueError, "seed must be a whole number from 0 to"),
        (-(2**70), ValueError, "got -"),
        (None, None, None),
    ],
)
def test_seed_range(value, error, words):
    if error is None:
        assert seed_value(value) == forecast.settings.DEFAULT_SEED
        assert seed_value(2**63 - 1) == 2**63 - 1
        return
    with pytest.raises(error, match=words):
        seed_value(value)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (0, ValueError, "got 0"),
        (-1, ValueError, "got -1"),
        (2.0, TypeError, "not float"),
        (True, TypeError, "not bool"),
        (forecast.settings.MAX_DRAWS + 1, ValueError, "from 1 to 1_000_000"),
    ],
)
def test_draw_count_refused(value, error, words):
    with pytest.raises(error, match=words):
        draw_count(value, "draws")


def test_draw_count_accepted():
    assert draw_count(1, "draws") == 1
    assert draw_count(forecast.settings.MAX_DRAWS, "draws") == forecast.settings.MAX_DRAWS


def test_sampler_limits():
    assert sampler_config({"target_accept": 0.9}).target_accept == 0.9
    with pytest.raises(ValueError, match="draws x chains"):
        sampler_config({"draws": forecast.settings.MAX_DRAWS, "chains": 2})
    with pytest.raises(TypeError, match="target_accept must be a number"):
        sampler_config({"target_accept": True})
    with pytest.raises(ValueError, match=r"target_accept must be in \(0, 1\)"):
        sampler_config({"target_accept": 0.0})
    with pytest.raises(TypeError, match="backend must be a str"):
        sampler_config({"backend": 1})


@pytest.mark.parametrize("value", [[("id", "x")], "id: x", None, 3])
def test_scenario_mapping_refused(value):
    with pytest.raises(forecast.ScenarioError, match=r"data is a .*, not a mapping"):
        scenario_mapping(value)


def test_scenario_mapping_accepts_any_mapping():
    import types

    assert scenario_mapping(types.MappingProxyType({"id": "x"})) == {"id": "x"}


def test_folder_path():
    assert folder_path(None) is None
    assert folder_path("x") == "x"
    with pytest.raises(TypeError, match="folder must be"):
        folder_path(3)


def test_load_scenario_path_type():
    with pytest.raises(TypeError, match="path must be a str or Path"):
        forecast.load_scenario(3.5)


@pytest.mark.parametrize(
    ("as_of", "words"),
    [
        ("2023-06-30", "as_of 2023-06-30 is before the scenario's start (2024-01-01): no evidence"),
        (
            "2030-01-31",
            "as_of 2030-01-31 is after the scenario's horizon (2024-04-30): every month",
        ),
    ],
)
def test_a_cut_off_outside_the_months_warns(as_of, words):
    from tests.conftest import TINY

    scenario = forecast.load_scenario(TINY)
    with pytest.warns(forecast.AsOfWarning, match=re.escape(words)):
        assert scenario_cutoff(as_of, scenario) == dt.date.fromisoformat(as_of)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scenario_cutoff("2024-02-29", scenario) == dt.date(2024, 2, 29)
        assert scenario_cutoff(None, scenario) is None


def test_scheduler_refused():
    assert scheduler_value(None) is None
    assert scheduler_value(" sync ") == "sync"
    for bad in (2, "", ["tcp://x"]):
        with pytest.raises(TypeError, match="scheduler must be None"):
            scheduler_value(bad)
