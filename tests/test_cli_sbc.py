"""``forecast sbc``: the calibration check from the command line."""

from __future__ import annotations

import contextlib
import io

from forecast.cli import main
from tests.paths import TESTS, TINY


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse refusals
            code = int(exc.code)
    return code, out.getvalue(), err.getvalue()


def test_sbc_passes_on_the_tiny_scenario_and_writes_its_files(tmp_path) -> None:
    out = tmp_path / "sbc"
    code, stdout, stderr = _run(
        [
            "sbc",
            TINY,
            "--n",
            "20",
            "--draws",
            "100",
            "--scheduler",
            "sync",
            "--no-progress",
            "--out",
            out,
        ]
    )
    assert code == 0, stdout + stderr
    assert "SBC PASS" in stdout and "Traceback" not in stdout + stderr
    for name in ("ranks.csv", "tests.csv", "runs.csv", "summary.txt", "sbc_ranks.png"):
        assert (out / name).is_file()


def test_sbc_refuses_bad_arguments_and_scenarios(tmp_path) -> None:
    code, _, stderr = _run(["sbc", TINY, "--n", "5"])
    assert code == 2 and "--n must be a whole number >= 20, got 5" in stderr
    code, _, stderr = _run(["sbc", TINY, "--workers", "0"])
    assert code == 2 and "--workers" in stderr
    bad = TESTS / "bad_scenarios" / "01_yaml_syntax.yaml"
    code, stdout, stderr = _run(["sbc", bad, "--no-progress", "--out", tmp_path / "x"])
    assert code == 2 and "cannot be used as written" in stdout
    assert "Traceback" not in stdout + stderr
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, stdout, stderr = _run(["sbc", TINY, "--out", blocker])
    assert code == 2 and "--out" in stdout + stderr
