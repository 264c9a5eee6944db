"""A small on-disk cache of pure, slow results (maximum-entropy fits), shared by processes.

PreliZ's maximum-entropy fit takes about 0.1 s a judgement, and its first call in a process
costs seconds more (imports and just-in-time compilation). The fit is a pure function of the
judgement's numbers and the PreliZ version, so its result is kept in a JSON file and a new
process reads it instead of fitting again. The cache lives in ``$FORECAST_CACHE_DIR``, or
``~/.cache/forecast``; deleting it is always safe. When it cannot be read or written, results
are simply recomputed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """The cache folder (``$FORECAST_CACHE_DIR`` or ``~/.cache/forecast``)."""
    configured = os.environ.get("FORECAST_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "forecast"


class ResultCache:
    """A JSON mapping from string keys to results, loaded lazily and written atomically.

    Parameters
    ----------
    name : str
        What is cached; with the version of the package that computes it, this names the file,
        so a new version starts a new cache.
    package : str
        The distribution whose version the results depend on.
    """

    def __init__(self, name: str, package: str) -> None:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover - a dependency
            version = "unknown"
        self.name = f"{name}-{package}-{version}.json"
        self._entries: dict[str, Any] | None = None
        self._path: Path | None = None

    def _load(self) -> dict[str, Any]:
        path = cache_dir() / self.name
        if self._entries is None or path != self._path:
            self._path = path
            try:
                self._entries = json.loads(path.read_text())
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def get(self, key: str) -> Any:
        """The cached result for ``key``, or None."""
        return self._load().get(key)

    def put(self, key: str, value: Any) -> None:
        """Store a result (JSON-serialisable) and write the file."""
        entries = self._load()
        entries[key] = value
        path = cache_dir() / self.name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, delete=False, suffix=".tmp"
            ) as handle:
                json.dump(entries, handle)
            os.replace(handle.name, path)
        except OSError as err:
            logger.debug("result cache %s not written: %s", path, err)
