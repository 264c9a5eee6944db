"""The package's boundaries: no module imports another's private names.

A private name (``_name``) is free to change with its module; importing it elsewhere ties the
two modules together without saying so. What two modules share gets a public name (the layers
themselves are checked by import-linter, ``lint-imports``, configured in ``pyproject.toml``).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "forecast"
PACKAGES = (PACKAGE, "tests", "benchmarks")
"""Where a private import is looked for: the package, and the helpers tests share."""


def is_private(name: str) -> bool:
    """A single leading underscore: ``_x``, not ``__version__`` or ``__all__``."""
    return name.startswith("_") and not name.startswith("__")


def module_of(path: Path) -> str:
    """The dotted module name of a file under the repository root."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, without IPython magics and shell lines."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = cell["source"]
        text = "".join(source) if isinstance(source, list) else source
        lines += [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]
        lines.append("")
    return "\n".join(lines)


def private_imports(source: str, importer: str) -> list[str]:
    """Every import of a private name or module of ours (:data:`PACKAGES`) by another module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in PACKAGES and any(is_private(p) for p in parts):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] not in PACKAGES or node.module == importer:
                continue
            if any(is_private(p) for p in parts):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    return found


def sources() -> list[Path]:
    files = [p for d in PACKAGES for p in (ROOT / d).rglob("*.py")]
    return sorted(files) + sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_is_imported_across_modules(path: Path) -> None:
    source = notebook_code(path) if path.suffix == ".ipynb" else path.read_text("utf-8")
    assert private_imports(source, module_of(path)) == []


@pytest.mark.parametrize(
    ("source", "importer", "expected"),
    [
        ("from forecast.engine.kernels import _max", "forecast.engine.slots", 1),
        ("from forecast.engine.kernels import _max", "forecast.engine.kernels", 0),
        ("from forecast.engine.kernels import loglik_and_grad", "tests.x", 0),
        ("from forecast import __version__", "tests.x", 0),
        ("import forecast._pytensor_setup", "tests.x", 1),
        ("from forecast._pytensor_setup import configure", "tests.x", 1),
        ("def f():\n    from forecast.a import _b, c", "tests.x", 1),
        ("from numpy import _core", "tests.x", 0),
        ("from tests.engine.brute_force import _helper", "tests.x", 1),
    ],
)
def test_the_check_finds_private_imports(source: str, importer: str, expected: int) -> None:
    assert len(private_imports(source, importer)) == expected
