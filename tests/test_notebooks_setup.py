"""The notebooks' set-up: any cell runs after the parameters and set-up cells; errors as lists.

The first code cell holds the parameters (tagged ``parameters``, papermill's convention: plain
assignments of literals), the second is the set-up cell. Every later code cell may only read
names that the parameters or set-up cells define, that it defines itself, its own imports and
builtins, and may not assign a name the set-up defines (a later cell would then see another
value depending on what ran before it). The check is static (``ast``), so it costs nothing.
Then: a ScenarioError raised in a cell shows as its problem list (forecast.jupyter.errors),
and ``notebooks/run.py`` (``make notebooks SCENARIO=...``) injects the parameters into copies.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import forecast
from tests.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IPYTHON_NAMES = {"display", "get_ipython"}
"""Names the IPython kernel provides in every cell."""
ALWAYS = set(dir(builtins)) | IPYTHON_NAMES


def cell_code(cell: dict) -> str:
    """A code cell's source without IPython magics and shell lines."""
    source = cell["source"]
    text = "".join(source) if isinstance(source, list) else source
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()
    )


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the code binds anywhere: assignments, loops, imports, defs, arguments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
    return names


def loaded_names(tree: ast.AST) -> set[str]:
    """Every name the code reads, in any scope of it."""
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


NESTED = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
"""Scopes of their own: what they bind stays inside them."""


def top_level_bindings(tree: ast.AST) -> set[str]:
    """The names code binds in the kernel's namespace (not inside functions or comprehensions)."""
    names: set[str] = set()
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, NESTED):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        pending.extend(ast.iter_child_nodes(node))
    return names


def defined_names(tree: ast.Module) -> set[str]:
    """What a set-up cell leaves for later cells: its top-level assignments, imports and defs.

    A loop's variable (``for name in ...``) is not counted: a later cell that reads it relies on
    a leftover, and one that reuses the name changes nothing the set-up meant to provide.
    """
    names = top_level_bindings(tree)
    for statement in tree.body:
        if isinstance(statement, (ast.For, ast.AsyncFor)):
            names -= {n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)}
            names |= top_level_bindings(ast.Module(statement.body + statement.orelse, []))
    return names


def parameter_problems(cell: dict) -> list[str]:
    """Why a cell cannot be papermill's parameters cell (empty: it can)."""
    problems = []
    if "parameters" not in cell.get("metadata", {}).get("tags", []):
        problems.append("the first code cell is not tagged 'parameters'")
    for statement in ast.parse(cell_code(cell)).body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            problems.append(f"line {statement.lineno}: not a plain assignment")
            continue
        target = statement.targets[0]
        if not isinstance(target, ast.Name):
            problems.append(f"line {statement.lineno}: assigns to {ast.unparse(target)}")
        try:
            ast.literal_eval(statement.value)
        except ValueError:
            problems.append(
                f"line {statement.lineno}: {ast.unparse(statement.value)} is no literal"
            )
    return problems


def setup_problems(notebook: dict) -> list[str]:
    """Every way a notebook breaks the parameters / set-up / independent cells layout."""
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    if len(cells) < 2:
        return ["fewer than two code cells: no parameters and set-up cells"]
    problems = [f"parameters cell: {p}" for p in parameter_problems(cells[0])]
    given = set()
    for cell in cells[:2]:
        given |= defined_names(ast.parse(cell_code(cell)))
    for number, cell in enumerate(cells[2:], start=3):
        tree = ast.parse(cell_code(cell))
        first = cell_code(cell).strip().splitlines()[:1] or [""]
        where = f"code cell {number} ({first[0][:40]!r})"
        missing = loaded_names(tree) - given - bound_names(tree) - ALWAYS
        if missing:
            problems.append(f"{where} reads {sorted(missing)}, defined by no set-up cell")
        rebound = top_level_bindings(tree) & given
        if rebound:
            problems.append(f"{where} assigns {sorted(rebound)}, which the set-up defines")
    return problems


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_needs_only_the_parameters_and_setup(path: Path) -> None:
    assert setup_problems(json.loads(path.read_text(encoding="utf-8"))) == []


def notebook(*sources: str, tags: tuple[str, ...] = ("parameters",)) -> dict:
    """A notebook of code cells; the first tagged ``tags``."""
    cells = [{"cell_type": "code", "metadata": {}, "source": s} for s in sources]
    if cells:
        cells[0]["metadata"]["tags"] = list(tags)
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# t"}, *cells]}


PARAMETERS = 'SCENARIO = "scenarios/a.yaml"\nAS_OF = "2024-09-30"'
SETUP = (
    "import logging\nimport forecast\n%matplotlib inline\n"
    "for name in ('pymc',):\n    logging.getLogger(name).setLevel(40)\n"
    "model = forecast.ScenarioModel.from_file(SCENARIO)\nfit = model.fit(as_of=AS_OF)"
)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # cells that read only the set-up's names, their own, their imports and builtins
        ((PARAMETERS, SETUP, "fit.questions()", "x = len(model.rules)\nprint(x)"), []),
        ((PARAMETERS, SETUP, "import numpy as np\nnp.mean([m for m in range(3)])"), []),
        ((PARAMETERS, SETUP, "def f(a):\n    return a + fit.seed\nf(1)"), []),
        ((PARAMETERS, SETUP, "for name in model.rules:\n    display(name)"), []),
        # a cell that reads what another later cell made
        ((PARAMETERS, SETUP, "table = fit.questions()", "table.round(2)"), ["reads ['table']"]),
        ((PARAMETERS, SETUP, "t = fit.questions()", "[t for _ in range(2)]"), ["reads ['t']"]),
        ((PARAMETERS, SETUP, "print(name)"), ["reads ['name']"]),  # a set-up loop's leftover
        # a cell that changes what the set-up made
        ((PARAMETERS, SETUP, "model = model.with_judgement('r', best=0.5)"), ["assigns ['model']"]),
        # the parameters cell: literals only
        (('SCENARIO = "a.yaml"\nAS_OF = str(2024)', SETUP), ["no literal"]),
        ((PARAMETERS,), ["fewer than two code cells"]),
    ],
)
def test_the_check_finds_cells_that_need_other_cells(cells, expected) -> None:
    problems = setup_problems(notebook(*cells))
    assert len(problems) == len(expected), problems
    for problem, words in zip(problems, expected, strict=True):
        assert words in problem


def test_an_untagged_first_cell_is_refused() -> None:
    problems = setup_problems(notebook(PARAMETERS, SETUP, tags=()))
    assert problems == ["parameters cell: the first code cell is not tagged 'parameters'"]


def test_the_parameters_come_first() -> None:
    problems = setup_problems(notebook(SETUP, PARAMETERS, tags=()))
    assert problems[0] == "parameters cell: the first code cell is not tagged 'parameters'"
    assert any("not a plain assignment" in p for p in problems)
    assert any("is no literal" in p for p in problems)


# -- a ScenarioError in a notebook shows as its problems ----------------------------------------

TWO_PROBLEMS = (
    "raise forecast.ScenarioError(["
    "forecast.Problem('a.yaml', 'nodes.x.states', 'not <a> list', 'a list of names', 4), "
    "forecast.Problem('a.yaml', '', 'no nodes')])"
)


@pytest.fixture
def shell():
    """IPython's shell, without the custom handler once the test is done."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    ip.run_cell("import forecast", store_history=False)
    yield ip
    ip.set_custom_exc((), None)


def test_the_html_lists_every_problem() -> None:
    error = forecast.ScenarioError(
        [
            forecast.Problem("a.yaml", "nodes.x.states", "not <a> list", "a list of names", 4),
            forecast.Problem("a.yaml", "", "no nodes"),
        ]
    )
    html = error._repr_html_()
    assert "<b>ScenarioError</b>: 2 problems found" in html
    assert "".join(f"<th>{c}</th>" for c in ("file", "line", "field", "message", "allowed")) in html
    row = "<td>a.yaml</td><td>4</td><td>nodes.x.states</td><td>not &lt;a&gt; list</td>"
    assert row + "<td>a list of names</td>" in html
    assert "<td>a.yaml</td><td></td><td>(file)</td><td>no nodes</td><td></td>" in html


def test_a_scenario_error_in_a_cell_shows_its_problems_not_a_traceback(shell, capsys) -> None:
    from forecast.jupyter.errors import show_errors_as_lists

    shown = []
    publish = shell.display_pub.publish
    shell.display_pub.publish = lambda data, *a, **k: shown.append(data) or publish(data, *a, **k)
    try:
        assert show_errors_as_lists(shell) is True
        result = shell.run_cell(TWO_PROBLEMS, store_history=False)
    finally:
        shell.display_pub.publish = publish
    out = capsys.readouterr()
    text = out.out + out.err
    assert isinstance(result.error_in_exec, forecast.ScenarioError)  # the cell still fails
    assert "a.yaml:4: nodes.x.states: not <a> list Allowed: a list of names" in text
    assert "a.yaml: (file): no nodes" in text
    assert "ScenarioError: 2 problems (listed above)" in text
    assert "Traceback" not in text and "raise forecast" not in text
    assert len(shown) == 1 and "<td>not &lt;a&gt; list</td>" in shown[0]["text/html"]
    assert shown[0]["text/plain"] == str(result.error_in_exec)


def test_a_missing_scenario_shows_as_a_problem_too(shell, capsys, tmp_path, monkeypatch) -> None:
    from forecast.jupyter.errors import show_errors_as_lists

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORECAST_PROJECT", raising=False)
    show_errors_as_lists(shell)
    shell.run_cell("forecast.find_scenario('scenarios/none.yaml')", store_history=False)
    text = capsys.readouterr().out
    assert "scenario not found; tried" in text and "Traceback" not in text


def test_other_errors_keep_their_traceback(shell, capsys) -> None:
    from forecast.jupyter.errors import show_errors_as_lists

    show_errors_as_lists(shell)
    shell.run_cell("1 / 0", store_history=False)
    out = capsys.readouterr()
    assert "Traceback" in out.out + out.err and "ZeroDivisionError" in out.out + out.err


def test_outside_ipython_nothing_is_registered(monkeypatch) -> None:
    import IPython

    from forecast.jupyter.errors import show_errors_as_lists

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert show_errors_as_lists() is False


def test_importing_forecast_registers_nothing() -> None:
    code = "import sys, forecast; print('IPython' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# -- make notebooks SCENARIO=...: the runner -----------------------------------------------------


@functools.cache
def load_runner():
    """``notebooks/run.py``, a script rather than a module of the package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebooks_run", ROOT / "notebooks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("declared", "scenario", "as_of", "expected"),
    [
        (
            ["SCENARIO", "AS_OF"],
            "s.yaml",
            "2024-12-31",
            {"SCENARIO": "s.yaml", "AS_OF": "2024-12-31"},
        ),
        (["SCENARIO", "AS_OF"], "s.yaml", None, {"SCENARIO": "s.yaml"}),  # keeps its own AS_OF
        (["SCENARIO", "CLAIM_MAP"], "s.yaml", "2024-12-31", {"SCENARIO": "s.yaml"}),  # no AS_OF
        (["SCENARIO"], None, None, {}),
    ],
)
def test_the_runner_injects_what_a_notebook_declares(declared, scenario, as_of, expected) -> None:
    assert load_runner().build_parameters(declared, scenario, as_of) == expected


@pytest.mark.parametrize(
    ("scenario", "as_of", "name"),
    [
        ("scenarios/forecasters/dove.yaml", None, "dove"),
        ("scenarios/forecasters/dove.yaml", "2024-12-31", "dove_as_of_2024-12-31"),
        (None, "2024-12-31", "default_as_of_2024-12-31"),
    ],
)
def test_the_results_folder_is_named_after_the_run(scenario, as_of, name) -> None:
    assert load_runner().run_name(scenario, as_of) == name


def small_notebook(path: Path, *sources: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell("# a test")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    return path


def test_the_runner_runs_copies_and_reports_the_failing_cell(tmp_path) -> None:
    import nbformat

    runner = load_runner()
    good = small_notebook(
        tmp_path / "01_good.ipynb",
        'SCENARIO = "scenarios/kursk_2024.yaml"\nAS_OF = "2024-09-30"',
        "print(f'{SCENARIO} {AS_OF}')",
    )
    bad = small_notebook(
        tmp_path / "02_bad.ipynb",
        'SCENARIO = "scenarios/kursk_2024.yaml"',
        "x = 1",
        "assert x == 2, 'x is not two'",
        "print('not reached')",
    )
    before = good.read_text(), bad.read_text()
    lines = []
    outcomes = runner.run_notebooks(
        [good, bad], tmp_path / "out", "scenarios/dove.yaml", "2024-12-31", report=lines.append
    )
    assert (good.read_text(), bad.read_text()) == before  # the originals are left as they were
    ran = nbformat.read(tmp_path / "out" / "01_good.ipynb", as_version=4)
    printed = "".join(
        o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.outputs
    )
    assert printed == "scenarios/dove.yaml 2024-12-31\n"
    assert [o.error == "" for o in outcomes] == [True, False]
    assert outcomes[1].left_out == ["AS_OF"]
    assert "cell 4 (In [4], \"assert x == 2, 'x is not two'\"): AssertionError: x is not two" in (
        outcomes[1].error
    )
    assert lines[0].startswith("ok     01_good.ipynb")
    assert lines[1].startswith("FAILED 02_bad.ipynb") and "(no AS_OF parameter)" in lines[1]


def test_the_runner_never_writes_the_notebooks_folder(capsys) -> None:
    assert load_runner().main(["--out", str(ROOT / "notebooks")]) == 2
    assert "refusing to write into" in capsys.readouterr().out


def test_the_runner_refuses_a_bad_date_or_scenario(capsys) -> None:
    runner = load_runner()
    assert runner.main(["--as-of", "2024-13-01"]) == 2
    assert runner.main(["--scenario", "scenarios/none.yaml"]) == 2
    out = capsys.readouterr().out
    assert "is not a date" in out and "scenario not found; tried" in out
