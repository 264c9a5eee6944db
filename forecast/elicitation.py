"""From a forecaster's stated judgements to Beta and Dirichlet priors, with PreliZ.

A judgement "X happens within N months with best guess p and interval [lo, hi] at credibility
c" becomes the maximum-entropy Beta with mean p and mass c in [lo, hi] (``preliz.maxent`` on a
Beta whose ``mu`` is fixed at p). A rule with several destinations becomes a Dirichlet over
``[stay, *destinations]`` whose means are the best guesses and whose concentration is the
geometric mean of the destinations' maximum-entropy Beta concentrations (a Dirichlet's
marginals are Betas sharing one concentration). The mass each stated interval actually gets is
recorded, so ``forecast check`` can show where the fitted prior departs from the words.

PreliZ imports PyMC, so it is imported only when a prior is elicited.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import special, stats

from forecast.errors import ScenarioError
from forecast.result_cache import ResultCache
from forecast.scenario.schema import Judgement
from forecast.scenario.validated import Rule, Scenario
from forecast.settings import MAX_CONCENTRATION

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stated:
    """A judgement as the forecaster stated it, and what the fitted prior gives it."""

    destination: str
    best: float | None
    interval: tuple[float, float] | None
    credibility: float | None
    fitted_mean: float
    fitted_mass: float | None


@dataclass(frozen=True)
class RulePrior:
    """The prior of one rule: a Dirichlet over the N-month outcome ``[stay, *destinations]``.

    A rule with one destination is a Beta on its probability: ``Beta(alpha[1], alpha[0])``.
    """

    rule: str
    labels: tuple[str, ...]
    alpha: np.ndarray
    stated: tuple[Stated, ...] = ()
    counts: np.ndarray | None = None
    source: str = "judgement"

    @property
    def is_beta(self) -> bool:
        """Whether the rule has a single destination (a Beta prior)."""
        return len(self.alpha) == 2

    @property
    def mean(self) -> np.ndarray:
        """Prior mean of the N-month outcome vector."""
        return self.alpha / self.alpha.sum()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draws of the N-month outcome vector, shape ``(size, len(labels))``."""
        return rng.dirichlet(self.alpha, size=size)

    def reference_loglik(self, q: np.ndarray) -> np.ndarray:
        """Multinomial log-likelihood of the reference-class counts at outcome vectors ``q``."""
        if self.counts is None:
            return np.zeros(np.shape(q)[:-1])
        return reference_log_coefficient(self.counts) + np.sum(
            special.xlogy(self.counts, q), axis=-1
        )


def reference_log_coefficient(counts: np.ndarray) -> float:
    """Log multinomial coefficient of a vector of counts."""
    n = counts.sum()
    return float(special.gammaln(n + 1) - special.gammaln(counts + 1).sum())


_MAXENT_CACHE = ResultCache("maxent_beta", "preliz")


@lru_cache(maxsize=1024)
def maxent_beta(best: float, lower: float, upper: float, mass: float) -> tuple[float, float]:
    """Maximum-entropy Beta with mean ``best`` and ``mass`` in ``[lower, upper]`` (PreliZ).

    The mean is held fixed by giving PreliZ a Beta with ``mu`` set, so only the concentration
    is fitted; both the mean and the mass are then met exactly where the interval allows.
    Results are kept on disk per PreliZ version (:mod:`forecast.result_cache`), so a new
    process does not import PreliZ for judgements it has already fitted.

    Returns
    -------
    tuple of float
        ``(alpha, beta)``.
    """
    key = repr((best, lower, upper, mass))
    cached = _MAXENT_CACHE.get(key)
    if cached is not None:
        return float(cached[0]), float(cached[1])
    alpha, beta = _preliz_maxent_beta(best, lower, upper, mass)
    _MAXENT_CACHE.put(key, [alpha, beta])
    return alpha, beta


def _preliz_maxent_beta(
    best: float, lower: float, upper: float, mass: float
) -> tuple[float, float]:
    from forecast.pymc_import import import_pymc

    import_pymc()  # PreliZ imports PyMC: import it first, keeping its logger's level
    import preliz as pz

    dist = pz.Beta(mu=best)
    with warnings.catch_warnings():
        # PreliZ warns when the mass it reaches differs from the one asked for; the mass
        # reached is recomputed and reported by the caller instead.
        warnings.simplefilter("ignore")
        pz.maxent(dist, lower, upper, mass, plot=False)
    alpha, beta = float(dist.alpha), float(dist.beta)
    if not (math.isfinite(alpha) and math.isfinite(beta) and alpha > 0 and beta > 0):
        raise ValueError(
            f"PreliZ found no Beta with mean {best} and mass {mass} in [{lower}, {upper}]"
        )
    return alpha, beta


def _mass(alpha: float, beta: float, interval: tuple[float, float]) -> float:
    dist = stats.beta(alpha, beta)
    return float(dist.cdf(interval[1]) - dist.cdf(interval[0]))


def _judgement_beta(j: Judgement, default_credibility: float) -> tuple[float, float]:
    if j.beta is not None:
        return float(j.beta[0]), float(j.beta[1])
    lo, hi = j.interval
    return maxent_beta(
        float(j.best), float(lo), float(hi), float(j.credibility or default_credibility)
    )


def elicit_rule(rule: Rule, file: str = "") -> RulePrior:
    """The prior of one rule.

    Raises
    ------
    ScenarioError
        If PreliZ cannot fit a judgement.
    """
    spec = rule.spec
    labels = (rule.first_outcome, *rule.destinations)
    counts = None
    if spec.reference_class is not None:
        ref = spec.reference_class
        moved = [ref.counts.get(d, 0) for d in rule.destinations]
        counts = np.array([ref.n - sum(moved), *moved], dtype=float)
    if spec.dirichlet is not None:
        first = spec.dirichlet[rule.first_outcome]
        alpha = np.array([first, *(spec.dirichlet[d] for d in rule.destinations)])
        return RulePrior(rule.name, labels, alpha, (), counts, "dirichlet")
    fits = {}
    where, line = rule.where
    for dest, judgement in spec.to.items():
        field = f"nodes.{rule.node}.transitions[{rule.index}].to.{dest}"
        try:
            fits[dest] = _judgement_beta(judgement, spec.credibility)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            raise ScenarioError.single(
                where or file,
                field,
                str(exc),
                "a best guess well inside an interval that is not too narrow",
                line,
            ) from None
        a, b = fits[dest]
        if not max(a, b) <= MAX_CONCENTRATION:  # also refuses nan
            interval = judgement.interval
            raise ScenarioError.single(
                where or file,
                field,
                f"the interval [{interval[0]}, {interval[1]}] is so narrow for its "
                f"credibility that its prior would be Beta({a:.4g}, {b:.4g}), a parameter "
                f"beyond the limit of {MAX_CONCENTRATION:.0f}",
                "a wider interval or a lower credibility (or plain beta parameters of at most "
                f"{MAX_CONCENTRATION:.0f})",
                line,
            )
    if len(fits) == 1:
        ((dest, (a, b)),) = fits.items()
        alpha = np.array([b, a])
    else:
        means = np.array([a / (a + b) for a, b in fits.values()])
        kappa = float(np.exp(np.mean([np.log(a + b) for a, b in fits.values()])))
        alpha = kappa * np.array([1.0 - means.sum(), *means])
    total = alpha.sum()
    stated = []
    for k, (dest, judgement) in enumerate(spec.to.items(), start=1):
        interval = tuple(judgement.interval) if judgement.interval else None
        stated.append(
            Stated(
                dest,
                judgement.best,
                interval,
                judgement.credibility or (spec.credibility if interval else None),
                float(alpha[k] / total),
                _mass(alpha[k], total - alpha[k], interval) if interval else None,
            )
        )
    return RulePrior(
        rule.name,
        labels,
        alpha,
        tuple(stated),
        counts,
        "judgement" if len(fits) == 1 else "judgements pooled to a Dirichlet",
    )


@dataclass
class Priors:
    """The priors of every rule of a scenario, in ``scenario.rules`` order."""

    rules: list[RulePrior] = field(default_factory=list)

    def __getitem__(self, name: str) -> RulePrior:
        for r in self.rules:
            if r.rule == name:
                return r
        raise KeyError(name)

    def sample(self, rng: np.random.Generator, size: int) -> list[np.ndarray]:
        """Joint prior draws: one ``(size, len(labels))`` array per rule."""
        return [r.sample(rng, size) for r in self.rules]

    def means(self) -> list[np.ndarray]:
        """Prior mean outcome vector of every rule."""
        return [r.mean for r in self.rules]

    def reference_loglik(self, params: list[np.ndarray]) -> np.ndarray:
        """Summed reference-class log-likelihood at parameter draws."""
        return sum(r.reference_loglik(p) for r, p in zip(self.rules, params, strict=True))

    def replace(self, name: str, alpha: np.ndarray) -> Priors:
        """A copy with one rule's Dirichlet parameters replaced (a prior edit)."""
        if all(r.rule != name for r in self.rules):
            raise KeyError(name)
        out = []
        for r in self.rules:
            if r.rule == name:
                alpha = np.asarray(alpha, dtype=float)
                if alpha.shape != r.alpha.shape or np.any(alpha <= 0):
                    raise ValueError(f"{name}: need {len(r.alpha)} positive parameters")
                r = RulePrior(r.rule, r.labels, alpha, (), r.counts, "edited")
            out.append(r)
        return Priors(out)


def elicit(scenario: Scenario) -> Priors:
    """Priors of every free rule of a scenario, in ``scenario.rules`` order."""
    file = str(scenario.path or scenario.id)
    return Priors([elicit_rule(rule, file) for rule in scenario.rules])
