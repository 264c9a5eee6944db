"""The ``forecast`` command: ``fit`` a scenario and print its forecast table, or ``check`` it."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import forecast
from forecast import ScenarioError, settings

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; use YYYY-MM-DD") from None


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
    fit.add_argument("--seed", type=int, default=settings.DEFAULT_SEED)
    fit.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the results (default results/<scenario id>)",
    )
    fit.add_argument("--draws", type=int, default=settings.DRAWS)
    fit.add_argument("--tune", type=int, default=settings.TUNE)
    fit.add_argument("--chains", type=int, default=settings.CHAINS)
    fit.add_argument("--cores", type=int, default=settings.CORES)
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
    score.add_argument(
        "--as-of",
        type=_date,
        required=True,
        help="forecast with the evidence known on or before this date (YYYY-MM-DD)",
    )
    score.add_argument(
        "--method",
        choices=["is", "nuts"],
        default="is",
        help="importance sampling of prior draws (default) or a NUTS fit",
    )
    score.add_argument(
        "--draws",
        type=_positive,
        default=None,
        help="prior draws (is, default 4000) or NUTS draws per chain (nuts, default 1000)",
    )
    score.add_argument("--tune", type=_positive, default=settings.TUNE, help="NUTS tuning steps")
    score.add_argument("--chains", type=_positive, default=settings.CHAINS, help="NUTS chains")
    score.add_argument("--cores", type=_positive, default=settings.CORES, help="NUTS cores")
    score.add_argument("--seed", type=int, default=settings.DEFAULT_SEED)
    score.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the score tables (default results/<scenario id>)",
    )
    score.add_argument("--no-progress", action="store_true", help="no progress display")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def _quiet_libraries() -> None:
    for name in ("pymc", "pytensor", "arviz", "numba", "preliz"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)


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
        for rule in node.rules:
            table.add_row(escape(rule.id), escape(rule.describe()))
    console.print(table)


def run_check(path: Path) -> int:
    """Validate a scenario and explain its structure, priors and evidence."""
    _quiet_libraries()
    model = _load(path)
    if model is None:
        return 2
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
        joint *= node.n_states
    console.print(
        f"{len(scenario.nodes)} nodes ({joint} joint states), "
        f"{len(scenario.rules)} rule parameters, {len(scenario.evidence)} evidence "
        f"items, {len(scenario.questions)} questions."
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
    """Fit a scenario, print the forecast table and diagnostics, and write the results."""
    _quiet_libraries()
    sampler = forecast.SamplerConfig(
        draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores, backend=args.sampler
    )
    with _status("Checking the scenario and building the model", args.no_progress):
        model = _load(args.scenario, sampler)
    if model is None:
        return 2
    scenario = model.scenario
    from forecast.plots import save_outcome_plots

    as_of = args.as_of
    console.print(
        f"Fitting {scenario.id} with evidence "
        f"{'as of ' + as_of.isoformat() if as_of else 'to date'} "
        f"({len(scenario.evidence_as_of(as_of))} of {len(scenario.evidence)} items); "
        f"{sampler.chains} chains x {sampler.draws} draws ({sampler.backend}), "
        f"seed {args.seed}"
    )
    fit = model.fit(as_of=as_of, seed=args.seed, sampler=sampler, progressbar=not args.no_progress)
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
    console.print(shown)
    style = "green" if diagnostics.ok else "bold yellow"
    console.print(f"[{style}]{diagnostics.summary_line()}[/]")
    for problem in diagnostics.problems:
        console.print(f"[bold yellow]WARNING:[/] {escape(problem)}")
    out = args.out or Path("results") / scenario.id
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{scenario.id}_{as_of.isoformat() if as_of else 'latest'}"
    nc_path = out / f"{stem}.nc"
    csv_path = out / f"{stem}_forecast.csv"
    with _status(f"Writing results to {out}", args.no_progress):
        idata.to_netcdf(nc_path)
        table.to_csv(csv_path, index=False)
        pngs = save_outcome_plots(idata, scenario, out / f"{stem}_plots", as_of=as_of)
    console.print("Wrote:")
    for path in [nc_path, csv_path, *pngs]:
        console.print(f"  {path}", markup=False)
    if args.strict and not diagnostics.ok:
        return 3
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Forecast resolved questions as of a date, score them and write the score tables."""
    _quiet_libraries()
    model = _load(args.scenario)
    if model is None:
        return 2
    scenario = model.scenario
    if args.questions is not None:
        try:
            questions = model.read_questions(args.questions)
        except ScenarioError as exc:
            console.print(f"[bold red]{escape(str(args.questions))} cannot be used as written[/]")
            for problem in exc.problems:
                console.print(f"  - {problem}", markup=False)
            return 2
    else:
        questions = tuple(q for q in scenario.questions if q.resolution is not None)
        if not questions:
            console.print(
                f"[bold red]{escape(str(args.scenario))} has no resolved "
                "questions[/]: give a questions CSV (see forecast score --help)"
            )
            return 2
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
    as_of = args.as_of
    source = args.questions or args.scenario
    how = (
        f"importance sampling of {replay.draws} prior draws"
        if args.method == "is"
        else f"NUTS with {args.chains} chains x {replay.draws // args.chains} draws"
    )
    console.print(
        f"Scoring {len(questions)} resolved questions of {source} as of "
        f"{as_of.isoformat()} with {scenario.id}'s evidence known then "
        f"({len(scenario.evidence_as_of(as_of))} of {len(scenario.evidence)} items); "
        f"{how}, seed {args.seed}",
        markup=False,
    )
    with _status("Forecasting and scoring", args.no_progress):
        scores = model.score(questions, as_of=as_of, backtest=replay)
    shown = Table(
        title=f"{escape(scenario.spec.title)}: scores as of {as_of.isoformat()} "
        "(lower is better; always 50%: Brier 0.250, log 0.693)"
    )
    for column in (
        "question",
        "date",
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
    ):
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
    if not scores["open"].all():
        console.print(
            "Flags: passed = the question's date is on or before the as-of date; "
            "resolved = it resolved (resolved_on) by then; settled = the evidence "
            "known then fixes its answer. Such questions were decided already.",
            markup=False,
        )
    summaries = {"all questions": forecast.score_summary(scores)}
    if not scores["open"].all():
        summaries["open questions only"] = forecast.score_summary(scores, only_open=True)
    for label, summary in summaries.items():
        table = Table(title=f"Overall, {label} (skill = 1 - score / baseline score)")
        for column in (
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
        for name, row in summary.iterrows():
            table.add_row(
                escape(str(name)),
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
    console.print(
        f"Log score: -ln(probability given to what happened), natural log, "
        f"forecasts clipped to [{settings.LOG_CLIP:g}, 1 - {settings.LOG_CLIP:g}].",
        markup=False,
    )
    if args.method == "is":
        ess, k = float(scores["ess"].iloc[0]), float(scores["pareto_k"].iloc[0])
        style = "bold yellow" if k > settings.PARETO_K_MAX else "green"
        console.print(
            f"[{style}]importance sampling: ESS {ess:.0f} of {replay.draws} draws, "
            f"Pareto k {k:.2f} (reliable up to {settings.PARETO_K_MAX})[/]"
        )
    out = args.out or Path("results") / scenario.id
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{scenario.id}_{as_of.isoformat()}"
    paths = [out / f"{stem}_scores.csv", out / f"{stem}_score_summary.csv"]
    scores.to_csv(paths[0], index=False)
    summaries["all questions"].to_csv(paths[1])
    console.print("Wrote:")
    for path in paths:
        console.print(f"  {path}", markup=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``forecast`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        return run_check(args.scenario)
    if args.command == "score":
        return run_score(args)
    return run_fit(args)


if __name__ == "__main__":
    sys.exit(main())
