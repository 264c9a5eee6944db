"""Writing edited priors back to scenario files: only the edited lines change."""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from forecast.errors import ScenarioError
from forecast.scenario import TransitionEdit, read_scenario, save_in_place, save_variant, writing
from forecast.scenario.yaml_source import ScenarioLoader
from tests.paths import ROOT

FORECASTERS = ("dove", "hawk", "base_rate")

STYLED = """\
# A two-node chain written in every style the writer must keep.
id: tiny_styled
title: "Two-node chain"   # quoted on purpose
source: {citation: 'Test fixture'}
author: tests
priors_set_on: 2024-01-15
start: 2024-01
horizon: 2024-04
nodes:
  a:
    description: driver
    initial: {no: 0.7, yes: 0.3}
    transitions:
      # the first rule is broken over two lines
      - {from: no, to: {yes: {best: 0.3, interval: [0.1, 0.6]}}, within_months: 2, rationale: r,
         reference_class: {n: 5, counts: {yes: 1}, description: d, source: s}}
      - {from: yes, to: {no: {beta: [2, 5]}}, rationale: "a quoted rationale"}  # inline
  b:
    description: follower, reacts to a in the same month
    states: [low, mid, high]
    parents: {a: 0}
    initial: low
    absorbing: [high]
    transitions:
      - from: low
        given: {a: yes}
        to: {mid: {best: 0.4, interval: [0.2, 0.6]}, high: {best: 0.2, interval: [0.05, 0.4]}}
        within_months: 3   # three months
        rationale: 'single quoted'

      - {from: low, given: {a: no}, stays: true, rationale: r}
      - {from: mid, dirichlet: {stay: 3, low: 1, high: 2}, rationale: r}
evidence:
  observations:
    - {node: a, date: 2024-02-10, state: yes, source: s}
"""

PARTIAL = """\
# A forecaster who restates only the pressure node.
extends: ../kursk_2024.yaml
id: kursk_2024_partial
author: a partial forecaster  # restated

nodes:
  pressure:
    transitions:
      - from: low
        given: {occupation: substantial}
        within_months: 6
        to: {high: {best: 0.65, interval: [0.4, 0.85]}}
        rationale: Restated.
      - from: low
        given: {occupation: foothold}
        within_months: 6
        to: {high: {best: 0.25, interval: [0.1, 0.45]}}
        rationale: Even a foothold is a standing humiliation.
      - from: low
        given: {occupation: none}
        within_months: 6
        to: {high: {best: 0.06, interval: [0.01, 0.15]}}
        rationale: Without occupied land the mechanism is absent.
      - from: high
        given: {occupation: none}
        within_months: 3
        to: {low: {best: 0.5, interval: [0.25, 0.75]}}
        rationale: The memory of the occupation fades, but not at once.
      - from: high
        given: {occupation: [substantial, foothold]}
        within_months: 6
        to: {low: {best: 0.12, interval: [0.03, 0.3]}}
        rationale: Pressure does not subside while the land is held.

# the end of the file
"""


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def kursk(tmp_path: Path) -> Path:
    """Copies of the Kursk scenario, its variants and the data they read, in a tmp folder."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path / "scenarios" / "kursk_2024.yaml"


@pytest.fixture
def styled(tmp_path: Path) -> Path:
    path = tmp_path / "styled.yaml"
    path.write_text(STYLED, encoding="utf-8")
    return path


@pytest.fixture
def partial(kursk: Path) -> Path:
    path = kursk.parent / "forecasters" / "partial.yaml"
    path.write_text(PARTIAL, encoding="utf-8")
    return path


def spec(path: Path) -> dict[str, Any]:
    return read_scenario(path).spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def edit(path: Path, node: str, index: int, change: Callable[[dict], Any]) -> TransitionEdit:
    """An edit as the front door makes it: the rule's dump, and a changed copy."""
    before = spec(path)["nodes"][node]["transitions"][index]
    after = copy.deepcopy(before)
    change(after)
    return TransitionEdit(node, index, before, after)


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines removed from ``old`` and added in ``new``."""
    removed, added = [], []
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old.splitlines()[i1:i2]
            added += new.splitlines()[j1:j2]
    return removed, added


def rules_of(data: dict[str, Any]) -> dict[tuple[str, int], dict]:
    return {
        (name, i): rule
        for name, node in data["nodes"].items()
        for i, rule in enumerate(node["transitions"])
    }


def assert_only_edited(path: Path, before: dict[str, Any], edits: list[TransitionEdit]) -> None:
    """The file reads back with exactly the edited rules changed."""
    wanted = rules_of(before)
    for e in edits:
        wanted[(e.node, e.index)] = dict(e.after)
    assert rules_of(spec(path)) == wanted


def plain(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=ScenarioLoader)


def folder_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def set_in(*keys: Any, value: Any) -> Callable[[dict], None]:
    def change(rule: dict) -> None:
        target = rule
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def to_dirichlet(rule: dict) -> None:
    rule["to"] = {}
    rule["dirichlet"] = {"stay": 3.0, "direct": 1.0}


def dirichlet_to_judgement(rule: dict) -> None:
    del rule["dirichlet"]
    rule["to"] = {"high": {"best": 0.2, "interval": [0.1, 0.4]}}


# -- no edits: the same bytes -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["kursk_2024", *(f"forecasters/{f}" for f in FORECASTERS)])
def test_no_edit_leaves_the_file_byte_identical(kursk: Path, name: str) -> None:
    path = kursk.parent / f"{name}.yaml"
    original = path.read_bytes()
    assert save_in_place(path, []) == path
    assert path.read_bytes() == original
    unchanged = edit(path, "talks", 0, lambda rule: None)
    save_in_place(path, [unchanged])
    assert path.read_bytes() == original


def test_no_edit_keeps_a_layout_ruamel_would_change(styled: Path) -> None:
    original = styled.read_bytes()
    save_in_place(styled, [edit(styled, "a", 0, lambda rule: None)])
    assert styled.read_bytes() == original


# -- edits of the Kursk scenario: only the edited lines change -------------------------------

EDITS = [
    pytest.param(
        "occupation",
        0,
        lambda r: r["to"]["foothold"].update(best=0.4, interval=[0.2, 0.65]),
        ["          foothold: {best: 0.35, interval: [0.15, 0.6]}"],
        ["          foothold: {best: 0.4, interval: [0.2, 0.65]}"],
        id="best-and-interval-in-a-flow-mapping",
    ),
    pytest.param(
        "mediation",
        3,
        set_in("to", "inactive", "interval", 1, value=0.9),
        ["        to: {inactive: {best: 0.6, interval: [0.3, 0.85]}}"],
        ["        to: {inactive: {best: 0.6, interval: [0.3, 0.9]}}"],
        id="one-end-of-an-interval",
    ),
    pytest.param(
        "talks",
        1,
        set_in("within_months", value=4),
        ["        within_months: 6"],
        ["        within_months: 4"],
        id="within-months",
    ),
    pytest.param(
        "ceasefire",
        2,
        set_in("credibility", value=0.85),
        [],
        ["        credibility: 0.85"],
        id="credibility-the-file-did-not-write",
    ),
    pytest.param(
        "escalation",
        1,
        set_in("credibility", value=0.95),
        ["        credibility: 0.9"],
        ["        credibility: 0.95"],
        id="credibility-the-file-wrote",
    ),
    pytest.param(
        "pressure",
        0,
        set_in("to", "high", value={"beta": [2.0, 5.0]}),
        ["        to: {high: {best: 0.45, interval: [0.2, 0.7]}}"],
        ["        to: {high: {beta: [2, 5]}}"],
        id="judgement-to-beta",
    ),
    pytest.param(
        "talks",
        0,
        to_dirichlet,
        ["        to: {direct: {best: 0.3, interval: [0.1, 0.55]}}"],
        ["        dirichlet: {stay: 3, direct: 1}"],
        id="judgement-to-dirichlet",
    ),
    pytest.param(
        "escalation",
        2,
        set_in("to", "nuclear_use", "interval", 0, value=5e-05),
        ["        to: {nuclear_use: {best: 0.005, interval: [0.0005, 0.02]}}"],
        ["        to: {nuclear_use: {best: 0.005, interval: [0.00005, 0.02]}}"],
        id="a-small-float-as-decimals",  # PyYAML reads 5e-05 as text
    ),
    pytest.param(
        "occupation",
        1,
        set_in("rationale", value="Short now."),
        [
            "          A small foothold is hard to hold against a concentrated counter-offensive; "
            "regaining",
            "          100 km2 would need a new offensive.",
        ],
        ["          Short now."],
        id="folded-rationale-stays-folded",
    ),
    pytest.param(
        "partners",
        1,
        set_in("rationale", value="Both keep their ties."),
        ["        rationale: Both have kept or deepened ties through 2.5 years of war."],
        ["        rationale: Both keep their ties."],
        id="plain-rationale-stays-plain",
    ),
    pytest.param(
        "talks",
        3,
        lambda r: r.pop("reference_class"),
        [
            "        reference_class:",
            "          n: 2",
            "          counts: {direct: 0}",
            "          description: >-",
            "            After Ukraine suspended the 2022 talks (17 May 2022) no direct delegation "
            "meeting",
            "            took place in the two following 12-month windows (to May 2024).",
            "          source: https://en.interfax.com.ua/news/general/832825.html",
        ],
        [],
        id="reference-class-removed",
    ),
    pytest.param(
        "land_for_land",
        1,
        set_in(
            "reference_class",
            value={"n": 4, "counts": {"agreed": 0}, "description": "d", "source": "s"},
        ),
        [],
        [
            "        reference_class:",
            "          n: 4",
            "          counts: {agreed: 0}",
            "          description: d",
            "          source: s",
        ],
        id="reference-class-added",
    ),
]


@pytest.mark.parametrize(("node", "index", "change", "removed", "added"), EDITS)
def test_an_edit_changes_only_its_lines(
    kursk: Path, node: str, index: int, change: Callable, removed: list, added: list
) -> None:
    old_text, before = kursk.read_text(), spec(kursk)
    the_edit = edit(kursk, node, index, change)
    save_in_place(kursk, [the_edit])
    assert changed_lines(old_text, kursk.read_text()) == (removed, added)
    assert_only_edited(kursk, before, [the_edit])


def test_a_long_rationale_becomes_folded_text(kursk: Path) -> None:
    old_text = kursk.read_text()
    text = (
        "After a full loss Kyiv would need a fresh brigade group and a surprise like August's; "
        "both are scarce, and Russia now guards the border with drones and mines all along."
    )
    save_in_place(kursk, [edit(kursk, "occupation", 2, set_in("rationale", value=text))])
    removed, added = changed_lines(old_text, kursk.read_text())
    assert removed == [
        "        rationale: A new cross-border push after full loss is possible but unlikely."
    ]
    assert added[0] == "        rationale: >-" and len(added) == 3
    assert all(line.startswith("          ") and len(line) <= 100 for line in added[1:])
    assert spec(kursk)["nodes"]["occupation"]["transitions"][2]["rationale"] == text


def test_many_edits_at_once_keep_comments_and_key_order(kursk: Path) -> None:
    old_text, before = kursk.read_text(), spec(kursk)
    edits = [
        edit(kursk, "occupation", 0, set_in("to", "none", "best", value=0.12)),
        edit(kursk, "escalation", 0, set_in("within_months", value=6)),
        edit(kursk, "talks", 4, set_in("rationale", value="Rounds follow each other.")),
    ]
    save_in_place(kursk, edits)
    new_text = kursk.read_text()
    comments = [line for line in old_text.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in new_text.splitlines() if line.lstrip().startswith("#")] == comments
    assert list(plain(kursk)) == list(yaml.load(old_text, Loader=ScenarioLoader))
    assert len(changed_lines(old_text, new_text)[0]) == 3
    assert_only_edited(kursk, before, edits)


def test_two_edits_of_one_rule_apply_in_turn(kursk: Path) -> None:
    first = edit(kursk, "talks", 1, set_in("within_months", value=4))
    second_after = {**first.after, "within_months": 5}
    second = TransitionEdit("talks", 1, first.after, second_after)
    save_in_place(kursk, [first, second])
    assert spec(kursk)["nodes"]["talks"]["transitions"][1]["within_months"] == 5


def test_priors_set_on_is_written_as_a_plain_date(kursk: Path) -> None:
    old_text = kursk.read_text()
    save_in_place(kursk, [], priors_set_on=dt.date(2024, 10, 15))
    assert changed_lines(old_text, kursk.read_text()) == (
        ["priors_set_on: 2024-09-30"],
        ["priors_set_on: 2024-10-15"],
    )
    assert read_scenario(kursk).spec.priors_set_on == dt.date(2024, 10, 15)


# -- flow style, quotes and comments ---------------------------------------------------------


def test_flow_rules_stay_flow_and_quotes_and_comments_stay(styled: Path) -> None:
    before = spec(styled)
    edits = [
        edit(
            styled,
            "a",
            1,
            lambda r: r.update(
                to={"no": {"best": 0.3, "interval": [0.1, 0.5]}}, rationale="now a judgement"
            ),
        ),
        edit(styled, "b", 0, set_in("within_months", value=2)),
        edit(styled, "b", 2, dirichlet_to_judgement),
        edit(styled, "b", 1, lambda r: r.update(stays=False, to={"mid": {"beta": [1.5, 3.0]}})),
    ]
    save_in_place(styled, edits)
    removed, added = changed_lines(STYLED, styled.read_text())
    assert removed == [
        '      - {from: yes, to: {no: {beta: [2, 5]}}, rationale: "a quoted rationale"}  # inline',
        "        within_months: 3   # three months",
        "      - {from: low, given: {a: no}, stays: true, rationale: r}",
        "      - {from: mid, dirichlet: {stay: 3, low: 1, high: 2}, rationale: r}",
    ]
    assert added == [
        "      - {from: yes, to: {no: {best: 0.3, interval: [0.1, 0.5]}}, "
        'rationale: "now a judgement"}  # inline',
        "        within_months: 2   # three months",
        "      - {from: low, given: {a: no}, to: {mid: {beta: [1.5, 3]}}, rationale: r}",
        "      - {from: mid, to: {high: {best: 0.2, interval: [0.1, 0.4]}}, rationale: r}",
    ]
    assert_only_edited(styled, before, edits)


def test_an_edit_inside_a_layout_ruamel_would_change(styled: Path) -> None:
    before = spec(styled)
    the_edit = edit(styled, "a", 0, set_in("reference_class", "n", value=6))
    save_in_place(styled, [the_edit])
    assert "counts: {yes: 1}" in styled.read_text()
    assert_only_edited(styled, before, [the_edit])
    assert [line for line in styled.read_text().splitlines() if "#" in line] == [
        line for line in STYLED.splitlines() if "#" in line
    ]


def test_windows_line_ends_are_kept(styled: Path) -> None:
    styled.write_bytes(STYLED.replace("\n", "\r\n").encode())
    save_in_place(styled, [])
    assert styled.read_bytes() == STYLED.replace("\n", "\r\n").encode()
    save_in_place(styled, [edit(styled, "b", 0, set_in("within_months", value=2))])
    data = styled.read_bytes()
    assert data.count(b"\r\n") == STYLED.count("\n") and b"within_months: 2" in data


def test_the_file_mode_is_kept(styled: Path) -> None:
    styled.chmod(0o640)
    save_in_place(styled, [edit(styled, "b", 0, set_in("within_months", value=2))])
    assert stat.S_IMODE(styled.stat().st_mode) == 0o640
    assert folder_listing(styled.parent) == ["styled.yaml"]  # no temporary file left


# -- variants ----------------------------------------------------------------------------------


def test_in_place_on_a_variant_changes_only_the_variant(kursk: Path) -> None:
    dove = kursk.parent / "forecasters" / "dove.yaml"
    base_bytes, old_text, before = kursk.read_bytes(), dove.read_text(), spec(dove)
    the_edit = edit(dove, "talks", 0, set_in("to", "direct", "best", value=0.55))
    save_in_place(dove, [the_edit])
    assert kursk.read_bytes() == base_bytes
    assert changed_lines(old_text, dove.read_text()) == (
        ["        to: {direct: {best: 0.5, interval: [0.25, 0.75]}}"],
        ["        to: {direct: {best: 0.55, interval: [0.25, 0.75]}}"],
    )
    assert_only_edited(dove, before, [the_edit])


def test_in_place_on_a_variant_restates_an_inherited_node(kursk: Path, partial: Path) -> None:
    base_bytes, before = kursk.read_bytes(), spec(partial)
    edits = [
        edit(partial, "talks", 1, set_in("within_months", value=4)),
        edit(partial, "occupation", 0, set_in("to", "foothold", "best", value=0.4)),
    ]
    save_in_place(partial, edits, priors_set_on=dt.date(2024, 10, 2))
    assert kursk.read_bytes() == base_bytes
    text = partial.read_text()
    assert list(plain(partial)["nodes"]) == ["occupation", "pressure", "talks"]  # base order
    assert text.startswith("# A forecaster who restates only the pressure node.\nextends: ")
    assert "author: a partial forecaster  # restated\npriors_set_on: 2024-10-02\n\nnodes:" in text
    assert text.endswith("\n\n# the end of the file\n")
    base_text = kursk.read_text()
    copied = text[text.index("  talks:\n") + len("  talks:\n") : text.index("\n\n# the end")]
    assert copied.startswith("    transitions:\n")  # the base's list, as the base writes it
    assert copied.replace("within_months: 4", "within_months: 6", 1) in base_text
    assert read_scenario(partial).bases == (kursk.resolve(),)
    assert_only_edited(partial, before, edits)
    assert read_scenario(partial).spec.priors_set_on == dt.date(2024, 10, 2)


def test_a_new_variant_holds_only_the_edited_nodes(kursk: Path) -> None:
    text = kursk.read_text().replace(
        "      - from: foothold\n        within_months: 6",
        "      # from a foothold\n      - from: foothold\n        within_months: 6",
        1,
    )
    kursk.write_text(text)
    base, before = spec(kursk), kursk.read_bytes()
    target = kursk.parent / "mine" / "variant.yaml"
    edits = [
        edit(kursk, "occupation", 0, set_in("to", "none", "best", value=0.2)),
        edit(kursk, "talks", 2, set_in("within_months", value=9)),
    ]
    assert save_variant(kursk, target, edits, id="kursk_mine", author="me") == target
    assert kursk.read_bytes() == before
    written = target.read_text()
    data = plain(target)
    assert data["extends"] == "../kursk_2024.yaml"
    assert list(data) == ["extends", "id", "title", "author", "priors_set_on", "nodes"]
    assert list(data["nodes"]) == ["occupation", "talks"]
    assert "priors_set_on: 2024-09-30\n" in written  # the base's, unquoted
    header = written[: written.index("\n\n")].replace("\n# ", " ")
    assert header.startswith("# kursk_mine: a variant of the scenario in kursk_2024.yaml")
    assert f"written by forecast on {dt.date.today().isoformat()}" in header
    assert "      # from a foothold\n" in written  # the base's comments come along
    scenario = read_scenario(target)
    assert scenario.bases == (kursk.resolve(),)
    assert scenario.spec.title == f"{base['title']} (kursk_mine)"
    assert scenario.spec.author == "me" and scenario.id == "kursk_mine"
    assert_only_edited(target, base, edits)
    variant_spec = spec(target)
    for name in ("pressure", "mediation", "ceasefire"):
        assert variant_spec["nodes"][name] == base["nodes"][name]
    assert variant_spec["questions"] == base["questions"]


def test_a_variant_of_a_variant_copies_the_rules_it_restates(kursk: Path) -> None:
    dove = kursk.parent / "forecasters" / "dove.yaml"
    before = spec(dove)
    target = kursk.parent / "forecasters" / "dove_edited.yaml"
    the_edit = edit(dove, "mediation", 1, set_in("to", "active", "best", value=0.75))
    save_variant(
        dove, target, [the_edit], id="dove_edited", title="Dove, edited", priors_set_on=None
    )
    data = plain(target)
    assert data["extends"] == "dove.yaml" and data["title"] == "Dove, edited"
    assert data["priors_set_on"].isoformat() == before["priors_set_on"]  # the base's
    assert read_scenario(target).bases == (dove.resolve(), kursk.resolve())
    assert "China and Brazil launched the Friends of Peace group" in target.read_text()
    assert_only_edited(target, before, [the_edit])
    assert spec(target)["author"] == before["author"]  # not given: the base's


def test_a_variant_gets_the_priors_date_it_is_given(kursk: Path) -> None:
    target = kursk.parent / "forecasters" / "dated.yaml"
    save_variant(kursk, target, [], id="dated", priors_set_on=dt.date(2025, 1, 31))
    assert "priors_set_on: 2025-01-31\n" in target.read_text()
    assert "nodes" not in plain(target)
    assert read_scenario(target).spec.priors_set_on == dt.date(2025, 1, 31)


def test_an_existing_target_is_refused_unless_overwrite(kursk: Path) -> None:
    hawk = kursk.parent / "forecasters" / "hawk.yaml"
    original = hawk.read_bytes()
    the_edit = edit(kursk, "talks", 0, set_in("within_months", value=5))
    with pytest.raises(FileExistsError, match=r"hawk\.yaml exists"):
        save_variant(kursk, hawk, [the_edit], id="kursk_2024_hawk")
    assert hawk.read_bytes() == original
    save_variant(kursk, hawk, [the_edit], id="kursk_2024_hawk", overwrite=True)
    assert list(plain(hawk)["nodes"]) == ["talks"]


# -- failures -----------------------------------------------------------------------------


def test_an_edit_the_scenario_refuses_restores_the_file(kursk: Path) -> None:
    original, listing = kursk.read_bytes(), folder_listing(kursk.parent)
    bad = edit(kursk, "talks", 4, lambda r: r.update(to={}, dirichlet={"stay": 1.0, "direct": 1.0}))
    with pytest.raises(ScenarioError, match="also a from-state"):
        save_in_place(kursk, [bad])
    assert kursk.read_bytes() == original
    assert folder_listing(kursk.parent) == listing


def test_a_variant_the_scenario_refuses_is_removed(kursk: Path) -> None:
    target = kursk.parent / "forecasters" / "bad.yaml"
    bad = edit(kursk, "talks", 4, lambda r: r.update(to={}, dirichlet={"stay": 1.0, "direct": 1.0}))
    with pytest.raises(ScenarioError, match="also a from-state"):
        save_variant(kursk, target, [bad], id="bad")
    assert not target.exists()
    hawk = kursk.parent / "forecasters" / "hawk.yaml"
    original = hawk.read_bytes()
    with pytest.raises(ScenarioError):
        save_variant(kursk, hawk, [bad], id="bad", overwrite=True)
    assert hawk.read_bytes() == original


def test_a_write_that_does_not_read_back_as_edited_is_undone(
    kursk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = kursk.read_bytes()
    monkeypatch.setattr(writing, "_text", lambda old, text, *args: f"{text} (garbled)")
    the_edit = edit(kursk, "partners", 1, set_in("rationale", value="Both keep their ties."))
    with pytest.raises(ScenarioError, match="does not read back as edited"):
        save_in_place(kursk, [the_edit])
    assert kursk.read_bytes() == original


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda b: TransitionEdit("nope", 0, b, b), r"kursk_2024.yaml: no node 'nope'"),
        (lambda b: TransitionEdit("talks", 9, b, b), r"talks.transitions has 7 .* index 9"),
        (
            lambda b: TransitionEdit("talks", 1, b, b),
            r"kursk_2024.yaml: nodes.talks.transitions\[1\] \(rule talks:none\[.*'before'.*"
            r"to.direct.best is 0.15 in the file, 0.3 in 'before'",
        ),
        (
            lambda b: TransitionEdit("talks", 0, b, {**b, "within_months": 0}),
            r"talks.transitions\[0\] .* 'after' is not a valid rule: within_months",
        ),
    ],
    ids=["unknown-node", "unknown-index", "before-not-the-file", "invalid-after"],
)
def test_bad_edits_are_refused_naming_the_rule(kursk: Path, make: Callable, message: str) -> None:
    original = kursk.read_bytes()
    before = spec(kursk)["nodes"]["talks"]["transitions"][0]
    with pytest.raises(ValueError, match=message):
        save_in_place(kursk, [make(before)])
    assert kursk.read_bytes() == original


def test_bad_variant_arguments_are_refused(kursk: Path) -> None:
    with pytest.raises(ValueError, match="id 'not a name'"):
        save_variant(kursk, kursk.parent / "x.yaml", [], id="not a name")
    with pytest.raises(ValueError, match="cannot replace the scenario it extends"):
        save_variant(kursk, kursk, [], id="x", overwrite=True)
    with pytest.raises(TypeError, match="priors_set_on"):
        save_in_place(kursk, [], priors_set_on="2024-10-01")  # type: ignore[arg-type]
    assert not (kursk.parent / "x.yaml").exists()


def test_a_scenario_that_does_not_load_is_not_touched(kursk: Path) -> None:
    broken = kursk.read_text().replace("horizon: 2026-12", "horizon: 2026-13")
    kursk.write_text(broken)
    with pytest.raises(ScenarioError):
        save_in_place(kursk, [])
    assert kursk.read_text() == broken
