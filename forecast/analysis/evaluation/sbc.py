"""Simulation-based calibration of the fit (Talts et al. 2018; Modrák et al. 2023).

One replication: draw the rule parameters from the model's prior, simulate a state path of
the scenario, observe it at the node-months the scenario's evidence observes, fit with NUTS,
thin the draws to ``L`` roughly independent ones (by their ESS), and rank each true quantity
among them. The quantities are every rule parameter (the probability of moving of a
single-destination rule, each destination's probability of a Dirichlet rule) and every
question's probability given the simulated evidence, worked out by the exact engine at the
true parameters. If the sampler and the likelihood are right, each quantity's ranks over the
replications are uniform on ``0 .. L``: tested by a chi-square on binned ranks and by the
simultaneous ECDF band of Säilynoja, Bürkner and Vehtari (2022), both per quantity at a
Bonferroni-corrected level.

The model's prior is the elicited Dirichlet times the reference-class multinomial
(the reference counts enter the fit as a likelihood), that is ``Dirichlet(alpha + counts)``:
the prior draws come from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from forecast.analysis.refits import FitProblem, worker_fitter
from forecast.engine.exact import ExactEngine

if TYPE_CHECKING:
    import pandas as pd

    from forecast.elicitation import Priors
    from forecast.pymc_backend.fitting import ScenarioFitter
    from forecast.scenario.validated import Scenario

ALPHA = 0.05
"""Family-wise level of the uniformity tests (Bonferroni over the quantities)."""

CORRUPTIONS = ("swap_evidence", "wrong_prior")
"""Deliberately broken replications, for the control that SBC must fail.

``swap_evidence``: the fit sees each observation with the node's first two states swapped
(a wrong likelihood); ``wrong_prior``: the parameters are simulated from a prior twice as
concentrated towards "stay" as the one the fit uses.
"""


@dataclass(frozen=True)
class SBCSettings:
    """NUTS and thinning settings of each replication's fit.

    Attributes
    ----------
    draws, tune, chains : int
        NUTS per replication (small fits: 2 chains x 250 draws by default).
    thin_to : int
        ``L``: posterior draws kept for the ranks (ranks run over ``0 .. L``).
    max_draws : int
        Draws per chain at most when the ESS asks for a longer run (``draws`` doubled until
        the smallest ESS reaches ``thin_to`` or this is reached).
    target_accept : float
        NUTS target acceptance.
    corrupt : str, optional
        One of :data:`CORRUPTIONS`: a deliberately broken replication (a control).
    """

    draws: int = 250
    tune: int = 250
    chains: int = 2
    thin_to: int = 99
    max_draws: int = 1000
    target_accept: float = 0.8
    corrupt: str | None = None

    def __post_init__(self) -> None:
        if self.corrupt is not None and self.corrupt not in CORRUPTIONS:
            raise ValueError(f"corrupt must be one of {', '.join(CORRUPTIONS)}, not {self.corrupt}")
        for name in ("draws", "chains", "thin_to"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class SBCProblem:
    """What every replication needs, sent once to each worker."""

    scenario: Scenario
    priors: Priors
    settings: SBCSettings


# ----------------------------------------------------------------------------------------------
# simulation


def prior_alphas(priors: Priors) -> list[np.ndarray]:
    """Each rule's Dirichlet parameters of the model's prior: elicited plus reference counts."""
    return [
        np.asarray(r.alpha, dtype=float) + (0.0 if r.counts is None else np.asarray(r.counts))
        for r in priors.rules
    ]


def draw_parameters(priors: Priors, rng: np.random.Generator) -> list[np.ndarray]:
    """One draw of every rule's N-month outcome vector from the model's prior."""
    out = []
    for alpha in prior_alphas(priors):
        q = rng.dirichlet(alpha)
        # a draw on the boundary (underflow of a tiny alpha) is outside the sampler's space
        q = np.clip(q, 1e-12, None)
        out.append(q / q.sum())
    return out


def simulate_path(engine: ExactEngine, params: list[np.ndarray], rng) -> np.ndarray:
    """A state path drawn from the scenario's chain: ``(months, nodes)`` state indices.

    Month -1 (just before the first month): each node from its ``initial``; then, month by
    month, each node (same-month parents first) from its transition table's row at its old
    state and its parents' states (lag 1: last month's, lag 0: this month's).
    """
    scenario = engine.scenario
    tables = engine.tables(params)
    steps = scenario.timeline.n_steps
    nodes = scenario.nodes
    index = scenario.node_index
    caps = engine.caps  # the chain runs on (state, months in state) where a node counts them
    initials = [np.asarray(p, float) for p in engine.initials]
    old = np.array([rng.choice(len(p), p=p) for p in initials])
    path = np.zeros((steps, len(nodes)), dtype=np.int64)
    # the sources' reports (folded in the engine's plan) come after the nodes they report on
    order = [*engine.plan.update_order, *(op.node for op in engine.plan.factors)]
    for t in range(steps):
        new = old.copy()
        for i in order:
            node = nodes[i]
            parents = tuple(
                int(new[index[p]] if lag == 0 else old[index[p]]) for p, lag in node.parents
            )
            row = np.asarray(tables[i][(*parents, int(old[i]))], dtype=float)
            new[i] = rng.choice(row.shape[0], p=row / row.sum())
        path[t] = new // np.asarray(caps)
        old = new
    return path


def observed_cells(scenario: Scenario) -> list[tuple[int, int]]:
    """The (month, node) cells the scenario's evidence observes (all of it, sorted)."""
    cells = {
        (scenario.timeline.step_of(item.date), scenario.node_index[item.node])
        for item in scenario.evidence
    }
    return sorted(cells)


def evidence_of_path(
    scenario: Scenario, path: np.ndarray, cells: list[tuple[int, int]]
) -> list[np.ndarray]:
    """Evidence matrices observing the path's state at the cells."""
    steps = scenario.timeline.n_steps
    mats = [np.ones((steps, n.n_states)) for n in scenario.nodes]
    for t, i in cells:
        mats[i][t] = 0.0
        mats[i][t, int(path[t, i])] = 1.0
    return mats


def swapped_evidence(engine: ExactEngine, evidence: list[np.ndarray]) -> list[np.ndarray]:
    """The broken control: each observation of states 0 or 1 swapped to the other.

    A swap that would make the evidence impossible (an absorbing state left, say) is not
    made, so the broken fit still has a posterior.
    """
    from forecast.engine.exact import central_params

    params = central_params(engine.scenario)
    out = [m.copy() for m in evidence]
    for m in out:
        for t in range(m.shape[0]):
            row = m[t]
            if row.sum() != 1.0 or np.argmax(row) > 1 or len(row) < 2:
                continue
            saved = row.copy()
            row[[0, 1]] = row[[1, 0]]
            if not np.isfinite(engine.loglik(params, out)):
                m[t] = saved
    return out


# ----------------------------------------------------------------------------------------------
# quantities and ranks


def quantity_names(scenario: Scenario, priors: Priors) -> list[str]:
    """The ranked quantities, in order.

    Rule parameters (``rule``, or ``rule[destination]`` for a Dirichlet rule), then
    ``question:<id>``.
    """
    names = []
    for prior in priors.rules:
        if prior.is_beta:
            names.append(prior.rule)
        else:
            names.extend(f"{prior.rule}[{label}]" for label in prior.labels[1:])
    return names + [f"question:{q.id}" for q in scenario.questions]


def quantities(
    engine: ExactEngine, priors: Priors, params: list[np.ndarray], evidence: list[np.ndarray]
) -> np.ndarray:
    """Every ranked quantity for a batch of parameter draws: ``(draws, quantities)``."""
    cols = []
    for prior, p in zip(priors.rules, params, strict=True):
        cols.append(p[:, 1:2] if prior.is_beta else p[:, 1:])
    questions = engine.scenario.questions
    if questions:
        result = engine.run_draws(params, evidence)
        cols.append(np.stack([result.questions[q.id] for q in questions], axis=-1))
    return np.concatenate(cols, axis=1)


def ranks_of(truth: np.ndarray, draws: np.ndarray, rng, tol: float = 1e-9) -> np.ndarray:
    """Rank of each true quantity among the draws (``draws``: ``(L, quantities)``).

    Ties (a quantity the evidence fixes, equal in every draw) are broken at random, so a tied
    rank is uniform on its range, as SBC requires.
    """
    below = np.sum(draws < truth - tol, axis=0)
    ties = np.sum(np.abs(draws - truth) <= tol, axis=0)
    return below + rng.integers(0, ties + 1)


def thin_indices(total_per_chain: int, chains: int, keep: int) -> np.ndarray:
    """``keep`` evenly spaced positions in the ``chains * total_per_chain`` flattened draws."""
    total = total_per_chain * chains
    return np.unique(np.linspace(0, total - 1, keep).round().astype(int))[:keep]


# ----------------------------------------------------------------------------------------------
# one replication, on a worker


def problem_fitter(problem: SBCProblem) -> ScenarioFitter:
    """The fitter of a problem in this process (compiled once per process and scenario)."""
    from forecast.pymc_backend.fitting import SamplerConfig

    s = problem.settings
    sampler = SamplerConfig(
        draws=s.draws, tune=s.tune, chains=s.chains, cores=1, target_accept=s.target_accept
    )
    return worker_fitter(FitProblem(problem.scenario, problem.priors, sampler))


def _sample(fitter: ScenarioFitter, evidence: list[np.ndarray], draws: int, seed: int):
    """NUTS (nutpie) on the fitter's density with these evidence matrices."""
    return fitter.sample(evidence, draws=draws, seed=seed)


def _min_ess(values: np.ndarray, chains: int) -> float:
    """Smallest bulk ESS over the columns of ``(chains * draws, quantities)`` draws."""
    import arviz as az

    per_chain = values.reshape(chains, -1, values.shape[-1])
    out = np.inf
    for k in range(values.shape[-1]):
        x = per_chain[..., k]
        if np.ptp(x) < 1e-12:  # fixed by the evidence: nothing to thin for
            continue
        ess = float(az.ess(x, method="bulk"))
        tail = float(az.ess(x, method="tail"))
        out = min(out, ess, tail)
    return out


def replicate(i: int, seed: int, problem: SBCProblem) -> dict[str, Any]:
    """One SBC replication (task ``i`` of a sweep seeded ``seed``).

    Returns
    -------
    dict
        ``replication``, ``ranks`` (one per quantity, in :func:`quantity_names` order),
        ``min_ess``, ``draws`` (per chain), ``divergences``, ``seconds``.
    """
    start = time.perf_counter()
    rng = np.random.default_rng([seed, i])
    settings = problem.settings
    fitter = problem_fitter(problem)
    engine = fitter.engine
    scenario = problem.scenario
    if settings.corrupt == "wrong_prior":
        truth_priors = _concentrated(problem.priors)
    else:
        truth_priors = problem.priors
    params = draw_parameters(truth_priors, rng)
    path = simulate_path(engine, params, rng)
    cells = observed_cells(scenario)
    sim_evidence = evidence_of_path(scenario, path, cells)
    fit_evidence = (
        swapped_evidence(engine, sim_evidence)
        if settings.corrupt == "swap_evidence"
        else sim_evidence
    )
    truth = quantities(engine, problem.priors, [p[None] for p in params], sim_evidence)[0]
    draws = settings.draws
    divergences = 0
    while True:
        fit_seed = int(rng.integers(2**31 - 1))
        post, div = _sample(fitter, fit_evidence, draws, fit_seed)
        divergences += div
        values = quantities(engine, problem.priors, post, fit_evidence)
        ess = _min_ess(values, settings.chains)
        if ess >= settings.thin_to or draws >= settings.max_draws:
            break
        draws = min(settings.max_draws, 2 * draws)
    keep = thin_indices(draws, settings.chains, settings.thin_to)
    ranks = ranks_of(truth, values[keep], rng)
    return {
        "replication": i,
        "ranks": ranks.astype(int).tolist(),
        "min_ess": ess,
        "draws": draws,
        "divergences": divergences,
        "seconds": time.perf_counter() - start,
    }


def _concentrated(priors: Priors) -> Priors:
    """The priors with each rule's "stay" parameter doubled (the ``wrong_prior`` control)."""
    from forecast.elicitation import Priors, RulePrior

    out = []
    for r in priors.rules:
        alpha = np.asarray(r.alpha, dtype=float).copy()
        alpha[0] *= 2.0
        out.append(RulePrior(r.rule, r.labels, alpha, (), r.counts, "sbc control"))
    return Priors(out)


# ----------------------------------------------------------------------------------------------
# uniformity


def chi_square(ranks: np.ndarray, n_ranks: int, bins: int) -> tuple[float, float]:
    """Chi-square statistic and p-value of ranks on ``0 .. n_ranks - 1`` in equal bins."""
    from scipy import stats

    ranks = np.asarray(ranks, dtype=int)
    counts = np.bincount(ranks * bins // n_ranks, minlength=bins)
    # each bin's share of the possible ranks (equal when bins divides n_ranks)
    share = np.bincount(np.arange(n_ranks) * bins // n_ranks, minlength=bins) / n_ranks
    expected = share * len(ranks)
    stat = float(np.sum((counts - expected) ** 2 / expected))
    return stat, float(stats.chi2.sf(stat, bins - 1))


def choose_bins(n: int, n_ranks: int) -> int:
    """Bins for the chi-square: about five expected per bin, at most 20, dividing the ranks."""
    target = max(2, min(20, n // 5))
    divisors = [b for b in range(2, n_ranks + 1) if n_ranks % b == 0 and b <= target]
    return max(divisors) if divisors else target


def ecdf_points(n: int, n_ranks: int) -> np.ndarray:
    """Where the ECDF of fractional ranks is checked: ``z_j = j / K``, ``K = min(n, L + 1)``."""
    k = min(n, n_ranks)
    return np.arange(1, k) / k


def ecdf_gamma(n: int, n_ranks: int, alpha: float, sims: int = 2000, seed: int = 0) -> float:
    """The pointwise level giving a simultaneous ``1 - alpha`` ECDF band (by simulation).

    Säilynoja et al. (2022), their simulation method: for uniform ranks, the smallest
    two-sided binomial tail probability over the checked points; ``gamma`` is its
    ``alpha``-quantile.
    """
    from scipy import stats

    z = ecdf_points(n, n_ranks)
    rng = np.random.default_rng([seed, n, n_ranks])
    sim = rng.integers(0, n_ranks, size=(sims, n)) / n_ranks
    counts = (sim[:, :, None] < z[None, None, :]).sum(axis=1)  # (sims, points)
    cdf = stats.binom.cdf(counts, n, z)
    sf = stats.binom.sf(counts - 1, n, z)
    pmin = np.min(2 * np.minimum(cdf, sf), axis=1)
    return float(np.quantile(pmin, alpha))


def ecdf_band(n: int, n_ranks: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points ``z`` and the simultaneous band (lower, upper) of the ECDF at them."""
    from scipy import stats

    z = ecdf_points(n, n_ranks)
    gamma = ecdf_gamma(n, n_ranks, alpha)
    lower = stats.binom.ppf(gamma / 2, n, z) / n
    upper = stats.binom.ppf(1 - gamma / 2, n, z) / n
    return z, lower, upper


def ecdf_inside(ranks: np.ndarray, n_ranks: int, band) -> bool:
    """Whether the ECDF of the fractional ranks stays inside the band at every point."""
    z, lower, upper = band
    u = np.asarray(ranks) / n_ranks
    ecdf = (u[:, None] < z[None, :]).mean(axis=0)
    return bool(np.all((ecdf >= lower - 1e-12) & (ecdf <= upper + 1e-12)))


def uniformity_tests(ranks: pd.DataFrame, n_ranks: int, alpha: float = ALPHA) -> pd.DataFrame:
    """Per quantity: chi-square p, ECDF band, pass (both at ``alpha`` / quantities)."""
    import pandas as pd

    n = len(ranks)
    level = alpha / max(1, ranks.shape[1])
    bins = choose_bins(n, n_ranks)
    band = ecdf_band(n, n_ranks, level) if n >= 2 else None
    rows = []
    for name in ranks.columns:
        values = ranks[name].to_numpy()
        stat, p = chi_square(values, n_ranks, bins) if n >= 2 else (np.nan, np.nan)
        inside = ecdf_inside(values, n_ranks, band) if band is not None else False
        rows.append(
            {
                "quantity": name,
                "chi2": stat,
                "chi2_p": p,
                "chi2_pass": bool(p >= level),
                "ecdf_pass": inside,
                "passed": bool(p >= level and inside),
            }
        )
    out = pd.DataFrame(rows)
    out.attrs.update({"alpha": alpha, "level": level, "bins": bins, "n": n})
    return out


# ----------------------------------------------------------------------------------------------
# the report


@dataclass
class SBCReport:
    """Ranks of every quantity over the replications, and their uniformity tests.

    Attributes
    ----------
    ranks : DataFrame
        One row per finished replication (index: replication), one column per quantity;
        ranks on ``0 .. thin_to``.
    tests : DataFrame
        Per quantity: ``chi2``, ``chi2_p``, ``chi2_pass``, ``ecdf_pass``, ``passed``.
    runs : DataFrame
        Per replication: ``min_ess``, ``draws``, ``divergences``, ``seconds``.
    n_requested : int
        Replications asked for (fewer finished if interrupted or failed).
    failed : dict
        Replication -> error, for those that failed after their retries.
    interrupted : bool
        Whether the sweep was stopped before the end.
    seconds : float
        Wall time of the sweep.
    """

    scenario_id: str
    settings: SBCSettings
    seed: int
    ranks: pd.DataFrame
    tests: pd.DataFrame
    runs: pd.DataFrame
    n_requested: int
    failed: dict[int, str] = field(default_factory=dict)
    interrupted: bool = False
    seconds: float = 0.0
    scheduler: str = ""

    @property
    def n_ranks(self) -> int:
        """Possible ranks: ``thin_to + 1``."""
        return self.settings.thin_to + 1

    @property
    def complete(self) -> bool:
        """Whether every requested replication finished."""
        return len(self.ranks) == self.n_requested and not self.interrupted

    @property
    def passed(self) -> bool:
        """Every quantity passed both tests, over every requested replication."""
        return bool(self.complete and len(self.tests) and self.tests["passed"].all())

    def failing(self) -> list[str]:
        """The quantities that failed a test."""
        return list(self.tests.loc[~self.tests["passed"], "quantity"]) if len(self.tests) else []

    def summary_line(self) -> str:
        """One line: pass or fail, how many quantities, replications and how long."""
        n_q = len(self.tests)
        bad = self.failing()
        status = "PASS" if self.passed else "FAIL"
        head = (
            f"SBC {status}: {n_q - len(bad)}/{n_q} quantities uniform over "
            f"{len(self.ranks)}/{self.n_requested} replications (L = {self.settings.thin_to}, "
            f"chi-square and ECDF band at {self.tests.attrs.get('alpha', ALPHA)} "
            f"family-wise) in {self.seconds:.0f} s"
        )
        if bad:
            head += "; failing: " + ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        if not self.complete:
            head += (
                f"; incomplete ({'interrupted' if self.interrupted else ''}"
                f"{', ' if self.interrupted and self.failed else ''}"
                f"{f'{len(self.failed)} failed' if self.failed else ''})"
            )
        return head

    def table(self) -> pd.DataFrame:
        """The tests as a printable table."""
        return self.tests[["quantity", "chi2_p", "ecdf_pass", "passed"]]


def report(
    problem: SBCProblem,
    seed: int,
    results: dict[int, dict[str, Any]],
    n_requested: int,
    failed: dict[int, str] | None = None,
    interrupted: bool = False,
    seconds: float = 0.0,
    scheduler: str = "",
    alpha: float = ALPHA,
) -> SBCReport:
    """Gather the replications' ranks into a report with its tests."""
    import pandas as pd

    names = quantity_names(problem.scenario, problem.priors)
    order = sorted(results)
    ranks = pd.DataFrame(
        [results[i]["ranks"] for i in order],
        index=pd.Index(order, name="replication"),
        columns=names,
    )
    runs = pd.DataFrame(
        [{k: results[i][k] for k in ("min_ess", "draws", "divergences", "seconds")} for i in order],
        index=pd.Index(order, name="replication"),
    )
    n_ranks = problem.settings.thin_to + 1
    tests = uniformity_tests(ranks, n_ranks, alpha)
    return SBCReport(
        problem.scenario.id,
        problem.settings,
        seed,
        ranks,
        tests,
        runs,
        n_requested,
        dict(failed or {}),
        interrupted,
        seconds,
        scheduler,
    )


def run_sbc(
    scenario: Scenario,
    priors: Priors,
    n: int,
    seed: int,
    settings: SBCSettings | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    progress: bool = True,
    on_result=None,
    task=None,
    alpha: float = ALPHA,
) -> SBCReport:
    """``n`` SBC replications on a sweep (:func:`forecast.analysis.sweeps.run_sweep`).

    ``task`` replaces :func:`replicate` (a wrapper of it, e.g.
    :class:`forecast.analysis.sweeps.FailOnce` in the tests).
    """
    from forecast.analysis.sweeps import run_sweep

    problem = SBCProblem(scenario, priors, settings or SBCSettings())
    outcome = run_sweep(
        task or replicate,
        n,
        seed,
        args=(problem,),
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        on_result=on_result,
        description=f"SBC {scenario.id}",
    )
    return report(
        problem,
        seed,
        outcome.results,
        n,
        outcome.failed,
        outcome.interrupted,
        outcome.seconds,
        outcome.scheduler,
        alpha,
    )
