"""The prior editor's logic, driven through its controls as a forecaster would (no browser)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from numpy.testing import assert_allclose

from forecast import ScenarioModel
from forecast.jupyter import PriorEditor
from tests.paths import ROOT

RULE = "mediation:inactive[occupation=substantial,partners=aligned]"
SMALL = {"draws": 500, "tune": 400, "chains": 2, "cores": 1}


@pytest.fixture(scope="module")
def kursk(tmp_path_factory):
    """A copy of the scenario folder (the editor may save into it)."""
    folder = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "scenarios", folder / "scenarios")
    shutil.copytree((ROOT / "data").resolve(), folder / "data")
    return folder / "scenarios" / "kursk_2024.yaml"


@pytest.fixture(scope="module")
def fit(kursk):
    return ScenarioModel.from_file(kursk).fit(as_of="2024-09-30", seed=11, sampler=SMALL)


@pytest.fixture(scope="module")
def shared_editor(fit):
    ed = PriorEditor(fit)
    assert ed.wait_ready(600)
    return ed


@pytest.fixture()
def editor(shared_editor):
    """The module's editor, back at the file's priors with no history (one pool per module)."""
    shared_editor.reset()
    shared_editor.history.clear()
    return shared_editor


def _row(editor, rule=RULE, to=None):
    rows = editor._controls[rule].rows
    return rows[0] if to is None else next(r for r in rows if r.to == to)


def test_rows_cover_every_judgement(editor, fit):
    table = fit.model.prior_table()
    judged = table.dropna(subset=["stated_best"])
    shown = {(r.rule, r.to) for c in editor._controls.values() for r in c.rows}
    assert shown == set(zip(judged["rule"], judged["destination"], strict=True))
    row = _row(editor)
    assert row.best.value == 0.5 and (row.low.value, row.high.value) == (0.25, 0.75)
    assert "fitted prior: mean 0.500" in row.prior.value


def test_a_control_edit_gives_the_api_refit(editor, fit):
    row = _row(editor)
    row.high.value = 0.95  # first widen the interval, then move the best guess
    row.best.value = 0.8
    edited = fit.model.with_judgement(RULE, best=0.8, interval=(0.25, 0.95))
    assert editor.model.priors_digest == edited.priors_digest
    api = fit.with_reached_curves().refit(edited, prior=False)
    assert_allclose(editor.table()["after"], api.questions()["mean"])
    assert editor.fit.method == "reweighted"
    assert "re-weighted" in editor._status.value
    after = editor._table.value
    assert f"{api.questions()['mean'].iloc[0]:.3f}" in after
    assert editor.table()["change"].abs().max() > 0.005  # the forecast moved


def test_invalid_input_is_shown_and_changes_nothing(editor):
    row = _row(editor)
    before = editor.model
    row.best.value = 0.9  # outside [0.25, 0.75]
    assert "must contain the best guess 0.9 strictly" in row.error.value
    assert "Traceback" not in row.error.value
    assert editor.model is before
    row.credibility.value = 1.0
    assert "<b>credibility</b>: Input should be less than 1" in row.error.value
    assert editor.model is before
    row.credibility.value = 0.8
    row.best.value = 0.6  # a valid value clears the message
    assert row.error.value == "" and editor.model.edits == (RULE,)


def test_undo_reset_and_several_edits(editor):
    first = _row(editor)
    second = _row(editor, "talks:direct")
    first.best.value = 0.6
    second.best.value = 0.6
    assert set(editor.model.edits) == {RULE, "talks:direct"}
    editor.undo()
    assert editor.model.edits == (RULE,) and second.best.value == pytest.approx(0.5)
    editor.reset()
    assert editor.model.edits == () and first.best.value == 0.5
    assert editor.fit is editor.baseline
    assert np.allclose(editor.table()["change"], 0.0)
    editor.undo()  # back to the edit before the reset
    assert editor.model.edits == (RULE,) and first.best.value == 0.6
    editor.history.clear()
    editor.undo()  # nothing to undo: nothing happens
    assert editor.model.edits == (RULE,)


def test_window_edit_runs_nuts_and_says_so(editor):
    controls = editor._controls[RULE]
    controls.window.value = 3
    assert editor.fit.method == "nuts"
    assert "NUTS" in editor._status.value
    controls.window.value = 0
    assert controls.error.value  # the file's message, next to the control
    rule = next(r for r in editor.model.scenario.rules if r.name == RULE)
    assert rule.within_months == 3  # the bad value changed nothing


def test_save_variant_loads_back_to_the_edited_priors(editor, kursk):
    row = _row(editor)
    row.best.value = 0.65
    # a new rationale for the edited rule is kept (same priors, different file)
    editor._controls[RULE].rationale.value = "Mediators use occupied land as a bargaining basis."
    target = kursk.parent / "forecasters" / "workbench_test.yaml"
    path = editor.save(target, author="test", priors_set_on="2024-09-30")
    back = ScenarioModel.from_file(path)
    assert back.priors_digest == editor.model.priors_digest
    assert back.scenario.spec.author == "test"
    rule = next(r for r in back.scenario.rules if r.name == RULE)
    assert rule.spec.rationale == "Mediators use occupied land as a bargaining basis."
    with pytest.raises(FileExistsError):
        editor.save(target)


def test_save_in_place_loads_back_and_keeps_comments(editor, kursk):
    text = kursk.read_text()
    row = _row(editor)
    row.best.value = 0.55
    editor.save(None)
    back = ScenarioModel.from_file(kursk)
    assert back.priors_digest == editor.model.priors_digest
    new = kursk.read_text()
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == [
        line for line in new.splitlines() if line.lstrip().startswith("#")
    ]
    changed = [a for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and "0.5" in changed[0]  # no default mass written, only the best
    # a second save after more edits applies them to the file as it now is
    _row(editor, "talks:direct").best.value = 0.55
    editor.save(None)
    again = ScenarioModel.from_file(kursk)
    assert again.priors_digest == editor.model.priors_digest
    kursk.write_text(text)


def test_a_failing_refit_is_reported_not_raised(editor, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("sampler exploded")

    monkeypatch.setattr(type(editor.baseline), "refit", broken)
    row = _row(editor)
    before = editor.model
    row.best.value = 0.61
    assert "could not be re-fitted (RuntimeError: sampler exploded)" in editor._status.value
    assert editor.model is before and editor.history == []


def test_a_scenario_without_outcomes_and_with_plain_parameters():
    from tests.paths import TINY

    model = ScenarioModel.from_file(TINY)
    fit = model.fit(seed=2, sampler={"draws": 300, "tune": 300, "chains": 2, "cores": 1})
    ed = PriorEditor(fit, prepare=False)
    assert ed._image.layout.display == "none"  # no outcomes: the table alone
    plain = ed._controls["a:yes"]
    assert plain.rows == []  # Beta(2, 5) as written: no judgement to edit here
    row = _row(ed, "a:no")
    row.best.value = 0.4
    assert ed.model.edits == ("a:no",) and "<td class='forecast-after'>" in ed._table.value
