"""Checks of the front door's arguments: a refused value names the argument and what is allowed."""

from __future__ import annotations

import datetime as dt
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from forecast import settings
from forecast.errors import AsOfWarning, ScenarioError


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


def scheduler_value(value: Any, name: str = "scheduler") -> str | None:
    """Where a sweep of fits runs: ``"sync"``, None (a new local cluster) or an address.

    Raises
    ------
    TypeError
        For anything but None or a non-empty string.
    """
    if value is None or (isinstance(value, str) and value.strip()):
        return None if value is None else value.strip()
    raise TypeError(
        f"{name} must be None (a new local Dask cluster), 'sync' (in this process) or a Dask "
        f"scheduler's address such as 'tcp://host:8786', not {value!r}"
    )


def as_of_outside(scenario: Any, as_of: dt.date | None, name: str = "as_of") -> str | None:
    """Why a cut-off lies outside the scenario's months, or None when it does not.

    Before the first month no evidence is known, so the forecast is the priors' alone; after
    the horizon every month the scenario forecasts is past.
    """
    if as_of is None:
        return None
    tl = scenario.timeline
    start = dt.date(tl.start[0], tl.start[1], 1)
    horizon = tl.month_end_date(tl.n_steps - 1)
    if as_of < start:
        return (
            f"{name} {as_of.isoformat()} is before the scenario's start ({start.isoformat()}): "
            "no evidence is used, the forecast is the priors' alone"
        )
    if as_of > horizon:
        return (
            f"{name} {as_of.isoformat()} is after the scenario's horizon "
            f"({horizon.isoformat()}): every month it forecasts is already past"
        )
    return None


def scenario_cutoff(value: Any, scenario: Any, name: str = "as_of") -> dt.date | None:
    """:func:`as_of_date`, with an :class:`~forecast.errors.AsOfWarning` outside the months."""
    cutoff = as_of_date(value, name)
    if (reason := as_of_outside(scenario, cutoff, name)) is not None:
        warnings.warn(reason, AsOfWarning, stacklevel=3)
    return cutoff


MAX_SEED = 2**63 - 1
"""Largest seed (the samplers take a 64-bit integer)."""


def whole_number(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """A whole number (not a bool) of at least ``minimum`` (and at most ``maximum``).

    Raises
    ------
    TypeError, ValueError
        Naming ``name`` and what is allowed.
    """
    allowed = f"a whole number >= {minimum}"
    if maximum is not None:
        allowed = f"a whole number from {minimum} to {maximum:_}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}, not {type(value).__name__} ({value!r})")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return number


def seed_value(value: Any, name: str = "seed") -> int:
    """A seed: a whole number from 0 to :data:`MAX_SEED` (None: the package's default seed)."""
    return settings.DEFAULT_SEED if value is None else whole_number(value, name, 0, MAX_SEED)


def draw_count(value: Any, name: str) -> int:
    """A number of draws: a whole number from 1 to ``settings.MAX_DRAWS``."""
    return whole_number(value, name, 1, settings.MAX_DRAWS)


def scenario_mapping(value: Any, name: str = "<dict>", argument: str = "data") -> dict[str, Any]:
    """The fields of a scenario written in code, as a dict.

    Raises
    ------
    ScenarioError
        For anything but a mapping (a list, a path, a Scenario), naming the argument, as a
        file that does not hold a mapping is reported.
    """
    if isinstance(value, Mapping):
        return dict(value)
    hint = (
        "; for a file use ScenarioModel.from_file"
        if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__")
        else ""
    )
    raise ScenarioError.single(
        name,
        f"(argument {argument})",
        f"{argument} is a {type(value).__name__}, not a mapping{hint}",
        "a mapping of the scenario's fields, as the YAML file holds them",
    )


def folder_path(value: Any, name: str = "folder") -> Any:
    """A folder argument: a str, a path or None (unchanged).

    Raises
    ------
    TypeError
        For another type, naming ``name``.
    """
    if value is None or isinstance(value, str) or hasattr(value, "__fspath__"):
        return value
    raise TypeError(f"{name} must be a str, a Path or None, not {type(value).__name__}")


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
                whole_number(value[key], f"sampler {key}", minimum, settings.MAX_DRAWS)
        draws, chains = value.get("draws", settings.DRAWS), value.get("chains", settings.CHAINS)
        if draws * chains > settings.MAX_DRAWS:
            raise ValueError(
                f"sampler draws x chains must be at most {settings.MAX_DRAWS:_} "
                f"(forecast.settings.MAX_DRAWS), got {draws} x {chains}"
            )
        if "target_accept" in value:
            accept = value["target_accept"]
            if isinstance(accept, bool) or not isinstance(accept, numbers.Real):
                raise TypeError(
                    f"sampler target_accept must be a number in (0, 1), not "
                    f"{type(accept).__name__} ({accept!r})"
                )
            if not 0.0 < float(accept) < 1.0:
                raise ValueError(f"sampler target_accept must be in (0, 1), got {accept}")
        if "backend" in value and not isinstance(value["backend"], str):
            raise TypeError(
                f"sampler backend must be a str such as 'nutpie' or 'pymc', not "
                f"{type(value['backend']).__name__}"
            )
        return SamplerConfig(**value)
    raise TypeError(
        f"sampler must be a SamplerConfig, a mapping of its settings or None, not "
        f"{type(value).__name__}"
    )
