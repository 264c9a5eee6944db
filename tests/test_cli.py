"""The ``forecast`` console script: ``check`` and ``fit`` through ``forecast.cli.main``.

Expected texts and counts are read from the scenario YAML and the data CSVs with yaml/pandas,
not from the package. Fits are tiny (tiny_chain, a few hundred draws, one core).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose
from scipy import integrate, stats

import forecast
from forecast.cli import main
from tests.paths import ROOT, TESTS, TINY

KURSK = ROOT / "scenarios" / "kursk_2024.yaml"
BAD = TESTS / "bad_scenarios"
EXPECTED_BAD = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))
FAST = ["--draws", "200", "--tune", "200", "--chains", "2", "--cores", "1", "--no-progress"]


def _run(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr captured (usable in module fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ check


@pytest.fixture(scope="module")
def kursk_check() -> tuple[int, str]:
    code, out, err = _run(["check", KURSK])
    assert "Traceback" not in out + err
    return code, out


def test_check_valid_scenario_exits_zero_and_names_it(kursk_check) -> None:
    code, out = kursk_check
    spec = _yaml(KURSK)
    assert code == 0
    assert f"{spec['title']} ({spec['id']}) is valid." in out
    assert "Months 2024-09 to 2026-12 (28 steps)" in out  # start 2024-09, horizon 2026-12


def test_check_names_the_scenario_a_variant_extends() -> None:
    code, out, _ = _run(["check", ROOT / "scenarios" / "forecasters" / "dove.yaml"])
    assert code == 0
    assert "(kursk_2024_dove) is valid." in out
    assert "Extends " in out and "kursk_2024.yaml" in out
    assert "Extends" not in _run(["check", KURSK])[1]


def test_check_counts_match_the_file(kursk_check) -> None:
    """Nodes, joint states, free rules, evidence items and questions, counted from the files."""
    _, out = kursk_check
    spec = _yaml(KURSK)
    nodes = spec["nodes"]
    joint = math.prod(len(n.get("states", ["no", "yes"])) for n in nodes.values())
    rules = [r for n in nodes.values() for r in n.get("transitions", [])]
    # a rule with a prior, and each of its steps with a prior (`to`); fixed moves have none
    free = sum(
        (not r.get("stays") and "probabilities" not in r)
        + sum("to" in step for step in r.get("by_months_in_state", []))
        for r in rules
    )
    sources = spec.get("sources", {})
    # a source's table: one rule per state of the node it reports on
    free += sum(len(nodes[s["reports_on"]]["states"]) for s in sources.values())
    # evidence: every row of the observation table, and one reading per month of each series
    table = pd.concat([pd.read_csv(KURSK.parent / path) for path in spec["evidence"]["tables"]])
    territory = pd.read_csv(ROOT / "data" / "kursk_territory.csv")
    readings = {}
    for series in spec["evidence"]["series"]:
        used = territory
        for column, pattern in series["include"].items():
            used = used[used[column].astype(str).str.match(pattern)]
        into = series.get("reported_by", series["node"])
        months = pd.to_datetime(used["date"]).dt.strftime("%Y-%m").nunique()
        readings[into] = readings.get(into, 0) + months
    # questions: the listed ones, plus one per outcome and report date (horizon included)
    dates = {str(d) for d in spec["report_dates"]} | {"2026-12-31"}
    questions = len(spec["questions"]) + len(spec["outcomes"]) * len(dates)
    # hand count of the YAML, as a cross-check
    assert (joint, free, len(sources), questions) == (3072, 34, 0, 27)
    line = (
        f"{len(nodes)} nodes ({joint} joint states)"
        + (f" and {len(sources)} evidence sources" if sources else "")
        + f", {free} rule parameters, {len(table) + sum(readings.values())} evidence items, "
        f"{questions} questions."
    )
    assert line in " ".join(out.split())
    per_node = table.groupby("node").size().to_dict()
    for name, count in readings.items():
        per_node[name] = per_node.get(name, 0) + count
    expected = ", ".join(f"{name} {per_node.get(name, 0)}" for name in [*nodes, *sources])
    assert f"Evidence per node: {expected}" in " ".join(out.split())


def test_check_prints_every_judgement_of_the_rule_table(kursk_check) -> None:
    _, out = kursk_check
    assert "Rules: stated judgement and fitted prior" in out
    # the column header keeps its literal brackets (rich markup must not eat "[interval]")
    assert "[interval]" in out
    flat = " ".join(out.split())
    stated = 0
    for node in _yaml(KURSK)["nodes"].values():
        for rule in node.get("transitions", []):
            steps = [rule, *rule.get("by_months_in_state", [])]  # each step is a rule too
            for judgement in (j for step in steps for j in step.get("to", {}).values()):
                lo, hi = judgement["interval"]
                cred = judgement.get("credibility", rule.get("credibility", 0.8))
                text = f"{judgement['best']:g} [{lo:g}, {hi:g}] @{cred:g}"
                assert text in flat, text
                stated += 1
            if "reference_class" in rule:
                ref = rule["reference_class"]
                assert f"{sum(ref['counts'].values())} of {ref['n']} cases" in flat
    # 34 rules with a prior, three of them (occupation, the election count) with two
    # destinations
    assert stated == 37


def _derived_id(name: str, node: dict, nodes: dict, rule: dict) -> str:
    """A rule's id as the README states it: <node>:<from>[<parent>=<states>,...], states in
    their node's order and parents in the node's order, several states joined by |."""

    def states(of: dict, chosen: str | list[str]) -> str:
        chosen = [chosen] if isinstance(chosen, str) else chosen
        return "|".join(s for s in of.get("states", ["no", "yes"]) if s in chosen)

    text = f"{name}:{states(node, rule['from'])}"
    given = rule.get("given", {})
    if given:
        parts = [f"{p}={states(nodes[p], given[p])}" for p in node["parents"] if p in given]
        text += f"[{','.join(parts)}]"
    return rule.get("id", text)


def test_check_lists_every_rule_with_its_id(kursk_check) -> None:
    _, out = kursk_check
    lines = out.splitlines()
    spec = _yaml(KURSK)
    nodes = spec["nodes"]

    def with_steps(name: str, node: dict, rule: dict) -> list[str]:
        base = _derived_id(name, node, nodes, rule)
        return [base, *(f"{base}@{s['after']}" for s in rule.get("by_months_in_state", []))]

    ids = [
        rule_id
        for name, node in nodes.items()
        for rule in node.get("transitions", [])
        for rule_id in with_steps(name, node, rule)
    ]
    # a source's table: one rule per true state of the node it reports on
    ids += [
        f"{source}_when_{state}"
        for source, spec_of in spec.get("sources", {}).items()
        for state in nodes[spec_of["reports_on"]]["states"]
    ]
    assert len(ids) == 39 and "talks:none[mediation=active,pressure=high,us_push=inactive]" in ids
    listed = [line.split()[0] for line in lines if line.split() and line.split()[0] in ids]
    assert listed[: len(ids)] == ids  # the list of every rule (stays: true ones too), in order
    assert "land_for_land: none stays, given talks=none" in out
    # the judgement table names each free rule by its id: no stays, no fixed step
    fixed = {
        _derived_id(name, node, nodes, rule)
        for name, node in nodes.items()
        for rule in node.get("transitions", [])
        if rule.get("stays", False)
    } | {
        f"{_derived_id(name, node, nodes, rule)}@{step['after']}"
        for name, node in nodes.items()
        for rule in node.get("transitions", [])
        for step in rule.get("by_months_in_state", [])
        if "probabilities" in step
    }
    assert "us_president:trump_elect@2" in fixed
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert [r for r in rows if r] == [i for i in ids if i not in fixed]


@pytest.mark.parametrize(
    "name",
    [
        "01_yaml_syntax.yaml",
        "17_best_above_one.yaml",
        "57_table_missing_file.yaml",
        "65_series_bad_value.yaml",
    ],
)
def test_check_broken_file_exits_two_without_traceback(capsys, name: str) -> None:
    want = EXPECTED_BAD[name]
    code = main(["check", str(BAD / name)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 2
    assert f"{BAD / name} cannot be used as written" in " ".join(captured.out.split())
    assert want.get("file", name) in text
    assert want["field"] in text
    assert want["message"] in " ".join(text.split())
    assert "Traceback" not in text


def test_check_missing_file_exits_two_with_a_clear_message(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    code = main(["check", str(missing)])
    captured = capsys.readouterr()
    assert code == 2
    assert "nowhere.yaml" in captured.out
    assert "file not found" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_fit_missing_file_exits_two(capsys, tmp_path: Path) -> None:
    code = main(["fit", str(tmp_path / "nowhere.yaml"), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    assert "file not found" in captured.out
    assert not (tmp_path / "out").exists()


def test_console_script_reports_bad_input_without_traceback() -> None:
    """The installed entry point, in a fresh process: exit 2, no traceback on stderr."""
    script = Path(sys.executable).with_name("forecast")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "forecast.cli"]
    bad = BAD / "17_best_above_one.yaml"
    done = subprocess.run(
        [*command, "check", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stdout
    assert "17_best_above_one.yaml" in done.stdout
    assert EXPECTED_BAD[bad.name]["field"] in done.stdout


def test_as_of_that_is_not_a_date_is_an_argparse_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(TINY), "--as-of", "notadate"])
    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert "'notadate' is not a date; use YYYY-MM-DD" in captured.err
    assert "Traceback" not in captured.out + captured.err


# -------------------------------------------------------------------------------------- fit


@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory) -> tuple[int, str, Path]:
    """A fit of tiny_chain; the third item is its run folder (``<--out>/all_evidence_<hash>``)."""
    out = tmp_path_factory.mktemp("fit")
    code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "1", "--out", out])
    assert "Traceback" not in stdout + stderr
    (run,) = out.glob("all_evidence_*")
    assert (out / "latest").resolve() == run.resolve()
    return code, stdout, run


def test_fit_exits_zero_without_strict(tiny_fit) -> None:
    """Without --strict the exit status is 0 even when a convergence check warns."""
    code, stdout, _ = tiny_fit
    assert code == 0
    assert "diagnostics OK" in stdout or "diagnostics WARNING" in stdout


def test_fit_writes_inference_data_with_provenance(tiny_fit) -> None:
    import arviz as az

    _, _, out = tiny_fit
    idata = az.from_netcdf(out / "tiny_chain_latest.nc")
    attrs = idata.posterior.attrs
    assert attrs["scenario_hash"] == forecast.load_scenario(TINY).hash
    assert attrs["forecast_version"] == forecast.__version__
    assert int(attrs["seed"]) == 1
    assert attrs["as_of"] == "all evidence"
    assert int(attrs["sampler_draws"]) == 200 and int(attrs["sampler_chains"]) == 2
    assert dict(idata.posterior.sizes)["chain"] == 2
    assert dict(idata.posterior.sizes)["draw"] == 200


def test_fit_writes_the_forecast_table(tiny_fit) -> None:
    import arviz as az

    _, _, out = tiny_fit
    table = pd.read_csv(out / "tiny_chain_latest_forecast.csv")
    questions = [q["id"] for q in _yaml(TINY)["questions"]]
    assert list(table["question"]) == questions
    low, mean, high = (table[c].to_numpy() for c in ("ci90_low", "posterior_mean", "ci90_high"))
    assert np.all(low >= 0) and np.all(high <= 1)
    assert np.all(low <= mean) and np.all(mean <= high)
    assert np.all((table["prior_mean"] >= 0) & (table["prior_mean"] <= 1))
    # the table summarises the question probabilities stored in the .nc file
    idata = az.from_netcdf(out / "tiny_chain_latest.nc")
    post = idata.posterior["question_prob"].sel(question=questions)
    assert_allclose(mean, post.mean(("chain", "draw")).values, rtol=1e-12)
    assert_allclose(low, post.quantile(0.05, ("chain", "draw")).values, rtol=1e-12)


def test_fit_prior_column_is_the_prior_probability(tiny_fit) -> None:
    """P(a = yes in January) under the prior, by hand: month 0 is one transition from the
    initial state (no 0.7, yes 0.3). From no, a 2-month move probability q ~ Beta fitted to
    best 0.3 in [0.1, 0.6] @0.8 gives a monthly move 1 - (1 - q)**(1/2); from yes, the 1-month
    move to no is Beta(2, 5) with mean 2/7."""
    import arviz as az

    from forecast.elicitation import maxent_beta

    _, _, out = tiny_fit
    a, b = maxent_beta(0.3, 0.1, 0.6, 0.8)
    monthly = integrate.quad(lambda q: (1 - np.sqrt(1 - q)) * stats.beta(a, b).pdf(q), 0, 1)[0]
    expected = 0.7 * monthly + 0.3 * (1 - 2 / 7)
    table = pd.read_csv(out / "tiny_chain_latest_forecast.csv").set_index("question")
    draws = (
        az.from_netcdf(out / "tiny_chain_latest.nc")
        .prior["question_prob"]
        .sel(question="a_yes_jan")
        .values.ravel()
    )
    assert draws.size == 400  # draws x chains
    assert_allclose(table.loc["a_yes_jan", "prior_mean"], draws.mean(), rtol=1e-12)
    # Monte Carlo error of 400 independent prior draws: 4 standard errors
    assert abs(draws.mean() - expected) < 4 * draws.std() / np.sqrt(draws.size)


def test_fit_lists_what_it_wrote(tiny_fit) -> None:
    """tiny_chain has no outcomes, so no PNG: the list names the .nc and the .csv only."""
    _, stdout, out = tiny_fit
    assert "outcomes" not in _yaml(TINY)
    listed = stdout.split("Wrote:")[1].split(" points to ")[0].split()
    assert listed == [
        str(out / "tiny_chain_latest.nc"),
        str(out / "tiny_chain_latest_forecast.csv"),
        str(out.parent / "latest"),  # "<--out>/latest points to <run folder>"
    ]
    assert list((out / "tiny_chain_latest_plots").glob("*.png")) == []


def test_fit_as_of_records_the_cut_off_and_writes_a_png_per_outcome(tmp_path: Path) -> None:
    import arviz as az

    text = TINY.read_text(encoding="utf-8") + (
        "outcomes:\n"
        "  - {id: b_high, label: b high, node: b, state: high, kind: in_state}\n"
        "  - {id: a_yes, label: a yes, node: a, state: yes, kind: reached}\n"
    )
    scenario_path = tmp_path / "tiny_outcomes.yaml"
    scenario_path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        ["fit", scenario_path, *FAST, "--seed", "7", "--out", out, "--as-of", "2024-01-31"]
    )
    assert code == 0
    assert "Traceback" not in stdout + stderr
    # the only observation (a yes on 2024-02-10) is after the cut-off
    assert "as of 2024-01-31 (0 of 1 items)" in stdout
    (run,) = out.glob("as_of_2024-01-31_*")  # the run folder: as-of date and a hash
    assert (out / "latest").resolve() == run.resolve()
    idata = az.from_netcdf(run / "tiny_chain_2024-01-31.nc")
    assert idata.posterior.attrs["as_of"] == "2024-01-31"
    assert int(idata.posterior.attrs["evidence_items"]) == 0
    assert int(idata.posterior.attrs["seed"]) == 7
    pngs = sorted((run / "tiny_chain_2024-01-31_plots").glob("*.png"))
    assert [p.name for p in pngs] == ["a_yes.png", "b_high.png"]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(png) in stdout
    # one question per outcome and report date (the horizon, 2024-04)
    table = pd.read_csv(run / "tiny_chain_2024-01-31_forecast.csv")
    assert {"b_high_by_2024_04", "a_yes_by_2024_04"} <= set(table["question"])
    assert dt.date.fromisoformat(idata.posterior.attrs["as_of"]) == dt.date(2024, 1, 31)


def test_strict_with_too_few_draws_exits_three_with_warnings(tmp_path: Path) -> None:
    """40 draws cannot reach a bulk ESS of 400: --strict turns the warning into exit 3."""
    code, stdout, _ = _run(
        [
            "fit",
            TINY,
            "--draws",
            "20",
            "--tune",
            "20",
            "--chains",
            "2",
            "--cores",
            "1",
            "--seed",
            "2",
            "--no-progress",
            "--strict",
            "--out",
            tmp_path,
        ]
    )
    assert code == 3
    assert "diagnostics WARNING" in stdout
    warnings = [line for line in stdout.splitlines() if line.startswith("WARNING: ")]
    assert any("ess bulk below 400" in line for line in warnings), stdout
    # each warning names the quantity, question id included
    ids = "|".join(q["id"] for q in _yaml(TINY)["questions"])
    assert all(
        re.search(rf"question_prob\[({ids})\]", line) for line in warnings if "e.g." in line
    ), warnings
    assert (tmp_path / "latest" / "tiny_chain_latest.nc").exists()  # results are still written
