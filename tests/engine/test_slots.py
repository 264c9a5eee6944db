"""The slot lists (forecast.engine.slots) against a dense pass over every joint entry."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from forecast import load_scenario
from forecast.engine import ExactEngine, forced_state
from forecast.engine.kernels import (
    flat_params,
    flat_tables,
    lower_overrides,
    no_overrides,
    rule_args,
)
from forecast.engine.slots import (
    EntryPairs,
    entry_pairs,
    likelihood_pairs,
    node_weights,
    rules_in_pairs,
)
from forecast.engine.smoothing import draw_tables
from forecast.engine.synthetic import random_scenario
from tests.paths import SCENARIOS, TESTS


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> list[ExactEngine]:
    out = [ExactEngine(load_scenario(SCENARIOS / "tiny_chain.yaml"))]
    for seed in range(4):
        scenario = random_scenario(
            np.random.default_rng(100 + seed),
            folder=tmp_path_factory.mktemp(f"s{seed}"),
            n_nodes=4,
            max_states=3,
            n_months=5,
            evidence_rate=0.3,
        )
        out.append(ExactEngine(scenario))
    return out


def _draws(engine: ExactEngine, rng: np.random.Generator, n: int) -> np.ndarray:
    params = [
        rng.dirichlet(np.ones(len(r.destinations) + 1), size=n) for r in engine.scenario.rules
    ]
    return (
        np.concatenate([p.reshape(n, -1) for p in params], axis=1) if params else np.zeros((n, 0))
    )


def _dense_pass(
    engine: ExactEngine, weights: np.ndarray, month_variant: np.ndarray, variants: np.ndarray
) -> list[np.ndarray]:
    """Every contraction's input over all its entries (and the joint after the last month)."""
    low = engine.lowered
    joint = np.asarray(engine.initial_flat, dtype=float)
    inputs = []
    for t in range(weights.shape[0]):
        month_table = variants[month_variant[t]]
        for c in range(low.op_node.shape[0]):
            inputs.append(joint)
            out = np.zeros(low.out_size[c])
            first = low.entry_start[c]
            e0 = low.state_start[low.op_node[c]]
            kn = low.k_new[c]
            for r in range(low.entry_start[c + 1] - first):
                for k in range(kn):
                    cell = low.table_start[low.op_node[c]] + low.row[first + r] * kn + k
                    out[low.base[first + r] + k * low.stride[c]] += (
                        joint[r] * month_table[cell] * weights[t, e0 + k]
                    )
            joint = out
    inputs.append(joint)
    return inputs


def _slot_pass(
    pairs: EntryPairs,
    engine: ExactEngine,
    weights: np.ndarray,
    month_variant: np.ndarray,
    variants: np.ndarray,
) -> np.ndarray:
    n_ops = engine.lowered.op_node.shape[0]
    values = np.zeros(pairs.slot_start[-1])
    first = slice(pairs.slot_start[0], pairs.slot_start[1])
    values[first] = engine.initial_flat[pairs.slot_entry[first]]
    for g in range(len(pairs.start) - 1):
        t = g // n_ops
        for j in range(pairs.start[g], pairs.start[g + 1]):
            values[pairs.out[j]] += (
                values[pairs.src[j]]
                * variants[month_variant[t]][pairs.cell[j]]
                * weights[t, pairs.col[j]]
            )
    return values


def test_draw_tables_are_each_draws_table(engines) -> None:
    """``draw_tables`` (many draws) gives ``flat_tables`` of each draw, edges included."""
    rng = np.random.default_rng(0)
    for engine in engines:
        low = engine.lowered
        flat = _draws(engine, rng, 6)
        starts = low.rule_param_start
        for r in range(len(starts) - 1):
            # a stay probability of exactly one and of zero, as the transforms can give
            flat[0, starts[r] : starts[r + 1]] = np.eye(starts[r + 1] - starts[r])[0]
            flat[1, starts[r] : starts[r + 1]] = np.eye(starts[r + 1] - starts[r])[-1]
        want = np.array([flat_tables(row, low.fixed, *rule_args(low)) for row in flat])
        got = draw_tables(flat, low.fixed, *rule_args(low)).T
        assert_allclose(got, want, rtol=1e-15, atol=1e-15)
        assert np.all(np.isfinite(got))


def test_slots_are_the_support_of_the_dense_pass(engines) -> None:
    """The slots of each group are exactly the entries a dense pass leaves non-zero, and the
    pairs reproduce the dense pass on them (interventions and ruled-out states included)."""
    rng = np.random.default_rng(1)
    for engine in engines:
        scenario = engine.scenario
        months = scenario.timeline.n_steps
        weights = node_weights(engine.evidence())
        node = scenario.nodes[-1]
        cases = [(no_overrides(engine.lowered, months), weights)]
        override = forced_state(scenario, node.name, node.states[0], range(1, months))
        cases.append((lower_overrides(engine.lowered, [override], months), weights))
        ruled_out = weights.copy()
        ruled_out[0, engine.lowered.state_start[0]] = 0.0
        cases.append((no_overrides(engine.lowered, months), ruled_out))
        for overrides, w in cases:
            pairs = entry_pairs(engine.lowered, w, engine.initial_flat, overrides)
            table = flat_tables(
                flat_params(
                    [
                        p[0]
                        for p in np.split(
                            _draws(engine, rng, 1), engine.lowered.rule_param_start[1:-1], axis=1
                        )
                    ]
                ),
                engine.lowered.fixed,
                *rule_args(engine.lowered),
            )
            variants = np.concatenate([table[None], table[None] * overrides.keep + overrides.put])
            dense = _dense_pass(engine, w, overrides.month_variant, variants)
            slots = _slot_pass(pairs, engine, w, overrides.month_variant, variants)
            assert len(pairs.slot_start) == len(dense) + 1
            for g, values in enumerate(dense):
                entries = pairs.slot_entry[pairs.slot_start[g] : pairs.slot_start[g + 1]]
                assert_array_equal(entries, np.flatnonzero(values > 0.0))
                assert_allclose(
                    slots[pairs.slot_start[g] : pairs.slot_start[g + 1]],
                    values[entries],
                    rtol=1e-12,
                    atol=0,
                )
            assert np.all(
                pairs.weight
                == w[
                    np.repeat(
                        np.arange(len(pairs.start) - 1) // engine.lowered.op_node.shape[0],
                        np.diff(pairs.start),
                    ),
                    pairs.col,
                ]
            )


def _reached(engine: ExactEngine, evidence: list[np.ndarray]) -> np.ndarray:
    pairs = likelihood_pairs(engine.engine_evidence(evidence), engine.lowered, engine.initial_flat)
    return rules_in_pairs(engine.lowered, pairs)


def test_a_rule_no_likelihood_pass_reads_does_not_change_the_likelihood(engines) -> None:
    """Re-drawing the rules ``rules_in_pairs`` leaves out keeps the log-likelihood exactly."""
    rng = np.random.default_rng(41)
    left_out = 0
    for engine in engines:
        scenario = engine.scenario
        for as_of in (scenario.timeline.month_end_date(0), None):
            evidence = engine.evidence(as_of)
            reached = _reached(engine, evidence)
            for _ in range(3):
                params = [rng.dirichlet(np.ones(len(r.destinations) + 1)) for r in scenario.rules]
                base = engine.loglik(params, evidence)
                redrawn = [
                    p if hit else rng.dirichlet(np.ones(p.shape[0]))
                    for p, hit in zip(params, reached, strict=True)
                ]
                assert_allclose(engine.loglik(redrawn, evidence), base, rtol=1e-12, atol=1e-12)
            left_out += int((~reached).sum())
    assert left_out > 0  # the check ran on some rules


def test_kursk_election_step_is_read_only_once_evidence_reaches_november() -> None:
    """As of the article no evidence reaches the vote count of November 2024; later it does."""
    engine = ExactEngine(load_scenario(TESTS.parent / "scenarios" / "kursk_2024.yaml"))
    names = [r.name for r in engine.scenario.rules]
    step = names.index("us_president:undecided@3")
    assert not _reached(engine, engine.evidence(dt.date(2024, 9, 30)))[step]
    assert _reached(engine, engine.evidence(None))[step]
