"""Run copies of the notebooks with other parameters (papermill) into a results folder.

``make notebooks SCENARIO=scenarios/forecasters/dove.yaml [AS_OF=2024-12-31]`` runs
``python notebooks/run.py --scenario ... [--as-of ...]``. Each notebook whose parameters cell
(the cell tagged ``parameters``) declares ``SCENARIO`` or ``AS_OF`` is given the value, and
is executed as a copy in ``results/notebooks/<scenario stem>[_as_of_<date>]/``: the notebooks
in ``notebooks/``, whose outputs are the tests' reference, are never written. A notebook that
fails is reported with the cell that failed, the others still run, and the exit code is 1 if
any failed (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = ROOT / "results" / "notebooks"
PROJECT_ENV = "FORECAST_PROJECT"


def notebooks() -> list[Path]:
    """The numbered notebooks of ``notebooks/``, in order."""
    return sorted(HERE.glob("[0-9][0-9]_*.ipynb"))


def build_parameters(
    declared: Iterable[str], scenario: str | None = None, as_of: str | None = None
) -> dict[str, str]:
    """What papermill injects into a notebook whose parameters cell declares ``declared``.

    A value that is not given (None), or that the notebook does not declare, is left out, so
    the notebook keeps its own.
    """
    given = {"SCENARIO": scenario, "AS_OF": as_of}
    names = set(declared)
    return {name: value for name, value in given.items() if value is not None and name in names}


def declared_parameters(notebook: Path) -> list[str]:
    """The names the notebook's parameters cell assigns (papermill's inspection)."""
    import papermill

    return list(papermill.inspect_notebook(str(notebook)))


def run_name(scenario: str | None, as_of: str | None) -> str:
    """The results folder's name: the scenario's stem, with the cut-off when one is given."""
    stem = Path(scenario).stem if scenario else "default"
    return f"{stem}_as_of_{as_of}" if as_of else stem


def shown_path(path: Path) -> str:
    """A path relative to the project when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


@dataclass
class Outcome:
    """How one notebook ran."""

    notebook: Path
    output: Path
    parameters: dict[str, str]
    seconds: float = 0.0
    error: str = ""
    """Empty when the notebook ran; otherwise which cell failed and how."""
    left_out: list[str] = field(default_factory=list)
    """Parameters given but not declared by this notebook."""


def cell_number(notebook: Path, source: str) -> int | None:
    """The 1-based position, among all cells of ``notebook``, of the cell with ``source``."""
    import nbformat

    for number, cell in enumerate(nbformat.read(notebook, as_version=4).cells, start=1):
        if cell.cell_type == "code" and cell.source == source:
            return number
    return None


def failure(error: Exception, notebook: Path) -> str:
    """Which cell failed, and the error's first lines."""
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(error, PapermillExecutionError):
        return f"{type(error).__name__}: {error}".strip()
    source = error.source if isinstance(error.source, str) else "".join(error.source)
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    number = cell_number(notebook, source)
    where = f"cell {number}" if number is not None else "a cell"
    lines = (error.evalue or "").strip().splitlines() or [""]
    text = f"{where} (In [{error.exec_count}], {first[:60]!r}): {error.ename}: {lines[0]}"
    return "\n".join([text, *(f"      {line}" for line in lines[1:12])])


def run_notebook(notebook: Path, folder: Path, parameters: dict[str, str]) -> Outcome:
    """Execute a copy of ``notebook`` in ``folder`` (also its working folder) with papermill."""
    import papermill

    output = folder / notebook.name
    if output.resolve() == notebook.resolve():
        raise ValueError(f"refusing to overwrite {notebook}: choose another output folder")
    outcome = Outcome(notebook, output, parameters)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            cwd=str(folder),
            progress_bar=False,
            log_output=False,
        )
    except Exception as error:  # every failure is reported; the other notebooks still run
        outcome.error = failure(error, notebook)
    outcome.seconds = time.perf_counter() - start
    return outcome


def run_notebooks(
    paths: Sequence[Path],
    folder: Path,
    scenario: str | None = None,
    as_of: str | None = None,
    report: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Run every notebook of ``paths`` into ``folder``, injecting the parameters it declares."""
    say = report or (lambda text: None)
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for notebook in paths:
        declared = declared_parameters(notebook)
        parameters = build_parameters(declared, scenario, as_of)
        given = build_parameters(["SCENARIO", "AS_OF"], scenario, as_of)
        outcome = run_notebook(notebook, folder, parameters)
        outcome.left_out = sorted(set(given) - set(parameters))
        outcomes.append(outcome)
        say(describe(outcome))
    return outcomes


def describe(outcome: Outcome) -> str:
    """One notebook's line of the report."""
    name = outcome.notebook.name
    extra = f" (no {', '.join(outcome.left_out)} parameter)" if outcome.left_out else ""
    if outcome.error:
        return (
            f"FAILED {name} after {outcome.seconds:.0f} s{extra}, in {outcome.error}\n"
            f"       the executed copy: {shown_path(outcome.output)}"
        )
    return f"ok     {name} in {outcome.seconds:.0f} s{extra}"


def scenario_parameter(path: str) -> str:
    """The scenario as the notebooks get it: relative to the project if inside it."""
    import forecast

    found = forecast.find_scenario(path)
    return shown_path(found)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; the exit code is 1 if a notebook failed, 2 for bad arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", help="the scenario file (SCENARIO of the notebooks)")
    parser.add_argument("--as-of", help="the evidence cut-off, YYYY-MM-DD (AS_OF)")
    parser.add_argument(
        "--out", type=Path, help="default: results/notebooks/<scenario stem>[_as_of_<date>]"
    )
    parser.add_argument("notebook", nargs="*", type=Path, help="default: notebooks/0*.ipynb")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    if args.as_of is not None:
        try:
            dt.date.fromisoformat(args.as_of)
        except ValueError:
            say(f"--as-of {args.as_of!r} is not a date; allowed: YYYY-MM-DD, e.g. 2024-09-30")
            return 2
    scenario = None
    if args.scenario is not None:
        from forecast import ScenarioError

        try:
            scenario = scenario_parameter(args.scenario)
        except ScenarioError as error:
            say(str(error))
            return 2
    paths = args.notebook or notebooks()
    folder = args.out or RESULTS / run_name(scenario, args.as_of)
    if any(folder.resolve() == path.resolve().parent for path in paths):
        say(f"refusing to write into {folder}, the notebooks' own folder: pass another --out")
        return 2
    # the kernels find the project's files from wherever the copies are
    os.environ.setdefault(PROJECT_ENV, str(ROOT))
    given = build_parameters(["SCENARIO", "AS_OF"], scenario, args.as_of)
    values = ", ".join(f"{k}={v}" for k, v in given.items()) or "their own parameters"
    where = f"{shown_path(folder)}/"
    say(f"running {len(paths)} notebooks with {values} into {where}")
    start = time.perf_counter()
    outcomes = run_notebooks(paths, folder, scenario, args.as_of, report=say)
    failed = [o.notebook.name for o in outcomes if o.error]
    took = f"{time.perf_counter() - start:.0f} s"
    if failed:
        say(f"{len(failed)} of {len(outcomes)} notebooks failed ({took}): {', '.join(failed)}")
        return 1
    say(f"all {len(outcomes)} notebooks ran in {took}; the copies are in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
