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

from forecast.errors import ScenarioError
from forecast.spec import Scenario, load_scenario

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
    fit.add_argument("--as-of", type=_date, default=None,
                     help="use only evidence known on or before this date (YYYY-MM-DD)")
    fit.add_argument("--seed", type=int, default=20240930)
    fit.add_argument("--out", type=Path, default=None,
                     help="folder for the results (default results/<scenario id>)")
    fit.add_argument("--draws", type=int, default=1000)
    fit.add_argument("--tune", type=int, default=1000)
    fit.add_argument("--chains", type=int, default=2)
    fit.add_argument("--cores", type=int, default=2)
    fit.add_argument("--strict", action="store_true",
                     help="exit with status 3 when a convergence check fails")
    fit.add_argument("--no-progress", action="store_true", help="no progress bar")
    check = sub.add_parser("check", help="validate a scenario and explain it")
    check.add_argument("scenario", type=Path)
    return parser


def _quiet_libraries() -> None:
    for name in ("pymc", "pytensor", "arviz", "numba", "preliz"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)


def _status(message: str, quiet: bool) -> contextlib.AbstractContextManager:
    """A spinner for a phase of the command (nothing when progress display is off)."""
    return contextlib.nullcontext() if quiet else console.status(escape(message) + " ...")


def _load(path: Path) -> Scenario | None:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        console.print(f"[bold red]{escape(str(path))} cannot be used as written[/]")
        for problem in exc.problems:
            console.print(f"  - {problem}", markup=False)
        return None


def run_check(path: Path) -> int:
    """Validate a scenario and explain its structure, priors and evidence."""
    scenario = _load(path)
    if scenario is None:
        return 2
    _quiet_libraries()
    from forecast.elicitation import elicit

    priors = elicit(scenario)
    tl = scenario.timeline
    console.print(f"[bold]{escape(scenario.spec.title)}[/] ({scenario.id}) is valid.")
    console.print(f"Months {tl.month_label(0)} to {tl.month_label(tl.n_steps - 1)} "
                  f"({tl.n_steps} steps); priors set on {scenario.spec.priors_set_on}.")
    joint = 1
    for node in scenario.nodes:
        joint *= node.n_states
    console.print(f"{len(scenario.nodes)} nodes ({joint} joint states), "
                  f"{len(scenario.rules)} rule parameters, {len(scenario.evidence)} evidence "
                  f"items, {len(scenario.questions)} questions.")
    table = Table(title="Rules: stated judgement and fitted prior")
    for column in ("rule", "N months", "destination", r"stated best \[interval] @cred",
                   "prior mean", "mass in interval"):
        table.add_column(column)
    for rule, prior in zip(scenario.rules, priors.rules, strict=True):
        label = rule.describe()
        if prior.stated:
            for s in prior.stated:
                stated = (f"{s.best:g} [{s.interval[0]:g}, {s.interval[1]:g}] "
                          f"@{s.credibility:g}" if s.interval else "beta parameters")
                mass = f"{s.fitted_mass:.2f}" if s.fitted_mass is not None else ""
                table.add_row(label, str(rule.within_months), s.destination, stated,
                              f"{s.fitted_mean:.3f}", mass)
                label = ""
        else:
            table.add_row(label, str(rule.within_months), ", ".join(rule.destinations),
                          "dirichlet " + " ".join(f"{a:g}" for a in prior.alpha),
                          " ".join(f"{m:.3f}" for m in prior.mean[1:]), "")
        if prior.counts is not None:
            ref = rule.reference_class
            table.add_row("", "", "reference class",
                          f"{ref.n - int(prior.counts[0])} of {ref.n} cases", "", "")
    console.print(table)
    by_node: dict[str, int] = {}
    for item in scenario.evidence:
        by_node[item.node] = by_node.get(item.node, 0) + 1
    console.print("Evidence per node: " + ", ".join(
        f"{n.name} {by_node.get(n.name, 0)}" for n in scenario.nodes))
    return 0


def run_fit(args: argparse.Namespace) -> int:
    """Fit a scenario, print the forecast table and diagnostics, and write the results."""
    scenario = _load(args.scenario)
    if scenario is None:
        return 2
    _quiet_libraries()
    from forecast.analysis.tables import forecast_table
    from forecast.plots import save_outcome_plots
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter, diagnose

    sampler = SamplerConfig(draws=args.draws, tune=args.tune, chains=args.chains,
                            cores=args.cores)
    as_of = args.as_of
    console.print(f"Fitting {scenario.id} with evidence "
                  f"{'as of ' + as_of.isoformat() if as_of else 'to date'} "
                  f"({len(scenario.evidence_as_of(as_of))} of {len(scenario.evidence)} items); "
                  f"{sampler.chains} chains x {sampler.draws} draws, seed {args.seed}")
    with _status("Eliciting priors and building the model", args.no_progress):
        fitter = ScenarioFitter(scenario, sampler=sampler)
    idata = fitter.fit(as_of=as_of, seed=args.seed, progressbar=not args.no_progress)
    diagnostics = diagnose(idata, ["question_prob"])
    table = forecast_table(idata, scenario, diagnostics.table)
    shown = Table(title=f"{escape(scenario.spec.title)}: forecasts "
                        f"({'as of ' + as_of.isoformat() if as_of else 'all evidence'})")
    for column in ("question", "date", "prior", "posterior", "90% CI", "R-hat", "ESS",
                   "resolved"):
        shown.add_column(column, justify="right" if column not in ("question",) else "left")
    for row in table.itertuples():
        shown.add_row(row.question, row.date, f"{row.prior_mean:.3f}",
                      f"{row.posterior_mean:.3f}", f"[{row.ci90_low:.3f}, {row.ci90_high:.3f}]",
                      "fixed" if row.constant else f"{row.r_hat:.3f}",
                      "" if row.constant else f"{row.ess_bulk:.0f}", str(row.resolution))
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``forecast`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        return run_check(args.scenario)
    return run_fit(args)


if __name__ == "__main__":
    sys.exit(main())
