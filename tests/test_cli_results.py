"""Results are never lost (issue 14): atomic writes, run folders, the lock, ``--out`` checked
first, Ctrl-C, and every bad command-line argument refused naming it.

Fits are tiny (tiny_chain, 200 draws, one core); the sampler and the writers are replaced by
functions that raise where a test needs an interruption or a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import forecast
from forecast import cli
from forecast.api.fit import TEMPORARY_MARK, Fit, write_atomically
from forecast.cli import main
from forecast.pymc_backend.fitting import ScenarioFitter
from tests.analysis.evaluation.test_backtest import write_one_rule
from tests.paths import ROOT, TESTS, TINY

CASES = yaml.safe_load((TESTS / "bad_inputs" / "cli" / "arguments.yaml").read_text("utf-8"))
FAST = ["--draws", "200", "--tune", "200", "--chains", "2", "--cores", "1", "--no-progress"]
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _run(argv: list) -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured; an argparse exit gives its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (links followed) by relative path, with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files and locks left anywhere below ``folder``."""
    return [p for p in folder.rglob("*") if TEMPORARY_MARK in p.name or p.name == cli.LOCK_NAME]


def _must_not_fit(*args, **kwargs):
    raise AssertionError("the fit ran, but it should not have")


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.fixture(scope="module")
def first_fit(tmp_path_factory) -> tuple[Path, Path, dict[str, bytes]]:
    """A finished fit: its --out folder, its run folder and the bytes of its files."""
    out = tmp_path_factory.mktemp("results")
    code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out])
    assert code == 0, stdout + stderr
    (run,) = out.glob("all_evidence_*")
    return out, run, _files(run)


# ------------------------------------------------------------------------------ arguments


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_argument_is_refused_naming_it(name: str, monkeypatch) -> None:
    monkeypatch.setattr(forecast.ScenarioModel, "from_file", _must_not_fit)
    case = CASES[name]
    argv = [a.replace("{scenario}", str(TINY)) for a in case["argv"]]
    code, stdout, stderr = _run(argv)
    assert code == 2
    messages = case["message"] if isinstance(case["message"], list) else [case["message"]]
    line = stderr.splitlines()[-1]
    assert line.startswith(f"forecast {argv[0]}: error: {messages[0]}"), stderr
    assert all(m in line for m in messages), stderr
    assert "Traceback" not in stdout + stderr


def test_bad_arguments_cover_every_numeric_option() -> None:
    """Each numeric option and --as-of of fit and score has a refused case; 25 cases at least."""
    assert len(CASES) >= 25
    for command in ("fit", "score"):
        named = {a for c in CASES.values() if c["argv"][0] == command for a in c["argv"][2:]}
        assert {"--seed", "--draws", "--tune", "--chains", "--cores", "--as-of"} <= named


def test_bad_argument_in_a_fresh_process_has_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "forecast.cli", "fit", str(TINY), "--chains", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "argument --chains: --chains must be a whole number >= 1, got 0" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("as_of", "warning"),
    [
        (
            "2023-06-30",
            "WARNING: --as-of 2023-06-30 is before the scenario's start (2024-01-01): "
            "no evidence is used, the forecast is the priors' alone",
        ),
        (
            "2025-01-31",
            "WARNING: --as-of 2025-01-31 is after the scenario's horizon (2024-04-30): "
            "every month it forecasts is already past",
        ),
    ],
)
def test_as_of_outside_the_scenario_warns_and_still_fits(
    as_of, warning, tmp_path, monkeypatch
) -> None:
    """A warning, not a refusal; the fit (here interrupted at once) is still made."""
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    code, stdout, stderr = _run(["fit", TINY, *FAST, "--as-of", as_of, "--out", tmp_path])
    assert warning in _flat(stdout)
    assert code == 130 and stderr == "interrupted; nothing written\n"
    assert "Traceback" not in stdout + stderr


def test_as_of_inside_the_scenario_gives_no_warning(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    _, stdout, _ = _run(["fit", TINY, *FAST, "--as-of", "2024-02-15", "--out", tmp_path])
    assert "WARNING: --as-of" not in stdout


# ---------------------------------------------------------------------------------- --out


def _bad_outs(tmp_path: Path) -> list[tuple[Path, str]]:
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not a folder")
    cases = [
        (a_file, f"--out {a_file} is a file, not a folder"),
        (
            a_file / "sub" / "deeper",
            f"--out {a_file / 'sub' / 'deeper'} cannot be created: {a_file} is a file, "
            "not a folder",
        ),
    ]
    if Path("/proc/self").is_dir():  # not writable even by root
        cases.append((Path("/proc/forecast_out"), "--out /proc/forecast_out cannot be created: "))
    return cases


@pytest.mark.parametrize("command", ["fit", "score"])
def test_bad_out_is_refused_before_anything_is_fitted(command, tmp_path, monkeypatch) -> None:
    """One line naming --out, exit 2, in well under a second: no model is even loaded."""
    monkeypatch.setattr(forecast.ScenarioModel, "from_file", _must_not_fit)
    monkeypatch.setattr(forecast.ScenarioModel, "fit", _must_not_fit)
    extra = ["--as-of", "2024-02-15"] if command == "score" else FAST
    for out, message in _bad_outs(tmp_path):
        started = time.perf_counter()
        code, stdout, stderr = _run([command, TINY, *extra, "--out", out])
        assert time.perf_counter() - started < 1.0
        assert code == 2
        assert stderr.startswith(f"forecast {command}: error: {message}"), stderr
        assert stderr.count("\n") == 1 and stdout == ""
        assert "Traceback" not in stdout + stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_out_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(forecast.ScenarioModel, "from_file", _must_not_fit)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, stderr = _run(["fit", TINY, "--out", locked])
    assert code == 2
    assert f"--out {locked} is not writable" in stderr


def test_out_that_does_not_exist_yet_is_created(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    code, _, _ = _run(["fit", TINY, *FAST, "--out", tmp_path / "new" / "folder"])
    assert code == 130  # got as far as the sampler
    assert (tmp_path / "new" / "folder").is_dir()
    assert list((tmp_path / "new" / "folder").iterdir()) == []  # the empty run folder is gone


# ----------------------------------------------------------------------- run folders, reuse


def test_run_folder_holds_the_files_and_a_record(first_fit) -> None:
    out, run, files = first_fit
    assert run.name.startswith("all_evidence_") and len(run.name) == len("all_evidence_") + 8
    assert (out / "latest").is_symlink() and os.readlink(out / "latest") == run.name
    assert set(files) == {"tiny_chain_latest.nc", "tiny_chain_latest_forecast.csv", "run.json"}
    record = json.loads(files["run.json"])
    assert record["seed"] == 3 and record["as_of"] is None
    assert record["sampler"]["draws"] == 200 and record["sampler"]["backend"] == "nutpie"
    assert record["files"] == ["tiny_chain_latest.nc", "tiny_chain_latest_forecast.csv"]
    assert record["scenario_hash"] == forecast.load_scenario(TINY).hash
    assert _leftovers(out) == []
    assert (run / "tiny_chain_latest.nc").stat().st_mode & 0o044  # readable as open() makes


def test_same_inputs_again_are_not_fitted_again(first_fit, monkeypatch) -> None:
    out, run, files = first_fit
    monkeypatch.setattr(ScenarioFitter, "fit", _must_not_fit)
    code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out])
    assert code == 0
    assert _flat(stdout) == (
        f"Already fitted: {run} holds the result of these inputs (scenario, priors, as-of "
        "date, seed and sampler settings); not fitting again. Use --force to fit again and "
        "replace it."
    )
    assert _files(run) == files and stderr == ""


@pytest.mark.parametrize(
    "change",
    [["--seed", "4"], ["--draws", "201"], ["--tune", "150"], ["--as-of", "2024-02-15"]],
)
def test_other_inputs_get_another_run_folder(first_fit, change, monkeypatch) -> None:
    out, run, _ = first_fit
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    names = []
    monkeypatch.setattr(cli, "_lock", lambda folder: names.append(folder.name) or _interrupt())
    # argparse keeps the last of a repeated option: the change overrides FAST
    code, _, _ = _run(["fit", TINY, *FAST, "--seed", "3", *change, "--out", out])
    assert code == 130
    assert len(names) == 1 and names[0] != run.name
    assert names[0].startswith("as_of_2024-02-15_" if "--as-of" in change else "all_evidence_")


def test_a_run_with_a_file_missing_is_fitted_again(first_fit, monkeypatch) -> None:
    """A run folder counts as done only with its record and every file the record lists."""
    out, run, files = first_fit
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    (run / "tiny_chain_latest_forecast.csv").rename(run / "moved.csv")
    try:
        code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out])
    finally:
        (run / "moved.csv").rename(run / "tiny_chain_latest_forecast.csv")
    assert code == 130 and "Already fitted" not in stdout  # it went on to sample
    assert stderr == "interrupted; nothing written\n"
    assert _files(run) == files


def test_force_fits_again_and_replaces_the_result(tmp_path) -> None:
    argv = ["fit", TINY, *FAST, "--seed", "5", "--out", tmp_path]
    assert _run(argv)[0] == 0
    (run,) = tmp_path.glob("all_evidence_*")
    before = json.loads((run / "run.json").read_text())
    time.sleep(1.1)  # the record's time is to the second
    code, stdout, _ = _run([*argv, "--force"])
    assert code == 0 and "Already fitted" not in stdout
    assert list(tmp_path.glob("all_evidence_*")) == [run]
    after = json.loads((run / "run.json").read_text())
    assert after["written"] > before["written"]
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------------- interruptions, full disk


def test_ctrl_c_in_the_sampler_keeps_the_previous_result(first_fit, monkeypatch) -> None:
    out, run, files = first_fit
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out, "--force"])
    assert code == 130
    assert stderr == "interrupted; nothing written\n"
    assert "Traceback" not in stdout + stderr
    assert _files(run) == files
    assert _leftovers(out) == []


def test_real_ctrl_c_while_nutpie_samples(tmp_path) -> None:
    """SIGINT to a fresh process in the middle of sampling: nutpie catches it and returns the
    draws so far, but the command notices, writes nothing and exits 130 in one line."""
    done = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forecast.cli",
            "fit",
            str(TINY),
            "--no-progress",
            "--cores",
            "2",
            "--draws",
            "400000",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert done.stdout is not None
        for line in done.stdout:
            if line.startswith("Fitting tiny_chain"):
                break
        time.sleep(1.5)  # in the sampler by now
        done.send_signal(signal.SIGINT)
        stdout, stderr = done.communicate(timeout=120)
    finally:
        if done.poll() is None:
            done.kill()
    assert done.returncode == 130, stdout + stderr
    assert stderr == "interrupted; nothing written\n"
    assert "Traceback" not in stdout + stderr
    assert list(tmp_path.iterdir()) == []


def test_full_disk_while_writing_keeps_the_previous_result(first_fit, monkeypatch) -> None:
    import arviz as az

    out, run, files = first_fit

    def half_written(self, path, *args, **kwargs):
        Path(path).write_bytes(b"CDF\x01 truncated")
        raise ENOSPC

    monkeypatch.setattr(az.InferenceData, "to_netcdf", half_written)
    code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out, "--force"])
    assert code == 1
    assert stderr == (
        f"forecast fit: error: cannot write the results to {run}: No space left on device; "
        "nothing was written there, an earlier result is unchanged\n"
    )
    assert "Traceback" not in stdout + stderr
    assert _files(run) == files
    assert _leftovers(out) == []


def test_full_disk_on_the_last_file_replaces_none(first_fit, monkeypatch) -> None:
    """The files of a run are renamed into place only once every one is written."""
    out, run, files = first_fit
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.startswith(".run."):
            raise ENOSPC
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    code, _, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out, "--force"])
    assert code == 1 and "No space left on device" in stderr
    assert _files(run) == files
    assert _leftovers(out) == []


def test_ctrl_c_after_the_files_are_in_place_names_them(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(cli, "_point_latest", _interrupt)
    code, _, stderr = _run(["fit", TINY, *FAST, "--out", tmp_path])
    (run,) = tmp_path.glob("all_evidence_*")
    assert code == 130
    kept = ", ".join(
        str(run / name) for name in ("tiny_chain_latest.nc", "tiny_chain_latest_forecast.csv")
    )
    assert stderr == f"interrupted; kept: {kept}, {run / 'run.json'}\n"
    assert _leftovers(tmp_path) == []


def test_write_atomically_cleans_up_on_any_failure(tmp_path) -> None:
    target, other = tmp_path / "a.csv", tmp_path / "b.csv"
    target.write_text("old a")
    other.write_text("old b")

    def boom(path: Path) -> None:
        path.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically({target: lambda p: p.write_text("new a"), other: boom})
    assert target.read_text() == "old a" and other.read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]
    assert write_atomically({target: lambda p: p.write_text("new a")}) == [target]
    assert target.read_text() == "new a"


def test_fit_save_is_atomic(first_fit, tmp_path, monkeypatch) -> None:
    _, run, _ = first_fit
    model = forecast.ScenarioModel.from_file(TINY)
    fit = Fit.load(run / "tiny_chain_latest.nc", model)
    path = fit.save(tmp_path)
    saved = _files(tmp_path)
    assert set(saved) == {path.name, f"{path.stem}_questions.csv"}

    def full(self, *args, **kwargs):
        raise ENOSPC

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OSError, match="No space left"):
        fit.save(tmp_path)
    assert _files(tmp_path) == saved
    assert _leftovers(tmp_path) == []


# -------------------------------------------------------------------------------- score


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[list[str], Path, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("score")
    scenario = write_one_rule(folder)
    out = folder / "out"
    argv = ["score", str(scenario), "--as-of", "2024-02-15", "--draws", "500"]
    argv += ["--out", str(out), "--no-progress"]
    code, stdout, stderr = _run(argv)
    assert code == 0, stdout + stderr
    return argv, out, _files(out)


def test_score_full_disk_keeps_the_earlier_tables(scored, monkeypatch) -> None:
    argv, out, files = scored
    assert set(files) == {"one_rule_2024-02-15_scores.csv", "one_rule_2024-02-15_score_summary.csv"}
    real = pd.DataFrame.to_csv

    def full(self, path=None, *args, **kwargs):
        if path is not None and "score_summary" in str(path):
            Path(path).write_text("trunc")
            raise ENOSPC
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code, stdout, stderr = _run(argv)
    assert code == 1
    assert stderr == (
        f"forecast score: error: cannot write the score tables to {out}: No space left on "
        "device; nothing was written, earlier tables are unchanged\n"
    )
    assert "Traceback" not in stdout + stderr
    assert _files(out) == files
    assert _leftovers(out) == []


def test_check_ctrl_c_exits_130(monkeypatch) -> None:
    monkeypatch.setattr(forecast.ScenarioModel, "from_file", _interrupt)
    code, stdout, stderr = _run(["check", TINY])
    assert code == 130 and stderr == "interrupted; nothing written\n"
    assert "Traceback" not in stdout + stderr


def test_score_as_of_after_the_horizon_warns(scored, tmp_path) -> None:
    argv, out, _ = scored
    horizon = "2024-06-30"  # one_rule's scenario ends in June 2024
    swap = {"2024-02-15": "2025-03-31", str(out): str(tmp_path)}
    argv = [swap.get(a, a) for a in argv]
    out = tmp_path
    code, stdout, stderr = _run(argv)
    assert code == 0, stdout + stderr
    assert (
        f"WARNING: --as-of 2025-03-31 is after the scenario's horizon ({horizon}): every month "
        "it forecasts is already past"
    ) in _flat(stdout)
    assert (out / "one_rule_2025-03-31_scores.csv").is_file()


def test_score_ctrl_c_exits_130(scored, monkeypatch) -> None:
    argv, out, files = scored
    monkeypatch.setattr(forecast.ScenarioModel, "backtest", _interrupt)
    code, stdout, stderr = _run(argv)
    assert code == 130 and stderr == "interrupted; nothing written\n"
    assert "Traceback" not in stdout + stderr
    assert _files(out) == files


# --------------------------------------------------------------------------------- the lock


def test_one_thread_of_many_gets_the_lock(tmp_path) -> None:
    run = tmp_path / "run"
    barrier, got, refused = threading.Barrier(8), [], []

    def take() -> None:
        barrier.wait()
        try:
            got.append(cli._lock(run))
        except cli.RunLocked as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 1 and len(refused) == 7
    assert all(f"another fit (process {os.getpid()}) is writing {run}" in m for m in refused)
    assert (run / cli.LOCK_NAME).read_text() == str(os.getpid())


def test_a_locked_run_folder_is_refused(first_fit, monkeypatch) -> None:
    out, run, files = first_fit
    monkeypatch.setattr(ScenarioFitter, "fit", _must_not_fit)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / cli.LOCK_NAME).write_text(str(holder.pid))
        code, stdout, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out, "--force"])
    finally:
        holder.kill()
        holder.wait()
        (run / cli.LOCK_NAME).unlink()
    assert code == 1
    assert stderr == (
        f"forecast fit: error: another fit (process {holder.pid}) is writing {run}; wait for "
        f"it to finish, or remove {run / cli.LOCK_NAME} if that process is gone\n"
    )
    assert "Traceback" not in stdout + stderr
    assert _files(run) == files


def test_a_stale_lock_is_taken_over(first_fit, monkeypatch) -> None:
    out, run, files = first_fit
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (run / cli.LOCK_NAME).write_text(str(gone.pid))
    monkeypatch.setattr(ScenarioFitter, "fit", _interrupt)
    code, _, stderr = _run(["fit", TINY, *FAST, "--seed", "3", "--out", out, "--force"])
    assert code == 130 and stderr == "interrupted; nothing written\n"  # it reached the sampler
    assert not (run / cli.LOCK_NAME).exists()
    assert _files(run) == files


def test_three_fits_at_once_into_one_folder(tmp_path) -> None:
    """Two with the same inputs (one fits, the other waits for nothing: it is refused by the
    lock or finds the result) and one with another seed (its own folder)."""
    command = [sys.executable, "-m", "forecast.cli", "fit", str(TINY), *FAST, "--out"]
    seeds = ["1", "1", "2"]
    procs = [
        subprocess.Popen(
            [*command, str(tmp_path), "--seed", seed],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for seed in seeds
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, stdout, stderr in results:
        assert "Traceback" not in stdout + stderr
        assert code == 0 or (code == 1 and "another fit (process" in stderr), stdout + stderr
    assert sum(code == 0 and "Wrote:" in stdout for code, stdout, _ in results) >= 2
    runs = sorted(tmp_path.glob("all_evidence_*"))
    assert len(runs) == 2
    import arviz as az

    for run in runs:
        record = json.loads((run / "run.json").read_text())
        idata = az.from_netcdf(run / "tiny_chain_latest.nc")
        assert int(idata.posterior.attrs["seed"]) == record["seed"]
    assert os.readlink(tmp_path / "latest") in {r.name for r in runs}
    assert _leftovers(tmp_path) == []


def test_latest_falls_back_to_a_pointer_file(tmp_path, monkeypatch) -> None:
    run = tmp_path / "as_of_2024-02-15_0123abcd"
    run.mkdir()

    def no_symlinks(*args, **kwargs):
        raise OSError(errno.EPERM, "symlinks not allowed here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    assert cli._point_latest(tmp_path, run) == tmp_path / "latest.txt"
    assert (tmp_path / "latest.txt").read_text() == "as_of_2024-02-15_0123abcd\n"
    assert _leftovers(tmp_path) == []
