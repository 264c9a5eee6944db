"""The project root and project-relative files are found from anywhere, or the error says how."""

from __future__ import annotations

from pathlib import Path

import pytest

import forecast
from forecast.api.project import PROJECT_ENV, is_project_root
from tests.paths import KURSK, ROOT

SCENARIO = "scenarios/kursk_2024.yaml"


@pytest.fixture(autouse=True)
def no_project_env(monkeypatch):
    """Every test starts without $FORECAST_PROJECT, whatever the shell running the tests has."""
    monkeypatch.delenv(PROJECT_ENV, raising=False)


def project(folder: Path, name: str = "forecast") -> Path:
    """A minimal project: a pyproject.toml naming ``name`` and one scenario."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0"\n')
    (folder / "scenarios").mkdir(exist_ok=True)
    (folder / SCENARIO).write_text("id: x\n")
    return folder


def test_the_repository_is_the_project():
    assert is_project_root(ROOT)
    assert not is_project_root(ROOT / "notebooks")


@pytest.mark.parametrize("where", ["", "notebooks", "forecast/api", "scenarios/forecasters"])
def test_the_root_is_found_from_inside_the_repository(monkeypatch, where):
    monkeypatch.chdir(ROOT / where)
    assert forecast.project_root() == ROOT
    assert forecast.find_scenario(SCENARIO) == KURSK


def test_the_layout_is_a_project_without_pyproject(tmp_path):
    (tmp_path / "forecast").mkdir()
    (tmp_path / "scenarios").mkdir()
    assert forecast.project_root(tmp_path / "scenarios") == tmp_path


def test_another_projects_pyproject_is_not_the_root(tmp_path, monkeypatch):
    other = project(tmp_path / "other", name="something-else")
    monkeypatch.chdir(other)
    with pytest.raises(forecast.ProjectFileNotFoundError, match="no project folder found"):
        forecast.project_root()


def test_the_current_folder_comes_first(tmp_path, monkeypatch):
    inner = project(tmp_path / "outer" / "inner")
    (inner / "scenarios" / "local.yaml").write_text("id: local\n")
    work = inner / "work"
    (work / "scenarios").mkdir(parents=True)
    (work / "scenarios" / "local.yaml").write_text("id: mine\n")
    monkeypatch.chdir(work)
    assert forecast.find_scenario("scenarios/local.yaml") == work / "scenarios" / "local.yaml"
    assert forecast.find_scenario(SCENARIO) == inner / SCENARIO  # not here: the project's


def test_the_environment_names_the_project_of_a_copied_notebook(tmp_path, monkeypatch):
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv(PROJECT_ENV, str(ROOT))
    assert forecast.project_root() == ROOT
    assert forecast.find_scenario(SCENARIO) == KURSK
    assert forecast.find_file("data/kursk_questions.csv") == ROOT / "data" / "kursk_questions.csv"


def test_the_project_above_wins_over_the_environment(tmp_path, monkeypatch):
    mine = project(tmp_path / "mine")
    monkeypatch.chdir(mine / "scenarios")
    monkeypatch.setenv(PROJECT_ENV, str(ROOT))
    assert forecast.project_root() == mine
    assert forecast.find_scenario(SCENARIO) == mine / SCENARIO


def test_an_absolute_path_needs_no_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert forecast.find_scenario(KURSK) == KURSK
    assert forecast.find_scenario(str(KURSK)) == KURSK


def test_a_missing_file_lists_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(forecast.ProjectFileNotFoundError) as caught:
        forecast.find_scenario(SCENARIO)
    error = caught.value
    assert isinstance(error, FileNotFoundError)  # what Python code expects of a missing file
    assert isinstance(error, forecast.ScenarioError)  # shown as a problem list (CLI, notebooks)
    text = str(error)
    assert f"{tmp_path / SCENARIO} (the current folder)" in text
    assert f"no project folder at or above {tmp_path}" in text
    assert f"${PROJECT_ENV} (not set)" in text
    assert "set FORECAST_PROJECT" in text and "absolute path" in text
    assert text.startswith("1 problem found:\n  - scenarios/kursk_2024.yaml: (file): scenario")


def test_a_missing_file_names_the_environment_it_tried(tmp_path, monkeypatch):
    mine = project(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PROJECT_ENV, str(mine))
    with pytest.raises(forecast.ProjectFileNotFoundError) as caught:
        forecast.find_file("data/questions.csv", what="questions file")
    text = str(caught.value)
    assert "questions file not found" in text
    assert f"{mine / 'data' / 'questions.csv'} (${PROJECT_ENV})" in text


def test_a_missing_absolute_path_says_so(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(forecast.ProjectFileNotFoundError, match="an absolute path, tried as it is"):
        forecast.find_scenario(missing)


def test_no_project_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path / "missing"))
    with pytest.raises(forecast.ProjectFileNotFoundError) as caught:
        forecast.project_root()
    text = str(caught.value)
    assert f"{tmp_path} and every folder above it" in text
    assert f"${PROJECT_ENV}={tmp_path / 'missing'} (not a folder)" in text


def test_a_path_must_be_a_path():
    with pytest.raises(TypeError, match="path must be a str or Path, not int"):
        forecast.find_scenario(3)


def test_a_model_loads_from_the_found_path(monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    model = forecast.ScenarioModel.from_file(forecast.find_scenario(SCENARIO))
    assert model.scenario.id == forecast.load_scenario(KURSK).id
