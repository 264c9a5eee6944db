"""Checks of the front door's arguments: a refused value names the argument and what is allowed."""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Mapping
from typing import Any

from forecast import settings


def as_of_date(value: Any, name: str = "as_of") -> dt.date | None:
    """An evidence cut-off as a date (None: all the evidence).

    Parameters
    ----------
    value : date, datetime, str or None
        A date, or an ISO date string ``YYYY-MM-DD``. A datetime counts as its day.
    name : str
        The argument's name, for the error.

    Raises
    ------
    TypeError
        For any other type.
    ValueError
        For a string that is not an ISO date.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{name}={value!r} is not a date; allowed: a date YYYY-MM-DD such as "
                "'2024-09-30', a datetime.date, or None for all the evidence"
            ) from None
    raise TypeError(
        f"{name} must be a date, an ISO date string 'YYYY-MM-DD' or None, not "
        f"{type(value).__name__} ({value!r})"
    )


def whole_number(value: Any, name: str, minimum: int) -> int:
    """A whole number (not a bool) of at least ``minimum``.

    Raises
    ------
    TypeError, ValueError
        Naming ``name`` and what is allowed.
    """
    allowed = f"a whole number >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}, not {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def seed_value(value: Any, name: str = "seed") -> int:
    """A seed: a whole number >= 0 (None: the package's default seed)."""
    return settings.DEFAULT_SEED if value is None else whole_number(value, name, 0)


def draw_count(value: Any, name: str) -> int:
    """A number of draws: a whole number >= 1."""
    return whole_number(value, name, 1)


def sampler_config(value: Any) -> Any:
    """NUTS settings from a :class:`SamplerConfig`, a mapping of its fields, or None (defaults).

    Raises
    ------
    TypeError, ValueError
        For another type, an unknown field or a value out of range, naming it.
    """
    from forecast.pymc_backend.fitting import SamplerConfig

    if value is None:
        return SamplerConfig()
    if isinstance(value, SamplerConfig):
        return value
    if isinstance(value, Mapping):
        fields = set(SamplerConfig.__dataclass_fields__)
        unknown = sorted(set(value) - fields)
        if unknown:
            raise TypeError(
                f"sampler has unknown setting(s) {', '.join(map(str, unknown))}; allowed: "
                f"{', '.join(sorted(fields))}"
            )
        for key, minimum in (("draws", 1), ("tune", 0), ("chains", 1), ("cores", 1)):
            if key in value:
                whole_number(value[key], f"sampler {key}", minimum)
        return SamplerConfig(**value)
    raise TypeError(
        f"sampler must be a SamplerConfig, a mapping of its settings or None, not "
        f"{type(value).__name__}"
    )
