"""Every broken scenario of tests/bad_scenarios, through ``forecast check`` and the front door.

Each case (old and new) must give a non-zero exit, no traceback, and a problem naming the
file, the field, the line (where YAML knows it) and the text expected.yaml gives. Files that
would exhaust resources (alias bombs, deep nesting, endless or oversized files) must be
refused fast and without blowing memory: each case runs under an alarm, and the resource
cases also run in a fresh process with a timeout, reporting their peak memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import forecast
from forecast import ScenarioError
from forecast.cli import main
from forecast.settings import MAX_SCENARIO_BYTES
from tests.paths import ROOT, TESTS

BAD = TESTS / "bad_scenarios"
EXPECTED: dict[str, dict] = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))
CASES = sorted(p.name for p in BAD.glob("*.yaml") if p.name != "expected.yaml")
MULTI = sorted(p.name for p in (BAD / "multi").glob("*.yaml"))
RESOURCE = [name for name in CASES if "alias" in name or "nesting" in name]
SECONDS = 20
"""Longest any one bad file may take to be refused."""

PEAK_MEMORY_BYTES = 1536 * 1024**2
"""Most memory a fresh ``forecast check`` of a resource case may reach (imports included)."""


@contextlib.contextmanager
def _deadline(seconds: int = SECONDS) -> Iterator[None]:
    """Fail the test (instead of hanging) when the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _check(path: Path | str) -> tuple[int, str]:
    """``forecast check PATH`` in this process: exit code and stdout + stderr."""
    out, err = io.StringIO(), io.StringIO()
    with _deadline(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(path)])
    return code, out.getvalue() + err.getvalue()


def _squeezed(text: str) -> str:
    """Text without whitespace, so a console's line wrapping cannot hide a match."""
    return "".join(text.split())


def _assert_reported(text: str, name: str, want: dict) -> None:
    flat = _squeezed(text)
    file = want.get("file", name)
    assert "Traceback" not in text
    assert _squeezed(file) in flat, f"{file} not named in:\n{text}"
    assert _squeezed(want["field"]) in flat, f"field {want['field']!r} not named in:\n{text}"
    assert _squeezed(want["message"]) in flat, f"{want['message']!r} not in:\n{text}"
    if want["line"] is not None:
        assert _squeezed(f"{file}:{want['line']}:") in flat, f"line {want['line']} not in:\n{text}"
    if "allowed" in want:
        assert _squeezed(want["allowed"]) in flat, f"allowed {want['allowed']!r} not in:\n{text}"


def test_every_case_has_an_expectation() -> None:
    assert set(CASES) == set(EXPECTED)
    assert len(CASES) >= 126  # 91 cases before issue 14, at least 35 added for it


@pytest.mark.parametrize("name", CASES)
def test_check_reports_the_case(name: str) -> None:
    code, text = _check(BAD / name)
    assert code != 0
    assert _squeezed(f"{BAD / name} cannot be used as written") in _squeezed(text)
    _assert_reported(text, name, EXPECTED[name])


@pytest.mark.parametrize("name", CASES)
def test_from_file_raises_the_problem(name: str) -> None:
    want = EXPECTED[name]
    with _deadline(), pytest.raises(ScenarioError) as caught:
        forecast.ScenarioModel.from_file(BAD / name)
    error = caught.value
    _assert_reported(str(error), name, want)
    file = want.get("file", name)
    problems = [
        p
        for p in error.problems
        if Path(p.file).name == file
        and want["field"] in (p.field or "(file)")
        and want["message"] in p.message
    ]
    assert problems, str(error)
    assert problems[0].field or want["field"] == "(file)"
    if want["line"] is not None:
        assert problems[0].line == want["line"]


@pytest.mark.parametrize("name", MULTI)
def test_check_reports_a_file_with_several_defects(name: str) -> None:
    code, text = _check(BAD / "multi" / name)
    assert code != 0
    assert "Traceback" not in text
    assert name in text
    assert _squeezed(f"{name}:") in _squeezed(text)  # with a line


def test_check_refuses_an_endless_file() -> None:
    code, text = _check("/dev/zero")
    assert code != 0
    assert "Traceback" not in text
    assert "/dev/zero" in text
    assert _squeezed(f"larger than the limit of {MAX_SCENARIO_BYTES} bytes") in _squeezed(text)


def test_check_refuses_an_oversized_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    valid = (TESTS / "scenarios" / "tiny_chain.yaml").read_text(encoding="utf-8")
    padding = "# padding\n" * (MAX_SCENARIO_BYTES // 10 + 1)
    big.write_text(valid + padding, encoding="utf-8")
    code, text = _check(big)
    assert code != 0
    assert "Traceback" not in text
    assert "big.yaml" in text
    assert _squeezed(f"a scenario file of at most {MAX_SCENARIO_BYTES} bytes") in _squeezed(text)
    with pytest.raises(ScenarioError, match="larger than the limit"):
        forecast.ScenarioModel.from_file(big)


def test_a_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    valid = (TESTS / "scenarios" / "tiny_chain.yaml").read_text(encoding="utf-8")
    near = tmp_path / "near.yaml"
    near.write_text(valid + "#" * (MAX_SCENARIO_BYTES - len(valid.encode()) - 1) + "\n")
    assert near.stat().st_size == MAX_SCENARIO_BYTES
    assert forecast.ScenarioModel.from_file(near).scenario.id == "tiny_chain"


def test_check_refuses_a_directory_and_a_binary_file(tmp_path: Path) -> None:
    code, text = _check(tmp_path)
    assert code != 0 and "Traceback" not in text and "cannot be read" in text
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"id: x\n\x00\x01\x02")
    code, text = _check(binary)
    assert code != 0 and "Traceback" not in text
    assert "binary.yaml:2:" in text and "NUL byte" in text


_CHILD = """
import contextlib, io, json, resource, sys
from forecast.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    code = main(["check", sys.argv[1]])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"code": code, "peak": peak, "text": out.getvalue()}))
"""


@pytest.mark.parametrize("name", [*RESOURCE, "/dev/zero"])
def test_resource_case_is_refused_fast_in_a_fresh_process(name: str) -> None:
    path = name if name.startswith("/") else str(BAD / name)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SECONDS + 40,  # the imports included
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] != 0
    assert "Traceback" not in result["text"]
    assert result["peak"] < PEAK_MEMORY_BYTES, f"peak memory {result['peak']} bytes"
    if name in EXPECTED:
        _assert_reported(result["text"], name, EXPECTED[name])


@pytest.mark.parametrize(
    ("judgement", "shown"),
    [
        ("best: 0.5, interval: [0.4999999, 0.5000001]", "[0.4999999, 0.5000001]"),
        ("best: 1.0e-12, interval: [1.0e-13, 1.0e-11]", "[1e-13, 1e-11]"),
    ],
)
def test_a_judgement_too_narrow_for_the_limit_is_refused(
    tmp_path: Path, judgement: str, shown: str
) -> None:
    """A judgement whose maximum-entropy Beta would pass the Beta parameter limit."""
    valid = (TESTS / "scenarios" / "tiny_chain.yaml").read_text(encoding="utf-8")
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(valid.replace("best: 0.3, interval: [0.1, 0.6]", judgement))
    code, text = _check(narrow)
    assert code != 0
    assert "Traceback" not in text
    flat = _squeezed(text)
    assert _squeezed("narrow.yaml:13: nodes.a.transitions[0].to.yes:") in flat
    assert _squeezed(f"the interval {shown} is so narrow") in flat
    assert _squeezed("beyond the limit of 1000000") in flat
    with pytest.raises(ScenarioError, match="so narrow"):
        forecast.ScenarioModel.from_file(narrow).priors  # noqa: B018  (elicited on access)


def test_check_refuses_a_pipe_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    code, text = _check(pipe)
    assert code != 0 and "Traceback" not in text
    assert "pipe.yaml" in text and "is a pipe or socket" in text
