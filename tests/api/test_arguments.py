"""The front door refuses bad arguments naming the argument and what is allowed."""

from __future__ import annotations

import datetime as dt

import pytest

import forecast
from forecast.api.arguments import as_of_date, sampler_config, seed_value


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
