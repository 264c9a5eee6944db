"""Fit-time and sampling-efficiency benchmark of the Kursk scenario (prints figures only).

Run from the repository root::

    .venv/bin/python benchmarks/bench_fit.py            # full run (default sampler settings)
    .venv/bin/python benchmarks/bench_fit.py --quick    # smoke run: few draws, short baseline

Every figure is measured in a fresh subprocess ("worker") of this same script, one after the
other (never two at once: they would compete for the cores), in one invocation:

1. cold fit: empty PyTensor compile cache (``PYTENSOR_FLAGS=...,compiledir=<new dir>``),
   empty numba cache (``NUMBA_CACHE_DIR=<new dir>``) and empty result cache
   (``FORECAST_CACHE_DIR=<new dir>``); process start -> end of the first fit; the median of
   ``--cold-runs`` runs (default 3), each with fresh empty caches; and (1b) the
   first fit after installing: the same, except that numba's cache was primed by
   ``python -m forecast.warmup`` as ``make setup`` does,
   split into interpreter start + imports, load (``forecast.ScenarioModel.from_file``, which
   checks the file and elicits the priors), build (``model.fitter(sampler)``, the compiled
   density) and first fit (``model.fit(seed=..., sampler=...)``);
2. warm fit: default caches (primed first by a tiny fit): load + build + first fit, then a
   second ``model.fit`` in the same process (already compiled);
3. re-fit after a prior edit: ``fit.refit(model.with_parameters(rule, beta=...))``, the edit
   multiplying the rule's parameters by ``--edit-scale`` (same mean), which re-weights the
   fit (PSIS) when the Pareto k allows and runs NUTS otherwise; and for reference a full NUTS
   re-fit (``edited.fit(...)``), with a programmatic check that the density was built once
   (``model.machinery.compiles == 1``);
4. ESS per second: minimum bulk ESS over the non-constant ``question_prob`` entries divided
   by the wall time of the (compiled) fit;
5. the same scenario as a naive PyMC model that samples every discrete state
   (``benchmarks/naive_model.py``), against the exact model, both on the same (possibly
   truncated) scenario with the same sampler settings: ESS/s of the rule parameters and of a
   question indicator, and the ratio exact/naive.

The workers use the front door (``forecast.ScenarioModel``, ``forecast.Fit``) as a user
would; only the naive model's worker calls PyMC directly. Timing is never asserted; only
``compiles == 1`` is (after the table is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "kursk_2024.yaml"
FULL_MONTHS = 28

# targets (printed next to the figures, never asserted)
TARGET_COLD_S = 10.0
TARGET_WARM_S = 2.0
TARGET_REFIT_S = 0.5
TARGET_RATIO = 100.0

EXACT_REPEATS = 5
"""Timed fits of the exact model in the naive comparison (the median is used)."""

# question whose indicator ESS is compared, in order of preference: the first one that the
# evidence does not fix in the compared scenario ({h} = its horizon, YYYY_MM)
INDICATOR_PREFERENCE = (
    "ceasefire_by_{h}",
    "land_for_land_by_{h}",
    "mediation_by_{h}",
    "partners_by_{h}",
    "occupation_lost_by_{h}",
)


# --------------------------------------------------------------------------------------------
# workers (run in subprocesses)
# --------------------------------------------------------------------------------------------


def _sampler(args) -> dict:
    """The sampler settings, as a user hands them to ``model.fit(sampler=...)``."""
    return {
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "cores": args.cores,
        "backend": args.sampler,
    }


def _ess_report(fit) -> dict:
    """Per-question bulk ESS (None when fixed by the evidence), means, rule-parameter ESS."""
    import numpy as np

    diagnostics = fit.diagnostics()
    table = diagnostics.table.set_index("quantity")
    posterior = fit.idata.posterior["question_prob"]
    labels = {q.id: f"question_prob[{q.id}]" for q in fit.scenario.questions}
    questions = {}
    for qid, label in labels.items():
        row = table.loc[label]
        questions[qid] = {
            "constant": bool(row["constant"]),
            "ess_bulk": None if row["constant"] else float(row["ess_bulk"]),
            "mean": float(posterior.sel(question=qid).mean()),
            "sd": float(posterior.sel(question=qid).std()),
        }
    rules = table.drop(index=list(labels.values()))
    free = rules[~rules["constant"].astype(bool)]
    ess = [v["ess_bulk"] for v in questions.values() if not v["constant"]]
    return {
        "questions": questions,
        "min_ess_question": float(min(ess)) if ess else float("nan"),
        "min_ess_rules": float(np.nanmin(free["ess_bulk"])) if len(free) else float("nan"),
        "divergences": int(diagnostics.divergences),
    }


def _edit(model, rule: str, scale: float):
    """The model with ``rule``'s prior parameters multiplied by ``scale`` (same mean).

    As a user states it: ``beta: [alpha, beta]`` for a rule with one destination (alpha is
    the destination's, beta staying's), plain Dirichlet parameters otherwise.
    """
    prior = model.priors[rule]
    scaled = dict(zip(prior.labels, (float(a) * scale for a in prior.alpha), strict=True))
    if len(scaled) == 2 and "stay" in scaled:
        (destination,) = (label for label in scaled if label != "stay")
        return model.with_parameters(rule, beta=(scaled[destination], scaled["stay"]))
    return model.with_parameters(rule, dirichlet=scaled)


def worker_fit(args) -> dict:
    """Cold or warm process: imports, load, build, fit (+ second fit and re-fit when warm)."""
    t_spawn = args.t_spawn
    import numpy as np  # noqa: F401  (part of the import time, as in the CLI)

    import forecast

    sampler = _sampler(args)
    t_import = time.time()
    model = forecast.ScenarioModel.from_file(SCENARIO)  # checks the file, elicits the priors
    t_load = time.time()
    model.fitter(sampler)  # builds the compiled density (what model.fit would do first)
    t_build = time.time()
    fit = model.fit(seed=args.seed, sampler=sampler)
    t_fit = time.time()
    out = {
        "import_s": t_import - t_spawn,
        "load_s": t_load - t_import,
        "build_s": t_build - t_load,
        "fit1_s": t_fit - t_build,
        "total_s": t_fit - t_spawn,
        "compiles_after_fit1": model.machinery.compiles,
        "fit1": _ess_report(fit),
    }
    if args.worker == "prime":
        return out
    if args.worker == "warm":
        t0 = time.time()
        fit = model.fit(seed=args.seed + 1, sampler=sampler)
        out["fit2_s"] = time.time() - t0
        out["fit2"] = _ess_report(fit)

        rule = args.edit_rule
        edited = _edit(model, rule, args.edit_scale)
        t0 = time.time()
        updated = fit.refit(edited)
        out["update_s"] = time.time() - t0
        out["update"] = {
            "method": updated.method,
            "pareto_k": updated.reweighting["pareto_k"],
            "ess": updated.reweighting["ess"],
            "posterior_mean": _rule_mean(updated, rule),
        }
        t0 = time.time()
        refit = edited.fit(seed=args.seed + 2, sampler=sampler)
        out["refit_s"] = time.time() - t0
        out["refit"] = _ess_report(refit)
        out["edit"] = {
            "rule": rule,
            "old_alpha": model.priors[rule].alpha.tolist(),
            "new_alpha": edited.priors[rule].alpha.tolist(),
            "posterior_mean": _rule_mean(refit, rule),
        }
        out["compiles"] = model.machinery.compiles
    return out


def _rule_mean(fit, rule: str) -> list[float]:
    import numpy as np

    values = fit.idata.posterior[rule].mean(("chain", "draw")).values
    return np.atleast_1d(values).tolist()


def worker_exact_compare(args) -> dict:
    """The exact model on the compared (possibly truncated) scenario, compiled fits timed."""
    import numpy as np

    import forecast

    sys.path.insert(0, str(ROOT))
    from benchmarks.naive_model import truncate_scenario

    model = forecast.ScenarioModel(truncate_scenario(forecast.load_scenario(SCENARIO), args.months))
    sampler = _sampler(args)
    t0 = time.time()
    # builds the density and runs every compiled path once (another seed: its own prior draws)
    model.fit(seed=args.seed + 1, sampler=sampler)
    warmup = time.time() - t0
    # the prior predictive (a fit's ``prior`` group), which the naive model does not compute:
    # done before the timed fits, which share it, as any re-fit of the same priors does
    t0 = time.time()
    model.prior_predictive(seed=args.seed, sampler=sampler)
    prior_s = time.time() - t0
    # a fit of the small scenario takes a few tenths of a second: the median of several with
    # the same seed (the same draws, so the same ESS) steadies the time against other load
    times = []
    for _ in range(EXACT_REPEATS):
        t0 = time.time()
        fit = model.fit(seed=args.seed, sampler=sampler)
        times.append(time.time() - t0)
    return {
        "months": model.scenario.timeline.n_steps,
        "fit_s": float(np.median(times)),
        "fit_all_s": times,
        "prior_s": prior_s,
        "warmup_s": warmup,
        "compiles": model.machinery.compiles,
        **_ess_report(fit),
    }


def worker_naive(args) -> dict:
    """The naive (state-sampling) model: build, compile the default steps, sample."""
    import logging

    import arviz as az
    import numpy as np
    import pymc as pm
    import xarray as xr
    from pymc.sampling.mcmc import assign_step_methods, instantiate_steppers

    import forecast

    sys.path.insert(0, str(ROOT))
    from benchmarks.naive_model import (
        build_naive_model,
        question_indicators,
        state_paths,
        truncate_scenario,
    )

    logging.getLogger("pymc").setLevel(logging.INFO)
    scenario = truncate_scenario(forecast.load_scenario(SCENARIO), args.months)
    exact = forecast.ScenarioModel(scenario)  # the same priors as the exact model's
    t0 = time.time()
    naive = build_naive_model(scenario, exact.priors)
    naive.model.check_bounds = not args.naive_no_checks
    build_s = time.time() - t0
    t0 = time.time()
    model = naive.model
    with model:
        provided, selected = assign_step_methods(model)
        step = instantiate_steppers(
            model, provided, selected, step_kwargs={"nuts": {"target_accept": args.target_accept}}
        )
    compile_s = time.time() - t0
    # PyMC returns a list of steps (or a CompoundStep) when several step methods are needed
    if isinstance(step, list):
        steps = step
    else:
        steps = step.methods if hasattr(step, "methods") else [step]
    step_names = {type(s).__name__: len(s.vars) for s in steps}

    # cost of one log-density evaluation (what each Gibbs update pays), timed on the compiled
    # function of a Gibbs step (no extra compilation)
    from pymc.blocking import DictToArrayBijection

    point = model.initial_point()
    gibbs = next((s for s in steps if "Gibbs" in type(s).__name__), None)
    logp_us = float("nan")
    if gibbs is not None:
        fn = DictToArrayBijection.mapf(gibbs.fs[0], start_point=point)
        q = DictToArrayBijection.map({v.name: point[v.name] for v in gibbs.vars})
        fn(q)
        t = time.perf_counter()
        for _ in range(200):
            fn(q)
        logp_us = (time.perf_counter() - t) / 200 * 1e6

    t0 = time.time()
    idata = pm.sample(
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        cores=args.cores,
        random_seed=args.seed,
        step=step,
        model=model,
        progressbar=False,
        compute_convergence_checks=False,
    )
    sample_s = time.time() - t0
    t0 = time.time()
    paths = state_paths(naive, scenario, idata.posterior)
    indicators = question_indicators(scenario, paths)
    post_s = time.time() - t0

    ds = xr.Dataset({k: (("chain", "draw"), v) for k, v in indicators.items()})
    ess_ind = az.ess(ds, method="bulk")
    questions = {}
    for q in scenario.questions:
        values = indicators[q.id]
        constant = bool(values.max() == values.min())
        questions[q.id] = {
            "constant": constant,
            "mean": float(values.mean()),
            "sd": float(values.std()),
            "ess_bulk": None if constant else float(ess_ind[q.id]),
        }
    rule_names = list(exact.rules)
    ess_rules = az.ess(idata, var_names=rule_names, method="bulk")
    rule_min = float(
        np.nanmin(np.concatenate([np.atleast_1d(ess_rules[n].values).ravel() for n in rule_names]))
    )
    divergences = (
        int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    )
    return {
        "months": scenario.timeline.n_steps,
        "build_s": build_s,
        "compile_s": compile_s,
        "sample_s": sample_s,
        "post_s": post_s,
        "logp_us": logp_us,
        "free_discrete": naive.n_free_discrete,
        "observed": naive.n_observed,
        "steps": step_names,
        "questions": questions,
        "min_ess_rules": rule_min,
        "divergences": divergences,
        "check_bounds": bool(model.check_bounds),
    }


WORKERS = {
    "cold": worker_fit,
    "warm": worker_fit,
    "prime": worker_fit,
    "installed": worker_fit,
    "exact_compare": worker_exact_compare,
    "naive": worker_naive,
}


# --------------------------------------------------------------------------------------------
# orchestration (parent process)
# --------------------------------------------------------------------------------------------


def run_worker(
    name: str,
    args,
    logdir: Path,
    extra_env: dict | None = None,
    extra_args: list[str] | None = None,
) -> dict:
    """Run one worker in a fresh process; return its JSON result (and the spawn time)."""
    result = logdir / f"{name}.json"
    log = logdir / f"{name}.log"
    env = dict(os.environ)
    env.update(extra_env or {})
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--result",
        str(result),
        *common_args(args),
        *(extra_args or []),
    ]
    print(f"[bench] {name}: running ... (log: {log})", flush=True)
    t_spawn = time.time()
    with open(log, "w") as fh:
        proc = subprocess.run(
            [*cmd, "--t-spawn", repr(t_spawn)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    wall = time.time() - t_spawn
    if proc.returncode != 0:
        print(f"[bench] {name} FAILED (exit {proc.returncode}); last lines of its log:")
        print("".join(log.read_text().splitlines(keepends=True)[-40:]))
        raise SystemExit(2)
    data = json.loads(result.read_text())
    data["process_wall_s"] = wall
    print(f"[bench] {name}: done in {wall:.1f} s", flush=True)
    return data


def common_args(args) -> list[str]:
    return [
        "--draws",
        str(args.draws),
        "--tune",
        str(args.tune),
        "--chains",
        str(args.chains),
        "--cores",
        str(args.cores),
        "--seed",
        str(args.seed),
        "--sampler",
        args.sampler,
        "--edit-rule",
        args.edit_rule,
        "--edit-scale",
        str(args.edit_scale),
        "--months",
        str(args.months),
        "--target-accept",
        str(args.target_accept),
        *(["--naive-no-checks"] if args.naive_no_checks else []),
    ]


def horizon_tag(months: int) -> str:
    """``YYYY_MM`` of the last month of the scenario cut to ``months`` (start 2024-09)."""
    last = 2024 * 12 + 8 + months - 1
    return f"{last // 12}_{last % 12 + 1:02d}"


def pick_indicator(exact: dict, naive: dict, months: int) -> str | None:
    """The first preferred question that neither model finds fixed."""
    tag = horizon_tag(months)
    candidates = [p.format(h=tag) for p in INDICATOR_PREFERENCE]
    candidates += list(exact["questions"])
    for qid in candidates:
        e, n = exact["questions"].get(qid), naive["questions"].get(qid)
        if e and n and not e["constant"] and not n["constant"]:
            return qid
    return None


def fmt(x, unit="", digits=2) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return f"{x:.{digits}f}{unit}"


def main_parent(args) -> int:
    started = time.time()
    logdir = Path(tempfile.mkdtemp(prefix="bench_fit_"))
    print(
        f"bench_fit: scenario {SCENARIO.relative_to(ROOT)}; sampler {args.sampler} "
        f"draws={args.draws} "
        f"tune={args.tune} chains={args.chains} cores={args.cores} seed={args.seed}"
        f"{' (--quick)' if args.quick else ''}; python {sys.executable}"
    )
    print(f"bench_fit: {os.cpu_count()} CPUs; worker logs in {logdir}")

    # 1. cold: empty PyTensor compiledir, numba cache and result cache, each run afresh; the
    # median run is reported (the spread on a shared machine is a second or more)
    colds = []
    for _ in range(args.cold_runs):
        cold_dirs = [
            Path(tempfile.mkdtemp(prefix="bench_pytensor_")),
            Path(tempfile.mkdtemp(prefix="bench_numba_")),
            Path(tempfile.mkdtemp(prefix="bench_results_")),
        ]
        flags = ",".join(
            x for x in (os.environ.get("PYTENSOR_FLAGS", ""), f"compiledir={cold_dirs[0]}") if x
        )
        try:
            colds.append(
                run_worker(
                    "cold",
                    args,
                    logdir,
                    {
                        "PYTENSOR_FLAGS": flags,
                        "NUMBA_CACHE_DIR": str(cold_dirs[1]),
                        "FORECAST_CACHE_DIR": str(cold_dirs[2]),
                    },
                )
            )
        finally:
            for d in cold_dirs:
                shutil.rmtree(d, ignore_errors=True)
    colds.sort(key=lambda c: c["total_s"])
    cold = colds[len(colds) // 2]

    # 1b. first fit after installing: numba's cache primed as `make setup` does
    # (python -m forecast.warmup), PyTensor compile directory and result cache empty
    installed_dirs = [
        Path(tempfile.mkdtemp(prefix="bench_pytensor_")),
        Path(tempfile.mkdtemp(prefix="bench_numba_")),
        Path(tempfile.mkdtemp(prefix="bench_results_")),
    ]
    flags = ",".join(
        x for x in (os.environ.get("PYTENSOR_FLAGS", ""), f"compiledir={installed_dirs[0]}") if x
    )
    env = {
        "PYTENSOR_FLAGS": flags,
        "NUMBA_CACHE_DIR": str(installed_dirs[1]),
        "FORECAST_CACHE_DIR": str(installed_dirs[2]),
    }
    try:
        t0 = time.time()
        subprocess.run(
            [sys.executable, "-m", "forecast.warmup"],
            cwd=ROOT,
            check=True,
            env={**os.environ, **env, "FORECAST_CACHE_DIR": str(installed_dirs[2] / "warmup")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        warmup_s = time.time() - t0
        shutil.rmtree(installed_dirs[0], ignore_errors=True)
        installed_dirs[0].mkdir()
        installed = run_worker("installed", args, logdir, env)
        installed["warmup_s"] = warmup_s
    finally:
        for d in installed_dirs:
            shutil.rmtree(d, ignore_errors=True)

    # 2./3./4. warm: prime the default caches with a tiny fit, then measure
    prime = run_worker("prime", args, logdir, extra_args=["--draws", "10", "--tune", "10"])
    warm = run_worker("warm", args, logdir)

    # 5. naive vs exact on the same scenario (truncated unless --months 28)
    naive = run_worker("naive", args, logdir)
    if args.months >= FULL_MONTHS:
        exact_cmp = {
            "months": FULL_MONTHS,
            "fit_s": warm["fit2_s"],
            **warm["fit2"],
            "note": "reused: warm second fit",
        }
    else:
        exact_cmp = run_worker("exact_compare", args, logdir)

    # ---------------------------------------------------------------- report
    print()
    print("=" * 100)
    print("DETAILS")
    print("-" * 100)
    cold_totals = ", ".join(f"{c['total_s']:.2f}" for c in colds)
    print(
        f"cold process (empty caches): interpreter+imports {cold['import_s']:.2f} s, "
        f"load + elicit {cold['load_s']:.2f} s, build {cold['build_s']:.2f} s, "
        f"first fit {cold['fit1_s']:.2f} s; total from process start {cold['total_s']:.2f} s "
        f"(the median of {len(colds)} runs: {cold_totals} s)"
    )
    print(
        f"first fit after install (numba cache primed by python -m forecast.warmup in "
        f"{installed['warmup_s']:.1f} s; empty PyTensor and result caches): imports "
        f"{installed['import_s']:.2f} s, load {installed['load_s']:.2f} s, build "
        f"{installed['build_s']:.2f} s, first fit {installed['fit1_s']:.2f} s; total "
        f"{installed['total_s']:.2f} s"
    )
    print(
        f"cache priming (default caches, 10+10 draws): {prime['total_s']:.1f} s from process start"
    )
    print(
        f"warm process: interpreter+imports {warm['import_s']:.2f} s, load "
        f"{warm['load_s']:.2f} s, build {warm['build_s']:.2f} s, first fit "
        f"{warm['fit1_s']:.2f} s; second fit (same process) {warm['fit2_s']:.2f} s"
    )
    edit = warm["edit"]
    update = warm["update"]
    print(
        f"prior edit: {edit['rule']} alpha {fmt_list(edit['old_alpha'])} -> "
        f"{fmt_list(edit['new_alpha'])}"
    )
    print(
        f"  fit.refit(edited): {warm['update_s']:.3f} s, {update['method']} (Pareto k "
        f"{update['pareto_k']:.2f}, importance ESS {update['ess']:.0f}); posterior mean "
        f"{fmt_list(update['posterior_mean'])}"
    )
    print(
        f"  full NUTS re-fit (edited.fit): {warm['refit_s']:.2f} s; posterior mean "
        f"{fmt_list(edit['posterior_mean'])}"
    )
    print(
        f"model.machinery.compiles after build, fit, fit, refit, edited.fit: {warm['compiles']} "
        f"(must be 1)"
    )
    for label, key, secs in (
        ("warm first fit", "fit1", warm["fit1_s"]),
        ("warm second fit", "fit2", warm["fit2_s"]),
        ("re-fit", "refit", warm["refit_s"]),
    ):
        rep = warm[key]
        n_free = sum(not v["constant"] for v in rep["questions"].values())
        print(
            f"  {label:16s}: min bulk ESS over {n_free} non-constant question_prob "
            f"{fmt(rep['min_ess_question'], '', 0)} -> {rep['min_ess_question'] / secs:.1f}"
            f" ESS/s; min bulk ESS rule parameters {fmt(rep['min_ess_rules'], '', 0)}; "
            f"divergences {rep['divergences']}"
        )

    months = naive["months"]
    truncated = months < FULL_MONTHS
    print("-" * 100)
    if truncated:
        print(
            f"NAIVE COMPARISON ON A TRUNCATED SCENARIO: the naive model cannot sample the full "
            f"{FULL_MONTHS}-month scenario within ~10 minutes (see benchmarks/README.md), so "
            f"BOTH models run on its first {months} months (2024-09 .. "
            f"{horizon_tag(months).replace('_', '-')}): same nodes, rules, priors; evidence "
            f"and questions after that month dropped; one question per outcome added at the "
            f"new horizon."
        )
    else:
        print(f"naive comparison on the full {FULL_MONTHS}-month scenario")
    print(
        f"naive model: {naive['free_discrete']} free discrete state variables, "
        f"{naive['observed']} observed node-months; steps {naive['steps']}; "
        f"check_bounds={naive['check_bounds']}; one log-density evaluation "
        f"{naive['logp_us']:.0f} us"
    )
    print(
        f"naive model: build {naive['build_s']:.1f} s, compile steps {naive['compile_s']:.1f} s,"
        f" sample {naive['sample_s']:.1f} s, indicators {naive['post_s']:.2f} s, "
        f"divergences {naive['divergences']}"
    )
    print(
        f"exact model on the same scenario: fit {exact_cmp['fit_s']:.3f} s (compiled; the "
        f"median of {len(exact_cmp['fit_all_s'])} fits with the same seed: "
        f"{', '.join(f'{t:.3f}' for t in exact_cmp['fit_all_s'])} s; its prior predictive, "
        f"{exact_cmp['prior_s']:.3f} s, computed beforehand: the naive model has none)"
        f"{' [' + exact_cmp['note'] + ']' if 'note' in exact_cmp else ''}"
    )
    naive_time = naive["sample_s"] + naive["post_s"]
    exact_time = exact_cmp["fit_s"]
    qid = pick_indicator(exact_cmp, naive, months)
    print(
        f"{'question':36s} {'exact mean':>10s} {'naive mean':>10s} {'exact ESS':>10s} "
        f"{'naive ESS':>10s}   (exact: question_prob; naive: indicator)"
    )
    for q, e in exact_cmp["questions"].items():
        n = naive["questions"][q]
        print(
            f"{q:36s} {e['mean']:10.4f} {n['mean']:10.4f} "
            f"{'fixed' if e['constant'] else fmt(e['ess_bulk'], '', 0):>10s} "
            f"{'fixed' if n['constant'] else fmt(n['ess_bulk'], '', 0):>10s}"
        )

    exact_rules_rate = exact_cmp["min_ess_rules"] / exact_time
    naive_rules_rate = naive["min_ess_rules"] / naive_time
    exact_q_rate = exact_cmp["min_ess_question"] / exact_time
    if qid:
        e_q, n_q = exact_cmp["questions"][qid], naive["questions"][qid]
        exact_ind_rate = e_q["ess_bulk"] / exact_time
        naive_ind_rate = n_q["ess_bulk"] / naive_time
        # precision per second: 1 / (MCSE^2 * time), MCSE = sd / sqrt(ESS)
        exact_prec = e_q["ess_bulk"] / max(e_q["sd"], 1e-300) ** 2 / exact_time
        naive_prec = n_q["ess_bulk"] / max(n_q["sd"], 1e-300) ** 2 / naive_time
    else:
        exact_ind_rate = naive_ind_rate = exact_prec = naive_prec = float("nan")
    print(
        f"ESS/s rule parameters (min bulk ESS / time): exact {exact_rules_rate:.2f}, naive "
        f"{naive_rules_rate:.3f}, ratio {exact_rules_rate / naive_rules_rate:.1f}x"
    )
    print(
        f"ESS/s question '{qid}': exact question_prob {exact_ind_rate:.2f}, naive indicator "
        f"{naive_ind_rate:.3f}, ratio {exact_ind_rate / naive_ind_rate:.1f}x"
    )
    print(
        f"precision/s of P('{qid}') (1 / (MCSE^2 * time)): exact {exact_prec:.3g}, naive "
        f"{naive_prec:.3g}, ratio {exact_prec / naive_prec:.1f}x"
    )
    print(
        f"ESS/s min over non-constant question_prob (exact, figure 4 on this scenario): "
        f"{exact_q_rate:.2f}; vs naive rule-parameter ESS/s: "
        f"{exact_q_rate / naive_rules_rate:.1f}x"
    )
    print(
        f"(times: exact = compiled fit incl. exact post-processing; naive = pm.sample with "
        f"steps already compiled + indicators; naive compile {naive['compile_s']:.1f} s "
        f"excluded)"
    )

    # ---------------------------------------------------------------- summary table
    warm_build_fit = warm["load_s"] + warm["build_s"] + warm["fit1_s"]
    rows = [
        (
            f"1. cold fit (process start -> fit end, empty caches; median of {len(colds)})",
            f"{cold['total_s']:.2f} s",
            f"<= {TARGET_COLD_S:g} s",
        ),
        ("   all runs", f"{cold_totals} s", ""),
        (
            "   import / load / build / first fit",
            f"{cold['import_s']:.1f} / {cold['load_s']:.1f} / {cold['build_s']:.1f} / "
            f"{cold['fit1_s']:.1f} s",
            "",
        ),
        (
            "1b. first fit after install (numba cache primed)",
            f"{installed['total_s']:.2f} s",
            f"<= {TARGET_COLD_S:g} s",
        ),
        (
            "   import / load / build / first fit",
            f"{installed['import_s']:.1f} / {installed['load_s']:.1f} / "
            f"{installed['build_s']:.1f} / {installed['fit1_s']:.1f} s",
            "",
        ),
        (
            "2. warm fit (load + build + fit, warm caches)",
            f"{warm_build_fit:.2f} s",
            f"<= {TARGET_WARM_S:g} s",
        ),
        (
            "   warm, from process start (imports included)",
            f"{warm['total_s']:.2f} s",
            "",
        ),
        (
            "   warm second fit (same process, compiled)",
            f"{warm['fit2_s']:.2f} s",
            f"<= {TARGET_WARM_S:g} s",
        ),
        (
            "3. re-fit after a prior edit (fit.refit)",
            f"{warm['update_s']:.2f} s",
            f"<= {TARGET_REFIT_S:g} s",
        ),
        (
            "   how: " + warm["update"]["method"],
            f"k {warm['update']['pareto_k']:.2f}, ESS {warm['update']['ess']:.0f}",
            "k <= 0.7, ESS >= 400",
        ),
        ("   full NUTS re-fit (edited.fit)", f"{warm['refit_s']:.2f} s", ""),
        ("   model.machinery.compiles after the re-fit", f"{warm['compiles']}", "== 1 (asserted)"),
        (
            "4. ESS/s, min bulk ESS question_prob / fit time",
            f"{warm['fit2']['min_ess_question'] / warm['fit2_s']:.1f} ESS/s",
            "",
        ),
        (
            f"5. exact/naive ESS/s, rule parameters ({months} mo.)",
            f"{exact_rules_rate / naive_rules_rate:.1f}x",
            f">= {TARGET_RATIO:g}x",
        ),
        (
            f"   exact/naive ESS/s, '{qid}'",
            f"{exact_ind_rate / naive_ind_rate:.1f}x",
            f">= {TARGET_RATIO:g}x",
        ),
        (
            "   exact/naive ESS/s (exact question_prob min / naive rules)",
            f"{exact_q_rate / naive_rules_rate:.1f}x",
            f">= {TARGET_RATIO:g}x",
        ),
    ]
    print("=" * 100)
    print(
        f"SUMMARY (sampler draws={args.draws} tune={args.tune} chains={args.chains}"
        f"{'; --quick: figures not comparable with the targets' if args.quick else ''}"
        f"{f'; naive comparison truncated to {months} months' if truncated else ''})"
    )
    w = max(len(r[0]) for r in rows) + 2
    print(f"{'figure':{w}s}{'value':>28s}   target")
    for name, value, target in rows:
        print(f"{name:{w}s}{value:>28s}   {target}")
    print("=" * 100)
    print(f"benchmark wall time {time.time() - started:.0f} s")
    shutil.rmtree(logdir, ignore_errors=True)
    assert warm["compiles"] == 1, f"model.machinery.compiles == {warm['compiles']}, expected 1"
    return 0


def fmt_list(values) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 100 tune + 100 draws, naive comparison on 4 months",
    )
    p.add_argument(
        "--cold-runs",
        type=int,
        default=None,
        help="cold fits, each with fresh empty caches; the median is reported "
        "(default 3, 1 with --quick)",
    )
    p.add_argument("--draws", type=int, default=None, help="default 1000 (100 with --quick)")
    p.add_argument("--tune", type=int, default=None, help="default 1000 (100 with --quick)")
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument(
        "--sampler",
        choices=["nutpie", "pymc"],
        default="nutpie",
        help="backend of the exact model (the naive model always uses PyMC)",
    )
    p.add_argument("--seed", type=int, default=20240930)
    p.add_argument("--target-accept", type=float, default=0.9)
    p.add_argument(
        "--months",
        type=int,
        default=None,
        help="months of the naive comparison (28 = full scenario); default "
        "NAIVE_MONTHS (4 with --quick)",
    )
    p.add_argument(
        "--edit-rule",
        default="talks:none[mediation=active,pressure=high,us_push=inactive]",
        help="id of the rule whose prior is edited",
    )
    p.add_argument(
        "--edit-scale",
        type=float,
        default=2.0,
        help="new alpha = old alpha * this (same mean, other concentration)",
    )
    p.add_argument(
        "--naive-no-checks",
        action="store_true",
        help="naive model with check_bounds=False (cheaper log-density)",
    )
    # worker plumbing
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--t-spawn", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    default_draws = 100 if args.quick else 1000
    if args.cold_runs is None:
        args.cold_runs = 1 if args.quick else 3
    args.cold_runs = max(1, args.cold_runs)
    args.draws = default_draws if args.draws is None else args.draws
    args.tune = default_draws if args.tune is None else args.tune
    if args.months is None:
        args.months = 4 if args.quick else NAIVE_MONTHS
    args.months = max(1, min(args.months, FULL_MONTHS))
    return args


NAIVE_MONTHS = 3
"""Default horizon of the naive comparison (see benchmarks/README.md for why)."""


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        if args.t_spawn is None:
            args.t_spawn = time.time()
        out = WORKERS[args.worker](args)
        Path(args.result).write_text(json.dumps(out))
        return 0
    return main_parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
