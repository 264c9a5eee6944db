"""Where the project's files are: the project root, and relative paths resolved against it.

A notebook names its scenario by a path relative to the project (``scenarios/kursk_2024.yaml``)
and may be opened from the repository root, from ``notebooks/``, from a results folder, or
copied elsewhere. :func:`find_file` tries, in order, the current folder, the project root found
by walking up from it, and the folder named by ``$FORECAST_PROJECT``; when none holds the file
it raises :class:`ProjectFileNotFoundError` listing every place tried and what to do.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from forecast.errors import Problem, ScenarioError

PROJECT_ENV = "FORECAST_PROJECT"
"""The environment variable naming the project folder, for a notebook copied out of it."""

PROJECT_NAME = "forecast"
"""The ``[project] name`` of the project's ``pyproject.toml``."""

ADVICE = (
    f"set {PROJECT_ENV} to the project folder (the one holding pyproject.toml and scenarios/), "
    "run from inside the project, or pass an absolute path"
)


class ProjectFileNotFoundError(ScenarioError, FileNotFoundError):
    """A file of the project that is in none of the places tried (listed in its problem).

    A :class:`~forecast.errors.ScenarioError` (shown as a problem list by the command line and
    in notebooks) and a :class:`FileNotFoundError`.
    """


def is_project_root(folder: Path) -> bool:
    """Whether ``folder`` is the project: ``pyproject.toml`` of ``forecast``, or its layout.

    The layout is a ``scenarios/`` folder next to the package folder ``forecast/``.
    """
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        project = data.get("project")
        if isinstance(project, dict) and project.get("name") == PROJECT_NAME:
            return True
    return (folder / "scenarios").is_dir() and (folder / "forecast").is_dir()


def root_above(start: Path) -> Path | None:
    """The nearest project root at or above ``start`` (None when there is none)."""
    start = start.absolute()
    for folder in (start, *start.parents):
        if is_project_root(folder):
            return folder
    return None


def env_root() -> Path | None:
    """The folder named by ``$FORECAST_PROJECT`` (None when unset or empty)."""
    value = os.environ.get(PROJECT_ENV, "").strip()
    return Path(value).expanduser().absolute() if value else None


def project_root(start: str | Path | None = None) -> Path:
    """The project folder: the nearest above ``start``, else ``$FORECAST_PROJECT``.

    Parameters
    ----------
    start : str or Path, optional
        Where the walk up begins (default: the current folder).

    Raises
    ------
    ProjectFileNotFoundError
        When no folder at or above ``start`` is the project and ``$FORECAST_PROJECT`` is unset
        or not a folder; the message lists both and what to do.
    """
    here = Path.cwd() if start is None else Path(start)
    found = root_above(here)
    if found is not None:
        return found
    configured = env_root()
    if configured is not None and configured.is_dir():
        return configured
    tried = [
        f"{here.absolute()} and every folder above it (no pyproject.toml of {PROJECT_NAME!r}, "
        "no scenarios/ next to forecast/)",
        env_place(configured),
    ]
    raise ProjectFileNotFoundError(
        [Problem(str(here), "", f"no project folder found; tried {'; '.join(tried)}.", ADVICE)]
    )


def env_place(configured: Path | None) -> str:
    """How ``$FORECAST_PROJECT`` was tried, for an error."""
    if configured is None:
        return f"${PROJECT_ENV} (not set)"
    if not configured.is_dir():
        return f"${PROJECT_ENV}={configured} (not a folder)"
    return f"${PROJECT_ENV}={configured}"


def candidates(path: Path, start: Path) -> list[tuple[Path | None, str]]:
    """Where a relative ``path`` is looked for, in order: (place or None, description)."""
    here = start.absolute()
    root = root_above(here)
    configured = env_root()
    places: list[tuple[Path | None, str]] = [(here / path, "the current folder")]
    if root is None:
        places.append((None, f"no project folder at or above {here}"))
    elif root != here:
        places.append((root / path, "the project folder above the current folder"))
    if configured is None:
        places.append((None, f"${PROJECT_ENV} (not set)"))
    elif configured not in (here, root):
        places.append((configured / path, f"${PROJECT_ENV}"))
    return places


def find_file(path: str | Path, *, start: str | Path | None = None, what: str = "file") -> Path:
    """The absolute path of a project file named absolutely or relative to the project.

    A relative ``path`` is tried against the current folder (or ``start``), then the project
    root found by walking up from it (:func:`project_root`), then ``$FORECAST_PROJECT``.

    Parameters
    ----------
    path : str or Path
        Absolute, or relative such as ``"data/kursk_questions.csv"``.
    start : str or Path, optional
        The folder standing for the current one (default: the current folder).
    what : str
        What the file is, for the error message (``"scenario"``, ``"questions file"``).

    Raises
    ------
    ProjectFileNotFoundError
        Listing every place tried and what to do.
    TypeError
        When ``path`` is not a str or Path.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, not {type(path).__name__} ({path!r})")
    wanted = Path(path).expanduser()
    if wanted.is_absolute():
        if wanted.exists():
            return wanted.resolve()
        message = f"{what} not found (an absolute path, tried as it is)."
        advice = f"an existing file, or a path relative to the project folder (or ${PROJECT_ENV})"
        raise ProjectFileNotFoundError([Problem(str(path), "", message, advice)])
    here = Path.cwd() if start is None else Path(start)
    places = candidates(wanted, here)
    for place, _ in places:
        if place is not None and place.exists():
            return place.resolve()
    tried = "; ".join(desc if place is None else f"{place} ({desc})" for place, desc in places)
    raise ProjectFileNotFoundError(
        [Problem(str(path), "", f"{what} not found; tried {tried}.", ADVICE)]
    )


def find_scenario(path: str | Path, *, start: str | Path | None = None) -> Path:
    """The absolute path of a scenario file, as :func:`find_file` finds it.

    Examples
    --------
    >>> path = find_scenario("scenarios/kursk_2024.yaml")  # doctest: +SKIP
    >>> model = forecast.ScenarioModel.from_file(path)  # doctest: +SKIP
    """
    return find_file(path, start=start, what="scenario")
