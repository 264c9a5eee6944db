"""Property: any one-leaf mutation of the Kursk scenario loads or raises ScenarioError.

A random leaf of ``scenarios/kursk_2024.yaml``'s parsed data is replaced by a random value of a
random type (None, a boolean, a huge, negative or non-finite number, text, a list, a mapping,
a date); :func:`forecast.scenario.scenario_from_dict` must then either accept the scenario or
raise :class:`ScenarioError` listing problems, never any other exception.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forecast import ScenarioError
from forecast.scenario import scenario_from_dict
from forecast.scenario.yaml_source import load_yaml
from tests.paths import KURSK

BASE, _ = load_yaml(KURSK)


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every leaf (a value that is not a non-empty list or mapping)."""
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list) and value:
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [path]


LEAVES = _leaves(BASE)
TOP = [path for path in LEAVES if len(path) == 1]
"""The top-level leaves (start, horizon, dates, ids): few, each drawn as often as the rest."""
PATHS = st.one_of(st.sampled_from(TOP), st.sampled_from(LEAVES))

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e23, 1e38, -1e308, 10**30, 0.5, 2.5, 121, 1_000_001]),
    st.integers(min_value=-(10**40), max_value=10**40),
)
EDGES = st.sampled_from(
    [
        *(None, True, False, 0, -1, float("inf"), float("nan"), 1e38, 10**23, 20240930),
        *("", "0000-01", "9999-12", "2524-01", dt.date(9999, 12, 31), dt.date(1, 1, 1)),
    ]
)
"""Values at the edges of what a scenario allows, drawn as often as all the others."""
VALUES = st.one_of(
    EDGES,
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=12),
    st.sampled_from(["yes", "no", "2024-13", "2024-02-30", "a:b"]),
    st.lists(st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.one_of(st.none(), NUMBERS), max_size=3),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)


def _mutated(path: tuple, value: Any) -> dict:
    data = copy.deepcopy(BASE)
    target = data
    for part in path[:-1]:
        target = target[part]
    if path:
        target[path[-1]] = value
    return data


def test_the_unmutated_scenario_loads() -> None:
    scenario = scenario_from_dict(copy.deepcopy(BASE), name="kursk.yaml", folder=KURSK.parent)
    assert scenario.id == BASE["id"]


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(path=PATHS, value=st.one_of(EDGES, VALUES))
# what a 20000-example search found before issue 14 (a ValueError in the timeline each)
@example(path=("start",), value="0000-01")
@example(path=("horizon",), value="9999-12")
def test_a_mutated_scenario_loads_or_raises_scenario_error(path: tuple, value: Any) -> None:
    data = _mutated(path, value)
    try:
        scenario_from_dict(data, name="kursk.yaml", folder=KURSK.parent)
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message.strip()
            assert "Traceback" not in str(problem)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("start",), dt.date(9999, 12, 1)),
        (("horizon",), "9999-12"),
        (("priors_set_on",), 20240930),
        (("nodes", "occupation", "initial"), True),
    ],
)
def test_known_mutations_are_refused(path: tuple, value: Any) -> None:
    if path[:2] == ("nodes", "occupation") and "occupation" not in BASE["nodes"]:
        pytest.skip("the Kursk scenario has no node 'occupation'")
    with pytest.raises(ScenarioError):
        scenario_from_dict(_mutated(path, value), name="kursk.yaml", folder=KURSK.parent)


def test_base_is_plain_yaml() -> None:
    """The data mutated is what a YAML loader gives (no custom objects)."""
    assert yaml.safe_dump(BASE)


def test_a_mapping_that_contains_itself_is_a_problem() -> None:
    data = copy.deepcopy(BASE)
    data["source"]["loop"] = data["source"]
    with pytest.raises(ScenarioError, match=r"source\.loop: contains itself"):
        scenario_from_dict(data, name="kursk.yaml", folder=KURSK.parent)


def test_a_deep_nest_in_code_is_a_problem() -> None:
    deep: list = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    data = {**copy.deepcopy(BASE), "extra": deep}
    with pytest.raises(ScenarioError, match="nested more than 40 levels deep"):
        scenario_from_dict(data, name="kursk.yaml", folder=KURSK.parent)


def test_a_number_too_long_to_print_is_a_problem() -> None:
    data = copy.deepcopy(BASE)
    data["priors_set_on"] = 10**5000
    with pytest.raises(ScenarioError, match="priors_set_on: a number of about 5001 digits"):
        scenario_from_dict(data, name="kursk.yaml", folder=KURSK.parent)
