"""The ``forecast`` command: ``fit`` a scenario and print its forecast table, or ``check`` it."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import forecast
from forecast import ScenarioError, settings
from forecast.api.arguments import as_of_date, as_of_outside, draw_count, seed_value, whole_number
from forecast.api.fit import TEMPORARY_MARK, write_atomically
from forecast.engine.export import FORMATS
from forecast.errors import AsOfWarning

if TYPE_CHECKING:
    import pandas as pd

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def _month(text: str) -> str:
    """``--start``: a month YYYY-MM."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text) or not 1 <= int(text[:4]) <= 9998:
        raise argparse.ArgumentTypeError(f"'{text}' is not a month; use YYYY-MM, e.g. 2024-01")
    return text


def _date(text: str) -> dt.date:
    """``--as-of``: a date YYYY-MM-DD (checked as the front door's ``as_of`` is)."""
    try:
        value = as_of_date(text, "--as-of")
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; use YYYY-MM-DD") from None
    assert value is not None
    return value


def _whole(text: str, option: str, check: Callable[[object, str], int]) -> int:
    """``text`` as a whole number that ``check`` (a front-door check) accepts.

    Else an argparse error naming ``option`` and what is allowed, in the check's words.
    """
    try:
        value = int(text.strip(), 10)
    except ValueError:
        try:
            check(0.5, option)  # refused as not whole: the check's words for what is allowed
            allowed = f"{option} must be a whole number"
        except (TypeError, ValueError) as exc:
            allowed = str(exc).split(", not ")[0]
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number; {allowed}") from None
    try:
        return check(value, option)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed(text: str) -> int:
    """``--seed``: a whole number >= 0 (as ``forecast.api.arguments.seed_value``)."""
    return _whole(text, "--seed", seed_value)


def _count(option: str, minimum: int) -> Callable[[str], int]:
    """An argparse ``type=`` for ``option``: a whole number >= ``minimum``.

    Checked as the front door checks it: ``draw_count`` for ``--draws``, ``whole_number``
    for the others.
    """

    def check(value: object, name: str) -> int:
        if option == "--draws":
            return draw_count(value, name)
        return whole_number(value, name, minimum)

    def parse(text: str) -> int:
        return _whole(text, option, check)

    parse.__name__ = option.strip("-")  # argparse names the type in some messages
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a scenario and print its forecast table")
    fit.add_argument("scenario", type=Path)
    fit.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="use only evidence known on or before this date (YYYY-MM-DD)",
    )
    fit.add_argument(
        "--seed", type=_seed, default=settings.DEFAULT_SEED, help="a whole number >= 0"
    )
    fit.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the results (default results/<scenario id>); each run writes its own "
        "folder in it, as_of_<date>_<hash> or all_evidence_<hash>, and points 'latest' at it",
    )
    fit.add_argument(
        "--force",
        action="store_true",
        help="fit again and replace the result of a run with the same inputs",
    )
    fit.add_argument("--draws", type=_count("--draws", 1), default=settings.DRAWS)
    fit.add_argument("--tune", type=_count("--tune", 0), default=settings.TUNE)
    fit.add_argument("--chains", type=_count("--chains", 1), default=settings.CHAINS)
    fit.add_argument("--cores", type=_count("--cores", 1), default=settings.CORES)
    fit.add_argument(
        "--sampler",
        choices=["nutpie", "pymc"],
        default=settings.SAMPLER_BACKEND,
        help="NUTS implementation: nutpie on the numba-compiled density "
        "(default, fast) or PyMC's pm.sample (reference)",
    )
    fit.add_argument(
        "--strict", action="store_true", help="exit with status 3 when a convergence check fails"
    )
    fit.add_argument("--no-progress", action="store_true", help="no progress bar")
    imported = sub.add_parser(
        "import",
        help="write a Bayesian-network file as a one-month scenario of fixed tables",
        description="Read a Bayesian network (.bif, .bifxml, .net, .xdsl, .dsl, .uai: pyAgrum "
        "reads it) and write it as a scenario: one month, each variable a memoryless node with "
        "its table as cpt rows and its parents in the same month. Names that are not valid "
        "scenario names are mapped (the node's label and the states' definitions keep the "
        "network's); table columns that add up to 1 within 1e-6 are normalised, and the "
        "rationale says by how much.",
    )
    imported.add_argument("network", type=Path)
    imported.add_argument(
        "--out", type=Path, default=None, help="scenario file to write (default <network>.yaml)"
    )
    imported.add_argument(
        "--start", type=_month, default="2024-01", help="the scenario's month (YYYY-MM)"
    )
    imported.add_argument("--force", action="store_true", help="overwrite an existing --out")
    exported = sub.add_parser(
        "export",
        help="write a scenario as a Bayesian-network file for other tools",
        description="Write the scenario as a Bayesian network (pyAgrum writes it): a static "
        "scenario as its network, any other unrolled month by month (<node>__initial, then "
        "<node>__<YYYY_MM>), every rule at its prior mean, or with --fit at that fit's "
        "posterior mean (a plug-in network: its marginals are the model's at those values, "
        "not the fit's posterior predictive).",
    )
    exported.add_argument("scenario", type=Path)
    exported.add_argument("--to", choices=sorted(FORMATS), default="bif", help="file format")
    exported.add_argument(
        "--fit", type=Path, default=None, help="a fit's .nc file (default: the priors' means)"
    )
    exported.add_argument(
        "--months", type=_count("--months", 1), default=None, help="months unrolled (default all)"
    )
    exported.add_argument(
        "--out", type=Path, default=None, help="file to write (default <scenario id>.<format>)"
    )
    exported.add_argument("--force", action="store_true", help="overwrite an existing --out")
    check = sub.add_parser("check", help="validate a scenario and explain it")
    check.add_argument("scenario", type=Path)
    score = sub.add_parser(
        "score",
        help="score the forecasts of resolved questions against two baselines",
        description="Forecast resolved questions as of a date, from the evidence known then, "
        "and score them (Brier; log score = -ln of the probability given to what happened, "
        "natural log, forecasts clipped to [1e-6, 1 - 1e-6]) against always 50%% and the "
        "prior alone. The questions CSV has the columns id,node,state,kind,date,outcome and "
        "optionally window_start,text,source,resolved_on,evidence; state may list several "
        "states joined by '|'; kind is in_state or reached; outcome is 1 or 0.",
    )
    score.add_argument("scenario", type=Path)
    score.add_argument(
        "questions",
        type=Path,
        nargs="?",
        default=None,
        help="CSV of resolved questions (default: the scenario's resolved questions)",
    )
    cutoff = score.add_mutually_exclusive_group(required=True)
    cutoff.add_argument(
        "--as-of",
        type=_date,
        help="forecast with the evidence known on or before this date (YYYY-MM-DD)",
    )
    cutoff.add_argument(
        "--lead-months",
        type=_count("--lead-months", 1),
        nargs="+",
        metavar="N",
        help=(
            "forecast each question N months before its date, with the evidence known at "
            "that month end; several N score each lead and compare them (e.g. 1 3 6)"
        ),
    )
    score.add_argument(
        "--method",
        choices=["is", "nuts"],
        default="is",
        help="importance sampling of prior draws (default) or a NUTS fit",
    )
    score.add_argument(
        "--draws",
        type=_count("--draws", 1),
        default=None,
        help=(
            "prior draws (is, default 4000) or NUTS draws per chain "
            f"(nuts, default {settings.DRAWS})"
        ),
    )
    score.add_argument(
        "--tune", type=_count("--tune", 0), default=settings.TUNE, help="NUTS tuning steps"
    )
    score.add_argument(
        "--chains", type=_count("--chains", 1), default=settings.CHAINS, help="NUTS chains"
    )
    score.add_argument(
        "--cores", type=_count("--cores", 1), default=settings.CORES, help="NUTS cores"
    )
    score.add_argument(
        "--seed", type=_seed, default=settings.DEFAULT_SEED, help="a whole number >= 0"
    )
    score.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the score tables (default results/<scenario id>)",
    )
    score.add_argument("--no-progress", action="store_true", help="no progress display")
    sbc = sub.add_parser(
        "sbc",
        help="check that the fit is calibrated: simulation-based calibration (SBC)",
        description="Simulation-based calibration (Talts et al. 2018): draw the parameters from "
        "the priors, simulate evidence of the scenario's shape, fit it, and rank the true "
        "parameters and question probabilities among the posterior draws; uniform ranks (a "
        "chi-square and simultaneous ECDF bands per quantity, Bonferroni-corrected) mean a "
        "calibrated fit. The fits run on Dask: a LocalCluster of --workers processes, or the "
        "cluster at --scheduler. Exit 0 when every quantity passes, 1 when one fails.",
    )
    sbc.add_argument("scenario", type=Path)
    sbc.add_argument(
        "--n", type=_count("--n", 20), default=200, help="replications (default 200, >= 20)"
    )
    sbc.add_argument(
        "--seed", type=_seed, default=settings.DEFAULT_SEED, help="a whole number >= 0"
    )
    sbc.add_argument(
        "--draws", type=_count("--draws", 50), default=250, help="NUTS draws per chain per fit"
    )
    sbc.add_argument(
        "--workers", type=_count("--workers", 1), default=2, help="LocalCluster worker processes"
    )
    sbc.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (default: start a LocalCluster); 'sync' "
        "runs the fits in this process",
    )
    sbc.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for ranks, tests and histograms (default results/<scenario id>/"
        "sbc_n<N>_seed<S>); ranks are appended as each replication finishes",
    )
    sbc.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_STRICT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""Exit statuses: done; a problem (a locked or unwritable result); bad input or arguments;
``fit --strict`` with a failed convergence check; interrupted (Ctrl-C)."""

LOCK_NAME = ".lock"
RUN_RECORD = "run.json"
LATEST = "latest"

_written: list[Path] = []
"""The files the running command has put in place (named when it is interrupted)."""

_interrupted = threading.Event()
"""Set by Ctrl-C (SIGINT) during a command, even when a sampler catches the interruption."""


def _on_interrupt(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def _noting_interrupts() -> Iterator[None]:
    """Note Ctrl-C in :data:`_interrupted` while the command runs (main thread only).

    nutpie and ``pm.sample`` catch the ``KeyboardInterrupt`` and return the draws made so far;
    the command then must not save them as a finished fit: :func:`_stop_if_interrupted`.
    """
    _interrupted.clear()
    try:
        previous = signal.signal(signal.SIGINT, _on_interrupt)
    except ValueError:  # not the main thread: Python delivers signals there only
        yield
        return
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _stop_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when Ctrl-C was pressed, even if a sampler swallowed it."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


def _error(command: str, message: str) -> None:
    """One line on stderr, as argparse writes its errors."""
    sys.stderr.write(f"forecast {command}: error: {message}\n")


def _out_problem(out: Path) -> str | None:
    """Why ``--out`` cannot hold results (None: it can), checked without creating anything."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder"
    probe = out
    while not probe.exists():  # the nearest folder that exists: the results' folders go there
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"--out {out} cannot be created: {probe} is a file, not a folder"
    try:
        handle, name = tempfile.mkstemp(dir=probe, prefix=".forecast-write-test.")
    except OSError as exc:
        where = "is not writable" if probe == out else f"cannot be created: {probe} is not writable"
        return f"--out {out} {where} ({exc.strerror or exc})"
    os.close(handle)
    os.unlink(name)
    return None


def _default_out(command: str, given: Path | None, default: Path) -> Path | None:
    """``--out`` if given (checked before loading), else ``default`` checked now.

    None once the problem with the default place is printed.
    """
    if given is not None:
        return given
    if problem := _out_problem(default):
        _error(command, problem)
        return None
    return default


def _run_name(
    model: forecast.ScenarioModel,
    as_of: dt.date | None,
    seed: int,
    sampler: forecast.SamplerConfig,
) -> str:
    """The run folder's name, ``as_of_<date>_<hash>`` or ``all_evidence_<hash>``.

    The hash is the first 8 hex digits of SHA-256 over the scenario hash, the priors digest,
    the seed and the sampler settings.
    """
    from forecast.api.provenance import priors_digest

    inputs = {
        "scenario_hash": model.scenario.hash,
        "priors_digest": priors_digest(model.scenario, model.priors),
        "seed": seed,
        "sampler": dataclasses.asdict(sampler),
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:8]
    return f"{'as_of_' + as_of.isoformat() if as_of else 'all_evidence'}_{digest}"


def _complete(run: Path) -> bool:
    """Whether a run folder holds a finished run: its record, and every file it lists."""
    try:
        record = json.loads((run / RUN_RECORD).read_text(encoding="utf-8"))
        return all((run / name).is_file() for name in record["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


class RunLocked(Exception):
    """Another live process holds the run folder's lock."""


def _lock(folder: Path) -> Path:
    """Take the run folder's lock, ``.lock``, holding this process's id.

    The lock is published whole and exclusively: the id is written to a temporary file that
    is then hard-linked as ``.lock``, which fails, as ``O_CREAT | O_EXCL`` does, when the lock
    exists; so no one ever reads a lock half written. A lock whose process no longer runs is
    renamed away (atomically: only one taker wins it) and the lock taken again.

    Raises
    ------
    RunLocked
        When a running process holds it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    handle, name = tempfile.mkstemp(dir=folder, prefix=f"{LOCK_NAME}.", suffix=TEMPORARY_MARK)
    mine = Path(name)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(str(os.getpid()))
        for _ in range(5):
            try:
                os.link(mine, path)
                return path
            except FileExistsError:
                pass
            pid = _lock_holder(path)
            if pid is None:
                continue  # released meanwhile
            if _alive(pid):
                raise RunLocked(
                    f"another fit (process {pid}) is writing {folder}; wait for it to finish, "
                    f"or remove {path} if that process is gone"
                )
            stale = folder / f"{LOCK_NAME}.stale.{os.getpid()}{TEMPORARY_MARK}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, stale)
                if _lock_holder(stale) != pid and not path.exists():
                    os.link(stale, path)  # it was a live lock, taken just now: put it back
                stale.unlink()
        raise RunLocked(f"cannot take the lock {path}: other fits keep taking it")
    finally:
        mine.unlink()


def _lock_holder(path: Path) -> int | None:
    """The process id in a lock file (0 when unreadable; None when there is no lock)."""
    try:
        return int(path.read_text().strip() or "0")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    """Whether a process with this id runs (0: no)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _point_latest(out: Path, run: Path) -> Path:
    """Point ``<out>/latest`` at the run folder.

    A relative symlink, replaced atomically; where symlinks cannot be made, a ``latest.txt``
    holding the folder's name.
    """
    link = out / LATEST
    temporary = out / f".{LATEST}.{os.getpid()}{TEMPORARY_MARK}"
    try:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        os.symlink(run.name, temporary, target_is_directory=True)
        os.replace(temporary, link)
        return link
    except (OSError, NotImplementedError):
        with contextlib.suppress(OSError):
            temporary.unlink()
    pointer = out / f"{LATEST}.txt"
    write_atomically({pointer: lambda tmp: tmp.write_text(run.name + "\n", encoding="utf-8")})
    return pointer


def _mover(source: Path) -> Callable[[Path], None]:
    """A writer for :func:`write_atomically` that moves an already written file."""

    def move(temporary: Path) -> None:
        os.replace(source, temporary)

    return move


def _write(writers: dict[Path, Callable[[Path], object]]) -> list[Path]:
    """:func:`write_atomically`, remembering what was put in place."""
    paths = write_atomically(writers)
    _written.extend(paths)
    return paths


def _quiet_libraries() -> None:
    for name in ("pymc", "pytensor", "arviz", "numba", "preliz"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    # the command prints its own warning for a cut-off outside the scenario's months
    warnings.filterwarnings("ignore", category=AsOfWarning)


def _status(message: str, quiet: bool) -> contextlib.AbstractContextManager:
    """A spinner for a phase of the command (nothing when progress display is off)."""
    return contextlib.nullcontext() if quiet else console.status(escape(message) + " ...")


def _load(
    path: Path, sampler: forecast.SamplerConfig | None = None
) -> forecast.ScenarioModel | None:
    """The checked model with its priors elicited, or None once its problems are printed.

    With ``sampler`` the model's fitter is built too: a fresh machine then compiles the
    kernels in a second process while PreliZ elicits the priors.
    """
    try:
        model = forecast.ScenarioModel.from_file(path)
        if sampler is None:
            model.priors  # noqa: B018  (elicited here, so that its problems are reported)
        else:
            model.fitter(sampler)
        return model
    except ScenarioError as exc:
        console.print(f"[bold red]{escape(str(path))} cannot be used as written[/]")
        for problem in exc.problems:
            console.print(f"  - {problem}", markup=False)
        return None


def _shown_path(path: Path) -> str:
    """A path relative to the working folder when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_rule_ids(scenario: forecast.Scenario) -> None:
    """Every rule of the scenario (``stays: true`` ones too) by id, with its plain words."""
    table = Table(
        title=escape("Rules by id (a rule without id: gets <node>:<from>[<parent>=<states>,...])"),
        box=None,
        title_justify="left",
    )
    table.add_column("id", no_wrap=True)
    table.add_column("in plain words")
    for node in scenario.nodes:
        table_spec = getattr(scenario.spec.nodes.get(node.name), "cpt", None)
        if table_spec is not None:  # its rules are the rows of one fixed table
            parents = ", ".join(p for p, _ in node.parents) or "no parents"
            table.add_row(
                escape(f"{node.name}:*"),
                escape(
                    f"{node.name}: fixed table (cpt) of {len(table_spec.rows)} row(s) over "
                    f"{parents}, memoryless; {len(node.rules)} fixed rules"
                ),
            )
            continue
        for rule in node.rules:
            table.add_row(escape(rule.id), escape(rule.describe()))
    console.print(table)


def run_check(path: Path) -> int:
    """Validate a scenario and explain its structure, priors and evidence."""
    _quiet_libraries()
    model = _load(path)
    if model is None:
        return EXIT_USAGE
    scenario, priors = model.scenario, model.priors
    tl = scenario.timeline
    console.print(f"[bold]{escape(scenario.spec.title)}[/] ({scenario.id}) is valid.")
    console.print(
        f"Months {tl.month_label(0)} to {tl.month_label(tl.n_steps - 1)} "
        f"({tl.n_steps} steps); priors set on {scenario.spec.priors_set_on}."
    )
    for base in scenario.bases:
        console.print(
            f"Extends {escape(_shown_path(base))}: structure, evidence and questions "
            "from there; transitions restated here replace its own."
        )
    joint = 1
    for node in scenario.nodes:
        if not node.is_source:
            joint *= node.n_states
    sources = sum(1 for node in scenario.nodes if node.is_source)
    console.print(
        f"{len(scenario.nodes) - sources} nodes ({joint} joint states)"
        + (f" and {sources} evidence sources" if sources else "")
        + f", {len(scenario.rules)} rule parameters, {len(scenario.evidence)} evidence "
        f"items, {len(scenario.questions)} questions."
    )
    from forecast.engine.checks import memory_text, model_size
    from forecast.engine.static import static_network

    if (network := static_network(scenario)) is not None:
        console.print(
            "A static network (no node remembers its state, every edge within the month, no "
            "prior): each month by variable elimination, the largest factor "
            f"{network.width():,} entries, never the {joint:,} joint states.",
            markup=False,
        )
    else:
        size = model_size(scenario)
        console.print(
            f"Engine: the joint of {size.joint:,} states month by month, the largest "
            f"contraction {size.largest:,} entries; a fit with the default settings needs at "
            f"most about {memory_text(size.nbytes)}.",
            markup=False,
        )
    _print_rule_ids(scenario)
    table = Table(title="Rules: stated judgement and fitted prior")
    table.add_column("rule", no_wrap=True)
    for column in (
        "N months",
        "destination",
        r"stated best \[interval] @cred",
        "prior mean",
        "mass in interval",
    ):
        table.add_column(column, no_wrap=column.startswith("stated"))
    for rule, prior in zip(scenario.rules, priors.rules, strict=True):
        label = escape(rule.id)
        if prior.stated:
            for s in prior.stated:
                stated = (
                    f"{s.best:g} [{s.interval[0]:g}, {s.interval[1]:g}] @{s.credibility:g}"
                    if s.interval
                    else "beta parameters"
                )
                mass = f"{s.fitted_mass:.2f}" if s.fitted_mass is not None else ""
                table.add_row(
                    label,
                    str(rule.within_months),
                    s.destination,
                    stated,
                    f"{s.fitted_mean:.3f}",
                    mass,
                )
                label = ""
        else:
            table.add_row(
                label,
                str(rule.within_months),
                ", ".join(rule.destinations),
                "dirichlet " + " ".join(f"{a:g}" for a in prior.alpha),
                " ".join(f"{m:.3f}" for m in prior.mean[1:]),
                "",
            )
        if prior.counts is not None:
            ref = rule.reference_class
            table.add_row(
                "",
                "",
                "reference class",
                f"{ref.n - int(prior.counts[0])} of {ref.n} cases",
                "",
                "",
            )
    console.print(table)
    by_node: dict[str, int] = {}
    for item in scenario.evidence:
        by_node[item.node] = by_node.get(item.node, 0) + 1
    console.print(
        "Evidence per node: "
        + ", ".join(f"{n.name} {by_node.get(n.name, 0)}" for n in scenario.nodes)
    )
    return 0


def run_fit(args: argparse.Namespace) -> int:
    """Fit a scenario, print the forecast table and diagnostics, and write the results.

    The results go to their own run folder under ``--out`` (see :func:`_run_name`); a run
    with the same inputs is not fitted again unless ``--force``.
    """
    if args.out is not None and (problem := _out_problem(args.out)):
        _error("fit", problem)
        return EXIT_USAGE
    _quiet_libraries()
    sampler = forecast.SamplerConfig(
        draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores, backend=args.sampler
    )
    with _status("Checking the scenario and building the model", args.no_progress):
        model = _load(args.scenario, sampler)
    if model is None:
        return EXIT_USAGE
    scenario = model.scenario
    out = _default_out("fit", args.out, Path("results") / scenario.id)
    if out is None:
        return EXIT_USAGE
    as_of = args.as_of
    if warning := as_of_outside(scenario, as_of, "--as-of"):
        console.print(f"[bold yellow]WARNING:[/] {escape(warning)}")
    run = out / _run_name(model, as_of, args.seed, sampler)
    if _complete(run) and not args.force:
        with contextlib.suppress(OSError):
            _point_latest(out, run)
        console.print(
            f"Already fitted: {run} holds the result of these inputs (scenario, priors, "
            "as-of date, seed and sampler settings); not fitting again. "
            "Use --force to fit again and replace it.",
            markup=False,
        )
        return EXIT_OK
    try:
        lock = _lock(run)
    except RunLocked as exc:
        _error("fit", str(exc))
        return EXIT_PROBLEM
    except OSError as exc:
        _error("fit", f"cannot make the run folder {run}: {exc.strerror or exc}")
        return EXIT_PROBLEM
    try:
        return _fit_into(args, model, sampler, out, run)
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        with contextlib.suppress(OSError):
            run.rmdir()  # only when the run left nothing in it


def _fit_into(
    args: argparse.Namespace,
    model: forecast.ScenarioModel,
    sampler: forecast.SamplerConfig,
    out: Path,
    run: Path,
) -> int:
    """Fit, print, and write the results into the (locked) run folder ``run``."""
    from forecast.plots import save_outcome_plots

    scenario, as_of = model.scenario, args.as_of
    console.print(
        f"Fitting {scenario.id} with evidence "
        f"{'as of ' + as_of.isoformat() if as_of else 'to date'} "
        f"({len(scenario.evidence_as_of(as_of))} of {len(scenario.evidence)} items); "
        + (
            f"{sampler.chains} chains x {sampler.draws} draws ({sampler.backend}), seed {args.seed}"
            if scenario.rules
            else "every rule has fixed probabilities: exact, nothing to sample"
        )
    )
    fit = model.fit(as_of=as_of, seed=args.seed, sampler=sampler, progressbar=not args.no_progress)
    _stop_if_interrupted()  # the sampler returned early: its draws are not the fit asked for
    idata = fit.idata
    diagnostics = fit.diagnostics(parameters=False)
    table = fit.forecast_table(diagnostics=diagnostics)
    shown = Table(
        title=f"{escape(scenario.spec.title)}: forecasts "
        f"({'as of ' + as_of.isoformat() if as_of else 'all evidence'})"
    )
    for column in ("question", "date", "prior", "posterior", "90% CI", "R-hat", "ESS", "resolved"):
        shown.add_column(column, justify="right" if column not in ("question",) else "left")
    for row in table.itertuples():
        shown.add_row(
            row.question,
            row.date,
            f"{row.prior_mean:.3f}",
            f"{row.posterior_mean:.3f}",
            f"[{row.ci90_low:.3f}, {row.ci90_high:.3f}]",
            "fixed" if row.constant else f"{row.r_hat:.3f}",
            "" if row.constant else f"{row.ess_bulk:.0f}",
            str(row.resolution),
        )
    if scenario.questions:
        console.print(shown)
    else:  # a network imported without questions, say: each node's last-month marginal
        _print_marginals(fit)
    style = "green" if diagnostics.ok else "bold yellow"
    console.print(f"[{style}]{diagnostics.summary_line()}[/]")
    for problem in diagnostics.problems:
        console.print(f"[bold yellow]WARNING:[/] {escape(problem)}")
    stem = f"{scenario.id}_{as_of.isoformat() if as_of else 'latest'}"
    nc_path = run / f"{stem}.nc"
    csv_path = run / f"{stem}_forecast.csv"
    writers: dict[Path, Callable[[Path], object]] = {
        nc_path: lambda tmp: idata.to_netcdf(str(tmp)),
        csv_path: lambda tmp: table.to_csv(tmp, index=False),
    }
    record = {
        "scenario": scenario.id,
        "scenario_hash": scenario.hash,
        "forecast_version": forecast.__version__,
        "as_of": as_of.isoformat() if as_of else None,
        "seed": args.seed,
        "sampler": dataclasses.asdict(sampler),
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        with _status(f"Writing results to {run}", args.no_progress):
            rendered = Path(tempfile.mkdtemp(dir=run, prefix=".plots.", suffix=TEMPORARY_MARK))
            try:
                # a PNG and a CSV of what it draws per outcome, and the overview of all
                overview = f"{stem}_outcomes"
                for path in save_outcome_plots(
                    idata, scenario, rendered, as_of=as_of, overview=overview
                ):
                    folder = run if path.stem == overview else run / f"{stem}_plots"
                    writers[folder / path.name] = _mover(path)
                files = list(writers)
                record["files"] = [str(path.relative_to(run)) for path in files]
                text = json.dumps(record, indent=2) + "\n"
                writers[run / RUN_RECORD] = lambda tmp: tmp.write_text(text, encoding="utf-8")
                _write(writers)  # the run record last: a run folder with it is complete
            finally:
                shutil.rmtree(rendered, ignore_errors=True)
    except OSError as exc:
        _error(
            "fit",
            f"cannot write the results to {run}: {exc.strerror or exc}; "
            "nothing was written there, an earlier result is unchanged",
        )
        return EXIT_PROBLEM
    console.print("Wrote:")
    for path in files:
        console.print(f"  {path}", markup=False)
    try:
        latest = _point_latest(out, run)
        console.print(f"{latest} points to {run.name}", markup=False)
    except OSError as exc:  # the results are whole; only the pointer to them is missing
        console.print(
            f"[bold yellow]WARNING:[/] cannot point {escape(str(out / LATEST))} at {run.name}: "
            f"{escape(exc.strerror or str(exc))}"
        )
    if args.strict and not diagnostics.ok:
        return EXIT_STRICT
    return EXIT_OK


def run_score(args: argparse.Namespace) -> int:
    """Forecast resolved questions as of a date (or at leads), score them, write the tables."""
    import pandas as pd

    if args.out is not None and (problem := _out_problem(args.out)):
        _error("score", problem)
        return EXIT_USAGE
    _quiet_libraries()
    model = _load(args.scenario)
    if model is None:
        return EXIT_USAGE
    scenario = model.scenario
    out = _default_out("score", args.out, Path("results") / scenario.id)
    if out is None:
        return EXIT_USAGE
    if args.as_of is not None and (warning := as_of_outside(scenario, args.as_of, "--as-of")):
        console.print(f"[bold yellow]WARNING:[/] {escape(warning)}")
    if args.questions is not None:
        try:
            questions = model.read_questions(args.questions)
        except ScenarioError as exc:
            console.print(f"[bold red]{escape(str(args.questions))} cannot be used as written[/]")
            for problem in exc.problems:
                console.print(f"  - {problem}", markup=False)
            return EXIT_USAGE
    else:
        questions = tuple(q for q in scenario.questions if q.resolution is not None)
        if not questions:
            console.print(
                f"[bold red]{escape(str(args.scenario))} has no resolved "
                "questions[/]: give a questions CSV (see forecast score --help)"
            )
            return EXIT_USAGE
    sampler = None
    if args.method == "nuts":
        sampler = forecast.SamplerConfig(
            draws=args.draws or settings.DRAWS,
            tune=args.tune,
            chains=args.chains,
            cores=args.cores,
        )
        with _status("Building the model", args.no_progress):
            model.fitter(sampler)  # its priors were elicited when the model was loaded
    replay = model.backtest(draws=args.draws, seed=args.seed, method=args.method, sampler=sampler)
    _stop_if_interrupted()
    source = args.questions or args.scenario
    how = (
        f"importance sampling of {replay.draws} prior draws"
        if args.method == "is"
        else f"NUTS with {args.chains} chains x {replay.draws // args.chains} draws"
    )
    if args.as_of is not None:
        as_of = args.as_of
        console.print(
            f"Scoring {len(questions)} resolved questions of {source} as of "
            f"{as_of.isoformat()} with {scenario.id}'s evidence known then "
            f"({len(scenario.evidence_as_of(as_of))} of {len(scenario.evidence)} items); "
            f"{how}, seed {args.seed}",
            markup=False,
        )
        runs = {f"as of {as_of.isoformat()}": {"as_of": as_of}}
    else:
        leads = list(dict.fromkeys(args.lead_months))
        console.print(
            f"Scoring {len(questions)} resolved questions of {source} at leads of "
            f"{', '.join(str(n) for n in leads)} months, each forecast with {scenario.id}'s "
            f"evidence known at the month end that many months before its date; {how}, "
            f"seed {args.seed}",
            markup=False,
        )
        runs = {f"{n} months ahead": {"lead_months": n} for n in leads}
    scored: dict[str, pd.DataFrame] = {}
    with _status("Forecasting and scoring", args.no_progress):
        for label, cutoff in runs.items():
            scored[label] = model.score(questions, backtest=replay, **cutoff)
            _stop_if_interrupted()
    for label, scores in scored.items():
        _print_scores(scenario, label, scores, with_cutoff=args.as_of is None)
    if any(not scores["open"].all() for scores in scored.values()):
        console.print(
            "Flags: passed = the question's date is on or before the cut-off; resolved = it "
            "resolved (resolved_on) by then; settled = the evidence known then fixes its "
            "answer. Such questions were decided already.",
            markup=False,
        )
    if args.as_of is not None:
        (scores,) = scored.values()
        summaries = _summaries(scores)
        for which, summary in summaries.items():
            label = "all questions" if which == "all" else "open questions only"
            _print_summary(f"Overall, {label} (skill = 1 - score / baseline score)", summary)
    else:
        summary = pd.concat(
            {
                (cutoff["lead_months"], which): part
                for label, cutoff in runs.items()
                for which, part in _summaries(scored[label]).items()
            },
            names=["lead_months", "questions", "forecaster"],
        )
        _print_summary(
            "Overall by lead (skill = 1 - score / baseline score; open = not decided by the "
            "cut-off)",
            summary,
            lead=True,
        )
    console.print(
        f"Log score: -ln(probability given to what happened), natural log, "
        f"forecasts clipped to [{settings.LOG_CLIP:g}, 1 - {settings.LOG_CLIP:g}].",
        markup=False,
    )
    if args.method == "is":
        for label, scores in scored.items():
            ess, k = float(scores["ess"].min()), float(scores["pareto_k"].max())
            style = "bold yellow" if k > settings.PARETO_K_MAX else "green"
            console.print(
                f"[{style}]importance sampling, {escape(label)}: least ESS {ess:.0f} of "
                f"{replay.draws} draws, largest Pareto k {k:.2f} (reliable up to "
                f"{settings.PARETO_K_MAX})[/]"
            )
    if args.as_of is not None:
        stem = f"{scenario.id}_{args.as_of.isoformat()}"
        (scores,) = scored.values()
        writers = {
            out / f"{stem}_scores.csv": lambda tmp: scores.to_csv(tmp, index=False),
            out / f"{stem}_score_summary.csv": summaries["all"].to_csv,
        }
    else:
        stem = f"{scenario.id}_leads"
        table = pd.concat(
            [scored[label].assign(lead_months=c["lead_months"]) for label, c in runs.items()]
        )
        writers = {
            out / f"{stem}_scores.csv": lambda tmp: table.to_csv(tmp, index=False),
            out / f"{stem}_score_summary.csv": summary.to_csv,
        }
    try:
        paths = _write(writers)
    except OSError as exc:
        _error(
            "score",
            f"cannot write the score tables to {out}: {exc.strerror or exc}; "
            "nothing was written, earlier tables are unchanged",
        )
        return EXIT_PROBLEM
    console.print("Wrote:")
    for path in paths:
        console.print(f"  {path}", markup=False)
    return 0


def _summaries(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Score summaries of all questions (``"all"``) and of the open ones (``"open"``).

    The open summary is left out when no question was decided by its cut-off.
    """
    out = {"all": forecast.score_summary(scores)}
    if not scores["open"].all():
        out["open"] = forecast.score_summary(scores, only_open=True)
    return out


def _print_scores(scenario: Any, label: str, scores: pd.DataFrame, with_cutoff: bool) -> None:
    """The per-question score table of one cut-off (or lead)."""
    shown = Table(
        title=f"{escape(scenario.spec.title)}: scores {escape(label)} "
        "(lower is better; always 50%: Brier 0.250, log 0.693)"
    )
    columns = [
        "question",
        "date",
        *(["as of"] if with_cutoff else []),
        "lead (days)",
        "outcome",
        "forecast",
        "90% CI",
        "prior",
        "Brier",
        "Brier prior",
        "log",
        "log prior",
        "flags",
    ]
    for column in columns:
        shown.add_column(column, justify="left" if column in ("question", "flags") else "right")
    for row in scores.itertuples():
        flags = [
            name
            for name, on in (
                ("passed", row.date_passed),
                ("resolved", row.resolved_before),
                ("settled", row.settled_by_evidence),
            )
            if on
        ]
        shown.add_row(
            escape(row.question),
            row.date.isoformat(),
            *([str(row.as_of)[:10]] if with_cutoff else []),
            str(row.lead_days),
            str(row.outcome),
            f"{row.forecast:.3f}",
            f"[{row.low90:.3f}, {row.high90:.3f}]",
            f"{row.prior:.3f}",
            f"{row.brier:.3f}",
            f"{row.brier_prior:.3f}",
            f"{row.log:.3f}",
            f"{row.log_prior:.3f}",
            ", ".join(flags),
        )
    console.print(shown)


def _print_summary(title: str, summary: pd.DataFrame, lead: bool = False) -> None:
    """A score summary: one row per forecaster (and lead and question set, when ``lead``)."""
    table = Table(title=title)
    for column in (
        *(["lead (months)", "questions"] if lead else []),
        "forecaster",
        "n",
        "Brier",
        "log",
        "Brier skill vs 50%",
        "Brier skill vs prior",
        "log skill vs 50%",
        "log skill vs prior",
    ):
        table.add_column(column, justify="left" if column == "forecaster" else "right")
    for key, row in summary.iterrows():
        names = [str(k) for k in key] if lead else [str(key)]
        table.add_row(
            *(escape(n) for n in names),
            str(int(row["n"])),
            *(
                f"{row[c]:.3f}"
                for c in (
                    "brier",
                    "log",
                    "brier_skill_vs_50",
                    "brier_skill_vs_prior",
                    "log_skill_vs_50",
                    "log_skill_vs_prior",
                )
            ),
        )
    console.print(table)


def run_sbc(args: argparse.Namespace) -> int:
    """Simulation-based calibration of a scenario's fit, on Dask; exit 1 when it fails."""
    if args.out is not None and (problem := _out_problem(args.out)):
        _error("sbc", problem)
        return EXIT_USAGE
    _quiet_libraries()
    with _status("Checking the scenario and eliciting its priors", args.no_progress):
        model = _load(args.scenario)
    if model is None:
        return EXIT_USAGE
    out = _default_out(
        "sbc", args.out, Path("results") / model.scenario.id / f"sbc_n{args.n}_seed{args.seed}"
    )
    if out is None:
        return EXIT_USAGE
    try:
        result = forecast.sbc(
            model,
            n=args.n,
            seed=args.seed,
            draws=args.draws,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.no_progress,
            out=out,
        )
    except (ValueError, TypeError, OSError) as exc:
        _error("sbc", str(exc))
        return EXIT_USAGE
    table = result.tests
    failing = table[~table["passed"]] if "passed" in table else table.iloc[:0]
    for _, row in failing.iterrows():
        console.print(
            f"  not uniform: {row.iloc[0]} (chi-square p {row['chi2_p']:.4f})", markup=False
        )
    console.print(result.summary_line(), markup=False)
    console.print(f"Ranks, tests and rank histograms in {_shown_path(out)}", markup=False)
    if result.interrupted:
        raise KeyboardInterrupt
    return EXIT_OK if result.passed else EXIT_PROBLEM


def _print_marginals(fit: forecast.Fit) -> None:
    """Each node's posterior state probabilities in the last month, for a fit without questions."""
    scenario = fit.scenario
    month = scenario.timeline.month_label(scenario.timeline.n_steps - 1)
    console.print(
        f"{scenario.spec.title}: no questions; each node's state probabilities in {month}",
        markup=False,
    )
    shown = Table(box=None)
    shown.add_column("node", no_wrap=True)
    shown.add_column("state probabilities (posterior mean)")
    posterior = fit.idata[fit.group]
    for node in scenario.nodes:
        values = posterior[f"p_{node.name}"].isel(month=-1).mean(("chain", "draw")).values
        text = ", ".join(f"{s} {v:.3f}" for s, v in zip(node.states, values, strict=True))
        shown.add_row(escape(node.name), escape(text))
    console.print(shown)


def run_import(args: argparse.Namespace) -> int:
    """Write a Bayesian-network file as a scenario and check it as ``forecast check`` would."""
    from forecast.scenario import scenario_from_dict
    from forecast.scenario.networks import network_scenario, scenario_yaml

    out = args.out or Path(args.network.name.split(".")[0] + ".yaml")
    if out.exists() and not args.force:
        _error("import", f"{out} exists: give another --out, or --force to overwrite it")
        return EXIT_USAGE
    if problem := _out_problem(out.parent if str(out.parent) else Path(".")):
        _error("import", problem)
        return EXIT_USAGE
    try:
        found = network_scenario(args.network, start=args.start)
        scenario_from_dict(found.scenario, name=str(out), folder=out.parent)
        header = f"imported by forecast import from {args.network.name}"
        text = scenario_yaml(found.scenario, header, args.network)
    except ScenarioError as exc:
        console.print(f"[bold red]{escape(str(args.network))} cannot be imported[/]")
        for problem in exc.problems:
            console.print(f"  - {problem}", markup=False)
        return EXIT_USAGE
    write_atomically({out: lambda tmp: tmp.write_text(text, encoding="utf-8")})
    nodes = found.scenario["nodes"]
    console.print(
        f"Wrote {_shown_path(out)}: {len(nodes)} nodes, "
        f"{sum(len(n['cpt']['rows']) for n in nodes.values())} table rows, one month "
        f"({args.start})",
        markup=False,
    )
    if found.renamed:
        shown = ", ".join(f"{a} -> {b}" for a, b in list(found.renamed.items())[:6])
        more = f" and {len(found.renamed) - 6} more" if len(found.renamed) > 6 else ""
        console.print(f"Renamed to valid names: {shown}{more}", markup=False)
    if found.normalised:
        worst = max(found.normalised.values())
        console.print(
            f"Normalised the table columns of {len(found.normalised)} node(s) that added up "
            f"to 1 within {worst:.1e}",
            markup=False,
        )
    console.print(f"Next: forecast check {_shown_path(out)}", markup=False)
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    """Write a scenario (prior means, or a fit's posterior means) as a network file."""
    from forecast.engine.export import write_network

    _quiet_libraries()
    model = _load(args.scenario)
    if model is None:
        return EXIT_USAGE
    out = args.out or Path(model.scenario.id + FORMATS[args.to])
    if out.suffix != FORMATS[args.to]:
        _error("export", f"--out {out} must end in {FORMATS[args.to]} for --to {args.to}")
        return EXIT_USAGE
    if out.exists() and not args.force:
        _error("export", f"{out} exists: give another --out, or --force to overwrite it")
        return EXIT_USAGE
    try:
        if args.fit is not None:
            try:
                fit = forecast.Fit.load(args.fit, model)
            except (FileNotFoundError, forecast.DifferentModelError) as exc:
                _error("export", f"--fit {args.fit}: {exc}")
                return EXIT_USAGE
            network, what = fit.network(args.months), f"the posterior means of {args.fit.name}"
        else:
            network, what = model.network(args.months), "their prior means"
    except ValueError as exc:  # a scenario no network file can state
        _error("export", f"{args.scenario}: {exc}")
        return EXIT_USAGE
    write_atomically({out: lambda tmp: write_network(network, tmp)})
    console.print(
        f"Wrote {_shown_path(out)}: {network.size()} variables, {network.sizeArcs()} arcs, "
        f"rules at {what}",
        markup=False,
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``forecast`` console script.

    Exit status: 0 done, 1 a problem writing the results (or a run folder locked by another
    fit), 2 bad input or arguments, 3 ``fit --strict`` with a failed convergence check, 130
    interrupted (Ctrl-C: one line on stderr, no traceback; no file is ever left half written).
    """
    _written.clear()
    try:
        with _noting_interrupts():
            args = _parser().parse_args(argv)
            if args.command == "check":
                return run_check(args.scenario)
            if args.command == "score":
                return run_score(args)
            if args.command == "sbc":
                return run_sbc(args)
            if args.command == "import":
                return run_import(args)
            if args.command == "export":
                return run_export(args)
            return run_fit(args)
    except KeyboardInterrupt:
        kept = ", ".join(str(path) for path in _written)
        sys.stderr.write(f"interrupted; {'kept: ' + kept if kept else 'nothing written'}\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
