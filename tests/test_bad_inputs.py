"""Every bad input in tests/bad_inputs is refused with a clear message, never a traceback.

``csv/`` holds broken evidence CSVs and ``size/`` scenarios too large for the engine, each with
its expected problem in the folder's ``expected.yaml`` (as tests/bad_scenarios does): each is
walked through ``forecast check`` in-process and through ``ScenarioModel.from_file``.
``api/cases.yaml`` holds bad arguments of the Python front door, each with its exception and
exact text. Models too large for the engine are also built in code (``from_dict``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import forecast
from forecast import ScenarioError, ScenarioModel
from forecast.cli import main
from forecast.engine.checks import model_size, size_problems
from forecast.engine.plan import DRAWS_PER_BLOCK, MAX_NODES, size_estimate
from forecast.scenario.yaml_source import load_yaml
from tests.paths import TESTS

BAD = TESTS / "bad_inputs"
TINY = TESTS / "scenarios" / "tiny_chain.yaml"
FILE_FOLDERS = ("csv", "size")
FILE_CASES = [
    (folder, name, entry)
    for folder in FILE_FOLDERS
    for name, entry in yaml.safe_load((BAD / folder / "expected.yaml").read_text()).items()
]
API_CASES: dict[str, dict[str, Any]] = yaml.safe_load((BAD / "api" / "cases.yaml").read_text())
ERRORS = {"TypeError": TypeError, "ValueError": ValueError, "ScenarioError": ScenarioError}


def _matching(problems: list[forecast.Problem], entry: dict[str, Any], path: Path) -> list:
    """The problems that are the expected one: field, message, line, file and allowed text."""
    file = entry.get("file", path.name)
    return [
        p
        for p in problems
        if entry["field"] in p.field
        and entry["message"] in p.message
        and p.line == entry["line"]
        and entry.get("allowed", "") in p.allowed
        and Path(p.file).name == file
    ]


def test_every_case_has_its_expected_answer() -> None:
    for folder in FILE_FOLDERS:
        expected = yaml.safe_load((BAD / folder / "expected.yaml").read_text())
        files = {p.name for p in (BAD / folder).glob("*.yaml")} - {"expected.yaml"}
        assert files == set(expected), folder
    assert len(FILE_CASES) + len(API_CASES) >= 30


@pytest.mark.parametrize(
    ("folder", "name", "entry"), FILE_CASES, ids=[f"{f}/{n}" for f, n, _ in FILE_CASES]
)
def test_check_refuses_the_file(capsys, folder: str, name: str, entry: dict[str, Any]) -> None:
    path = BAD / folder / name
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code != 0
    assert "Traceback" not in out
    assert "cannot be used as written" in out
    flat = " ".join(out.split())  # the console may wrap long lines
    for text in (entry["field"], entry["message"], entry.get("allowed", "")):
        assert " ".join(text.split()) in flat, (text, out)
    file = entry.get("file", name)
    assert f"{file}:{entry['line']}:" in flat, out


@pytest.mark.parametrize(
    ("folder", "name", "entry"), FILE_CASES, ids=[f"{f}/{n}" for f, n, _ in FILE_CASES]
)
def test_from_file_refuses_the_file(folder: str, name: str, entry: dict[str, Any]) -> None:
    path = BAD / folder / name
    with pytest.raises(ScenarioError) as error:
        ScenarioModel.from_file(path)
    found = _matching(error.value.problems, entry, path)
    assert found, f"{name}: expected {entry}, got:\n{error.value}"
    for problem in error.value.problems:
        assert problem.allowed.strip() and problem.message.strip()
    assert "Traceback" not in str(error.value)


def _api_value(value: Any, tiny: dict[str, Any]) -> Any:
    if value == "{tiny_dict}":
        return tiny
    if isinstance(value, str):
        return value.replace("{tests}", str(TESTS))
    if isinstance(value, list):
        return [_api_value(v, tiny) for v in value]
    if isinstance(value, dict):
        return {k: _api_value(v, tiny) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def tiny_model() -> ScenarioModel:
    return ScenarioModel.from_file(TINY)


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_case(case: str, tiny_model: ScenarioModel) -> None:
    spec = API_CASES[case]
    tiny, _ = load_yaml(TINY)
    args = _api_value(spec.get("args", []), tiny)
    kwargs = _api_value(spec.get("kwargs", {}), tiny)
    call = spec["call"]
    if call == "ScenarioModel":
        target: Any = ScenarioModel
    elif call in ("from_file", "from_dict"):
        target = getattr(ScenarioModel, call)
        if call == "from_dict" and args and args[0] is tiny:
            kwargs.setdefault("folder", TINY.parent)
    elif call == "load_scenario":
        target = forecast.load_scenario
    else:
        target = getattr(tiny_model, call)
    fitters = len(tiny_model.machinery._fitters)
    with pytest.raises(ERRORS[spec["error"]], match=re.escape(spec["match"])):
        target(*args, **kwargs)
    assert len(tiny_model.machinery._fitters) == fitters, "refused only after building a fitter"


def _many_nodes(n: int, states: int = 2, horizon: str = "2024-04") -> dict[str, Any]:
    """Independent nodes that each may leave their first state (the rest absorbing)."""
    names = [f"s{k}" for k in range(states)]
    rule = {
        "from": names[0],
        "to": {names[1]: {"best": 0.3, "interval": [0.1, 0.6]}},
        "within_months": 2,
        "rationale": "r",
    }
    nodes = {
        f"n{i}": {
            "description": "d",
            "states": names,
            "initial": names[0],
            "absorbing": names[1:],
            "transitions": [rule],
        }
        for i in range(n)
    }
    return {
        "id": "many",
        "title": "many nodes",
        "source": {"citation": "test"},
        "author": "tests",
        "priors_set_on": "2024-01-15",
        "start": "2024-01",
        "horizon": horizon,
        "nodes": nodes,
    }


@pytest.mark.parametrize("n", [MAX_NODES + 1, 40, 200])
def test_from_dict_refuses_more_nodes_than_the_plan(n: int) -> None:
    with pytest.raises(ScenarioError, match=f"the scenario has {n} nodes") as error:
        ScenarioModel.from_dict(_many_nodes(n), name="many")
    (problem,) = error.value.problems
    assert (problem.file, problem.field) == ("many", "nodes")
    assert f"at most {MAX_NODES} nodes" in problem.message
    assert "merge nodes" in problem.allowed


@pytest.mark.parametrize(("n", "states"), [(MAX_NODES, 2), (20, 3), (14, 5)])
def test_from_dict_refuses_a_joint_too_large(n: int, states: int) -> None:
    with pytest.raises(ScenarioError, match="too large to fit") as error:
        ScenarioModel.from_dict(_many_nodes(n, states))
    (problem,) = error.value.problems
    assert f"{states**n:,} joint states" in problem.message
    assert "the engine would need about" in problem.message
    assert "ENGINE_MEMORY_BYTES" in problem.allowed


def test_memory_limit_is_a_setting(monkeypatch) -> None:
    scenario = ScenarioModel.from_dict(_many_nodes(8), name="eight").scenario
    assert size_problems(scenario) == []
    monkeypatch.setattr(forecast.settings, "ENGINE_MEMORY_BYTES", model_size(scenario).nbytes - 1)
    (problem,) = size_problems(scenario)
    assert "too large to fit" in problem.message
    assert "256 joint states" in problem.message


def test_kursk_is_small() -> None:
    size = model_size(forecast.load_scenario(TESTS.parent / "scenarios" / "kursk_2024.yaml"))
    assert size.nodes == 10 and size.joint == 9216  # 3,072 states, the count axis x3
    assert size.nbytes < 2**30


def test_estimate_grows_with_the_joint_and_the_months() -> None:
    small = size_estimate([2, 3], [[], [(0, 0)]], months=4, draws=100, threads=1)
    longer = size_estimate([2, 3], [[], [(0, 0)]], months=40, draws=100, threads=1)
    wider = size_estimate([2, 3, 4], [[], [(0, 0)], [(1, 1)]], months=4, draws=100, threads=1)
    assert small.joint == 6 and wider.joint == 24
    assert small.largest >= small.joint
    assert longer.nbytes > small.nbytes and wider.nbytes > small.nbytes


def test_large_joints_are_summarised_a_few_draws_at_a_time() -> None:
    """The memory a fit's summary passes hold at once stays within the budget."""
    from forecast.engine.plan import draws_per_block

    assert draws_per_block(1000, threads=2, budget=10**9) == DRAWS_PER_BLOCK
    assert draws_per_block(10**7, threads=2, budget=10**9) == 50
    assert draws_per_block(10**10, threads=2, budget=10**9) == 1  # never fewer than one
    parents = [[(k - 1, 1)] if k else [] for k in range(12)]
    fixed = size_estimate([3] * 12, parents, months=36, draws=100, threads=2, block=64)
    chosen = size_estimate([3] * 12, parents, months=36, draws=100, threads=2)
    # 3**12 joint entries, 37 joints forward and backward: one draw per thread, not 64
    assert fixed.nbytes - chosen.nbytes >= 63 * 2 * 8 * (2 * 37 * 3**12)
    assert chosen.joint == fixed.joint and chosen.largest == fixed.largest


def test_block_matches_the_compiled_passes() -> None:
    from forecast.engine.smoothing import BLOCK

    assert DRAWS_PER_BLOCK == BLOCK


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    scenario = (BAD / "csv" / "02_table_unknown_column.yaml").read_text()
    (tmp_path / "case.yaml").write_text(
        scenario.replace("02_table_unknown_column.csv", "big.csv"), encoding="utf-8"
    )
    with (tmp_path / "big.csv").open("wb") as stream:  # sparse: nothing is written
        stream.truncate(forecast.settings.CSV_MAX_BYTES + 1)
    with pytest.raises(ScenarioError, match="more than the limit of 64 MiB") as error:
        forecast.load_scenario(tmp_path / "case.yaml")
    assert "CSV_MAX_BYTES" in error.value.problems[0].allowed


@pytest.mark.parametrize(("parents", "states"), [(13, 2), (20, 3)])
def test_a_node_with_too_many_parent_states_is_refused_at_once(parents: int, states: int) -> None:
    import time

    data = _many_nodes(parents + 1, states)
    child = data["nodes"][f"n{parents}"]
    child["parents"] = {f"n{i}": 1 for i in range(parents)}
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="combinations") as error:
        ScenarioModel.from_dict(data, name="wide")
    assert time.perf_counter() - start < 5  # the loader no longer lists them all
    (problem,) = error.value.problems
    assert problem.field == f"nodes.n{parents}.parents"
    assert f"{states**parents:,} combinations" in problem.message
    assert f"more than {forecast.settings.MAX_PARENT_CONFIGURATIONS:,}" in problem.message
