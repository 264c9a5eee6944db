"""A pool of parameter draws weighted by their exact likelihood: prior edits without NUTS.

Re-weighting a fit's own NUTS draws by the ratio of the priors fails for an edit that moves
a judgement towards an end of its interval: the draws rarely visit where the new prior puts
its mass (on the Kursk scenario as of 2024-09-30, 40 of the 60 edits that move one best guess
near an end of its interval get an importance ESS under 400, some a Pareto k above 10).

The engine gives what NUTS cannot: the exact likelihood of the evidence for any parameter
draw, in about 0.1 ms. So a pool of draws from known proposals, each carrying its exact
log-likelihood and its exact answers (question probabilities, monthly marginals), is a
posterior under *any* priors by self-normalised importance sampling:

    w(theta) = p_new(theta) L(theta) / q(theta)

The proposal ``q`` is a deterministic mixture (Owen and Zhou 2000; the balance heuristic of
multiple importance sampling), so the weights are bounded wherever one component covers the
new prior:

* the file's priors, ``base`` draws: every edit near the file's judgement;
* per rule, ``per_rule`` draws with that rule's Dirichlet flattened (its parameters divided
  by ``broaden``, same mean, wider): any one rule's prior moved towards an end of its
  interval, or given heavier tails;
* when those do not cover an edit (importance ESS or Pareto k off), the edited priors
  themselves, ``extend`` draws, seeded by the priors' digest and kept per priors, so a result
  depends on the fit and the priors only, never on the order of earlier edits.

The likelihood is computed once per draw; an edit costs only the prior densities of the pool
(milliseconds). Unlike the posterior draws the pool needs no Markov chain, so its draws are
independent (relative ESS 1). Its efficiency falls as the evidence grows: the prior-to-
posterior ESS fraction is about 0.86 as of 2024-09-30 and 0.28 with all the evidence on the
Kursk scenario, which is why the fit's own draws are tried first and NUTS stays the last
resort.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy import special

from forecast.analysis.reweighting.prior_density import log_prior_draws, rule_log_density
from forecast.analysis.reweighting.weights import effective_sample_size, psis_weights
from forecast.elicitation import Priors
from forecast.engine import ExactEngine
from forecast.engine.exact import REACHED_VAR, reached_by_month
from forecast.settings import (
    ESS_MIN,
    PARETO_K_MAX,
    POOL_BASE_DRAWS,
    POOL_BROADEN,
    POOL_EXTEND_DRAWS,
    POOL_PER_RULE_DRAWS,
)

logger = logging.getLogger(__name__)

__all__ = ["LikelihoodPool", "PoolWeights"]

_CHUNK = 4000
_EXTENSIONS_KEPT = 32


@dataclass(frozen=True)
class PoolWeights:
    """Normalised importance weights of a pool's draws under some priors.

    Attributes
    ----------
    weights : ndarray
        One per draw of the pool (with the extension, if any), summing to one.
    pareto_k : float
        Pareto shape of the largest ratios (``-inf`` when all are equal).
    ess : float
        Kish effective sample size.
    extended : bool
        Whether draws from the priors themselves had to be added.
    """

    weights: np.ndarray
    pareto_k: float
    ess: float
    extended: bool

    @property
    def reliable(self) -> bool:
        """Pareto k <= :data:`~forecast.settings.PARETO_K_MAX` and ESS >= ``ESS_MIN``."""
        return self.pareto_k <= PARETO_K_MAX and self.ess >= ESS_MIN


@dataclass
class _Draws:
    """Parameter draws with their exact log-likelihood and answers."""

    params: list[np.ndarray]
    loglik: np.ndarray
    quantities: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return int(self.loglik.size)


def priors_digest(priors: Priors) -> str:
    """A digest of every rule's Dirichlet parameters and reference counts."""
    h = hashlib.sha256()
    for r in priors.rules:
        h.update(r.rule.encode())
        h.update(np.asarray(r.alpha, dtype=float).tobytes())
        if r.counts is not None:
            h.update(np.asarray(r.counts, dtype=float).tobytes())
    return h.hexdigest()


def flattened(alpha: np.ndarray, broaden: float) -> np.ndarray:
    """A wider Dirichlet than ``alpha`` for the defensive components of the pool.

    The parameters are divided by ``broaden`` and half a count (Jeffreys) is added to each
    outcome: the mean moves a little towards the centre, so that a small probability's upper
    tail is covered too (dividing alone would pile the mass at zero).
    """
    return np.asarray(alpha, dtype=float) / broaden + 0.5


class LikelihoodPool:
    """Draws from a defensive mixture of priors, with their exact likelihood and answers.

    Parameters
    ----------
    engine : ExactEngine
        The engine of the fitted scenario (the pool's likelihood is this structure's).
    evidence : list of ndarray
        The fit's evidence matrices (its cut-off).
    priors : Priors
        The fit's priors (the file's judgements).
    seed : int
        Seed of the draws.
    base, per_rule, extend : int
        Draws from the priors, per rule with that rule flattened, and per extension.
    broaden : float
        How much flatter the per-rule components are (see :func:`flattened`).
    """

    def __init__(
        self,
        engine: ExactEngine,
        evidence: list[np.ndarray],
        priors: Priors,
        seed: int,
        *,
        base: int = POOL_BASE_DRAWS,
        per_rule: int = POOL_PER_RULE_DRAWS,
        extend: int = POOL_EXTEND_DRAWS,
        broaden: float = POOL_BROADEN,
    ) -> None:
        self.engine = engine
        self.evidence = evidence
        self.priors = priors
        self.seed = int(seed)
        self.extend_size = int(extend)
        rng = np.random.default_rng([self.seed, 7])
        # the components: (Dirichlet parameters per rule, number of draws)
        self._components: list[tuple[list[np.ndarray], int]] = []
        blocks = [self._sample(rng, [r.alpha for r in priors.rules], base)]
        self._components.append(([np.asarray(r.alpha, float) for r in priors.rules], base))
        if per_rule > 0:
            for j in range(len(priors.rules)):
                alphas = [np.asarray(r.alpha, float) for r in priors.rules]
                alphas[j] = flattened(alphas[j], broaden)
                blocks.append(self._sample(rng, alphas, per_rule))
                self._components.append((alphas, per_rule))
        params = [np.concatenate([b[k] for b in blocks]) for k in range(len(priors.rules))]
        self.draws = self._evaluate(params)
        self._logs = self._component_logs(params, self._components)
        self.log_mixture = self._mixture(self._logs, [size for _, size in self._components])
        self._extensions: OrderedDict[str, tuple[_Draws, np.ndarray, np.ndarray]] = OrderedDict()
        logger.info(
            "likelihood pool: %d draws (%d components), prior-to-posterior ESS %.0f",
            self.size,
            len(self._components),
            self.weights(priors, allow_extend=False).ess,
        )

    @property
    def size(self) -> int:
        """Number of draws in the fixed part of the pool."""
        return self.draws.size

    # -- building ---------------------------------------------------------------------------

    @staticmethod
    def _sample(rng: np.random.Generator, alphas: list[np.ndarray], size: int) -> list[np.ndarray]:
        out = []
        for alpha in alphas:
            draws = rng.dirichlet(alpha, size=size)
            # a flattened Dirichlet can put a component at exactly 0 in floating point: keep
            # every draw interior so its density and likelihood are finite
            draws = np.clip(draws, 1e-300, None)
            out.append(draws / draws.sum(axis=-1, keepdims=True))
        return out

    def _evaluate(self, params: list[np.ndarray]) -> _Draws:
        """Exact log-likelihood, question probabilities and marginals of every draw."""
        scenario = self.engine.scenario
        n = params[0].shape[0]
        reached = reached_by_month(scenario)
        extra = tuple(q for qs in reached.values() for q in qs)
        loglik, questions, curves = [], [], []
        marginals: dict[str, list[np.ndarray]] = {node.name: [] for node in scenario.nodes}
        for start in range(0, n, _CHUNK):
            chunk = [p[start : start + _CHUNK] for p in params]
            result = self.engine.run_draws(
                chunk, self.evidence, questions=scenario.questions + extra
            )
            loglik.append(np.asarray(result.loglik, dtype=float))
            if reached:
                curves.append(
                    np.stack(
                        [
                            np.stack([result.questions[q.id] for q in qs], axis=-1)
                            for qs in reached.values()
                        ],
                        axis=-2,
                    )
                )
            if scenario.questions:
                questions.append(
                    np.stack([result.questions[q.id] for q in scenario.questions], axis=-1)
                )
            for name in marginals:
                marginals[name].append(result.marginals[name])
        quantities = {f"p_{name}": np.concatenate(m) for name, m in marginals.items()}
        if scenario.questions:
            quantities["question_prob"] = np.concatenate(questions)
        if reached:
            quantities[REACHED_VAR] = np.concatenate(curves)
        return _Draws(params, np.concatenate(loglik), quantities)

    @staticmethod
    def _log_component(alphas: list[np.ndarray], params: list[np.ndarray]) -> np.ndarray:
        return np.sum([rule_log_density(a, p) for a, p in zip(alphas, params, strict=True)], axis=0)

    def _component_logs(self, params: list[np.ndarray], components) -> np.ndarray:
        """``log(n_j / n) + log q_j`` of every component ``j`` (rows) at every draw."""
        return np.stack([self._log_component(a, params) for a, _ in components])

    def _mixture(self, logs: np.ndarray, sizes: list[int]) -> np.ndarray:
        """Log density of the deterministic mixture from the components' log densities."""
        shares = np.log(np.asarray(sizes, dtype=float) / sum(sizes))
        return special.logsumexp(logs + shares[:, None], axis=0)

    def _extension(self, priors: Priors) -> tuple[_Draws, np.ndarray, np.ndarray]:
        """Draws from ``priors`` themselves and the mixture densities with them (cached)."""
        key = priors_digest(priors)
        if key in self._extensions:
            self._extensions.move_to_end(key)
            return self._extensions[key]
        rng = np.random.default_rng([self.seed, 8, int(key[:12], 16)])
        alphas = [np.asarray(r.alpha, float) for r in priors.rules]
        extra = self._evaluate(self._sample(rng, alphas, self.extend_size))
        components = [*self._components, (alphas, self.extend_size)]
        sizes = [size for _, size in components]
        # the fixed draws' densities under the fixed components are kept; only the new
        # component's density is computed there
        old_logs = np.vstack([self._logs, self._log_component(alphas, self.draws.params)[None]])
        new_logs = self._component_logs(extra.params, components)
        entry = (extra, self._mixture(old_logs, sizes), self._mixture(new_logs, sizes))
        self._extensions[key] = entry
        while len(self._extensions) > _EXTENSIONS_KEPT:
            self._extensions.popitem(last=False)
        return entry

    # -- weighting --------------------------------------------------------------------------

    def _weigh(
        self, priors: Priors, params: list[np.ndarray], loglik: np.ndarray, log_mix: np.ndarray
    ) -> tuple[np.ndarray, float, float]:
        with np.errstate(invalid="ignore"):
            log_ratio = log_prior_draws(priors, params) + loglik - log_mix
        log_ratio = np.where(np.isnan(log_ratio), -np.inf, log_ratio)
        weights, k = psis_weights(log_ratio)
        return weights, k, effective_sample_size(weights)

    def weights(self, priors: Priors, allow_extend: bool = True) -> PoolWeights:
        """Importance weights of the pool under ``priors``, extended when needed.

        Parameters
        ----------
        priors : Priors
            Any priors of the same rules.
        allow_extend : bool
            Add draws from ``priors`` when the fixed pool does not cover them.
        """
        weights, k, ess = self._weigh(
            priors, self.draws.params, self.draws.loglik, self.log_mixture
        )
        found = PoolWeights(weights, k, ess, extended=False)
        if found.reliable or not allow_extend:
            return found
        extra, log_mix_old, log_mix_new = self._extension(priors)
        pairs = zip(self.draws.params, extra.params, strict=True)
        params = [np.concatenate([a, b]) for a, b in pairs]
        loglik = np.concatenate([self.draws.loglik, extra.loglik])
        weights, k, ess = self._weigh(
            priors, params, loglik, np.concatenate([log_mix_old, log_mix_new])
        )
        return PoolWeights(weights, k, ess, extended=True)

    def take(self, found: PoolWeights, indices: np.ndarray, priors: Priors) -> dict:
        """Parameters and answers of the draws ``indices`` (of the pool, as weighed).

        Returns
        -------
        dict
            ``"params"``: one ``(len(indices), outcomes)`` array per rule; the answers under
            their variable names (``question_prob``, ``p_<node>``).
        """
        if not found.extended:  # index the pool itself (no copy of its arrays)
            out: dict = {"params": [p[indices] for p in self.draws.params]}
            out.update({name: q[indices] for name, q in self.draws.quantities.items()})
            return out
        extra = self._extension(priors)[0]
        own = indices < self.size
        picked = np.where(own, indices, 0)
        theirs = np.where(own, 0, indices - self.size)

        def gather(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            mask = own.reshape(-1, *([1] * (a.ndim - 1)))
            return np.where(mask, a[picked], b[theirs])

        out = {
            "params": [gather(a, b) for a, b in zip(self.draws.params, extra.params, strict=True)]
        }
        for name, values in self.draws.quantities.items():
            out[name] = gather(values, extra.quantities[name])
        return out
