"""Every broken scenario in tests/bad_scenarios is answered by a clear ScenarioError.

Each file there is a copy of tests/scenarios/tiny_chain.yaml with one defect, or a short
variant that extends it (``extends``) with one defect; expected.yaml says which problem
(field, message, line, file, allowed text) the loader must report for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from forecast import Problem, ScenarioError, load_scenario
from tests.paths import TESTS

BAD = TESTS / "bad_scenarios"
VALID = TESTS / "scenarios" / "tiny_chain.yaml"
EXPECTED: dict[str, dict] = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))
CORPUS = sorted(p.name for p in BAD.glob("*.yaml") if p.name != "expected.yaml")

# Fragments of internals that must never reach a forecaster's error message.
INTERNALS = ("constrained-str", "[key]", "Value error,", "Traceback", "function-after")

# Files with several defects: (file, fields that must each be named by some problem).
MULTI = [
    (
        "schema_defects.yaml",
        [
            "questoins",
            "nodes.a.transitions[0].to.yes.best",
            "nodes.a.transitions[1].rationale",
            "nodes.b.transitions[0].to.mid.credibility",
        ],
    ),
    ("structure_defects.yaml", ["horizon", "nodes.b.parents.z", "nodes.b.initial"]),
    (
        "reference_defects.yaml",
        [
            "evidence.observations[0].state",
            "evidence.observations[1].date",
            "questions[0].node",
            "questions[1].date",
        ],
    ),
]


def _load_error(path: Path) -> ScenarioError:
    """The ScenarioError that loading ``path`` raises; fails on any other outcome."""
    try:
        load_scenario(path)
    except ScenarioError as exc:
        return exc
    except Exception as exc:  # any other type is the failure under test
        pytest.fail(f"{path.name} raised {type(exc).__name__} instead of ScenarioError: {exc}")
    pytest.fail(f"{path.name} loaded without error")


def _check_every_problem(error: ScenarioError) -> None:
    text = str(error)
    assert error.problems, "a ScenarioError must list at least one problem"
    for problem in error.problems:
        assert isinstance(problem, Problem)
        assert str(problem) in text
        assert problem.message.strip(), f"empty message: {problem}"
        assert problem.allowed.strip(), f"no allowed text: {problem}"
        assert f"Allowed: {problem.allowed}" in str(problem)
        assert isinstance(problem.line, int) and problem.line >= 1, f"no line: {problem}"
        assert f"{problem.file}:{problem.line}: " in text
    for fragment in INTERNALS:
        assert fragment not in text, f"internal detail {fragment!r} in: {text}"


def test_valid_base_loads() -> None:
    """The file the corpus is copied from is valid, so each copy fails for its one defect."""
    scenario = load_scenario(VALID)
    assert [n.name for n in scenario.nodes] == ["a", "b"]


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 20


def test_every_file_has_an_expectation() -> None:
    assert set(CORPUS) == set(EXPECTED)


@pytest.mark.parametrize("name", CORPUS)
def test_bad_scenario_is_reported_clearly(name: str) -> None:
    want = EXPECTED[name]
    error = _load_error(BAD / name)
    text = str(error)
    file = want.get("file", name)
    assert file in text, f"{file} not named in: {text}"
    matches = [
        p
        for p in error.problems
        if Path(p.file).name == file
        and want["field"] in (p.field or "(file)")
        and want["message"] in p.message
    ]
    assert matches, (
        f"no problem in {file} with field ~ {want['field']!r} and message ~ "
        f"{want['message']!r} in:\n{text}"
    )
    problem = matches[0]
    assert want["field"] in text and want["message"] in text
    if want["line"] is not None:
        assert problem.line == want["line"], f"line {problem.line}, expected {want['line']}"
        assert f"{file}:{want['line']}: " in text
    if "allowed" in want:
        assert want["allowed"] in problem.allowed, f"allowed text: {problem.allowed!r}"
    _check_every_problem(error)


@pytest.mark.parametrize(("name", "fields"), MULTI)
def test_several_defects_are_all_reported(name: str, fields: list[str]) -> None:
    error = _load_error(BAD / "multi" / name)
    assert len(error.problems) > 1
    reported = [p.field for p in error.problems]
    for field in fields:
        assert field in reported, f"{field} not reported: {reported}"
    assert str(error).startswith(f"{len(error.problems)} problems found:")
    lines = [p.line for p in error.problems]
    assert lines == sorted(lines), "problems of one file are listed in file order"
    _check_every_problem(error)


def test_missing_scenario_file(tmp_path: Path) -> None:
    error = _load_error(tmp_path / "nowhere.yaml")
    assert "nowhere.yaml" in str(error)
    assert "file not found" in error.problems[0].message
    assert error.problems[0].allowed


def test_header_only_and_bom_tables_load(tmp_path: Path) -> None:
    """A table with no rows is valid, and a UTF-8 byte-order mark (as spreadsheet programs
    write it) does not hide the first column's name."""
    text = VALID.read_text(encoding="utf-8").replace(
        "evidence:\n", "evidence:\n  tables: [empty.csv, bom.csv]\n"
    )
    scenario_path = tmp_path / "scenario.yaml"
    scenario_path.write_text(text, encoding="utf-8")
    (tmp_path / "empty.csv").write_text("date,node,state,source\n", encoding="utf-8")
    (tmp_path / "bom.csv").write_text(
        "date,node,state,source\n2024-03-10,b,low,report\n", encoding="utf-8-sig"
    )
    scenario = load_scenario(scenario_path)
    assert len(scenario.evidence) == 2


def test_corpus_csv_is_reported_relative_to_its_scenario(tmp_path: Path) -> None:
    """Evidence paths resolve against the scenario's folder, wherever the loader is run."""
    name = next(n for n in CORPUS if n.endswith("_table_missing_column.yaml"))
    table = EXPECTED[name]["file"]
    for each in (name, table):
        shutil.copy(BAD / each, tmp_path / each)
    error = _load_error(tmp_path / name)
    assert error.problems[0].file == str((tmp_path / table).resolve())
