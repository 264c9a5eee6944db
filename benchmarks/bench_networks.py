"""Per-query time on the bnlearn networks: the static engine against pgmpy and pyAgrum.

Run from the repository root::

    .venv/bin/python benchmarks/bench_networks.py
    .venv/bin/python benchmarks/bench_networks.py --networks asia alarm --repeat 3

Each network (pgmpy's wheel ships them as ``.bif.gz``) is imported with ``forecast import``'s
reader (:func:`forecast.scenario.networks.network_scenario`) and queried the same way by each
library, side by side in one run: the posterior marginal of every node given evidence on two
nodes (the 4th and the second-to-last in topological order, first state). Printed per network:
milliseconds per query (all marginals divided by the number of nodes; the median of
``--repeat`` runs) for this engine, pgmpy's ``VariableElimination`` and pyAgrum's
``LazyPropagation`` (a junction tree, all marginals at once), the ratios, and the largest
difference of our marginals from pyAgrum's. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

NETWORKS = ["asia", "cancer", "sachs", "alarm", "insurance", "hailfinder", "win95pts"]


def _median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, source: Path, folder: Path, repeat: int) -> str:
    """One network's row of the table."""
    import pyagrum as gum
    from pgmpy.inference import VariableElimination
    from pgmpy.readwrite import BIFReader

    from forecast.engine.exact import ExactEngine, evidence_matrices
    from forecast.scenario import scenario_from_dict
    from forecast.scenario.networks import network_scenario

    path = folder / f"{name}.bif"
    with gzip.open(source / f"{name}.bif.gz") as f:
        path.write_bytes(f.read())
    try:
        found = network_scenario(path)
    except Exception as exc:  # a file pyAgrum's BIF reader refuses (child's names)
        return f"{name:<11} not read: {str(exc).splitlines()[-1][:80]}"
    scenario = scenario_from_dict(found.scenario, name=f"{name}.yaml", folder=folder)
    nodes = scenario.nodes
    observed = {nodes[3].label: 0, nodes[-2].label: 0}
    evidence = evidence_matrices(scenario, ())
    for node in (nodes[3], nodes[-2]):
        k = scenario.node_index[node.name]
        evidence[k][0] = 0.0
        evidence[k][0, 0] = 1.0
    engine = ExactEngine(scenario)
    ours_s = _median_seconds(lambda: engine.run([], evidence), repeat)

    reference = gum.loadBN(str(path))
    for n in reference.nodes():
        reference.cpt(n).normalizeAsCPT()

    def agrum() -> dict[str, np.ndarray]:
        inference = gum.LazyPropagation(reference)
        inference.setEvidence(observed)
        inference.makeInference()
        return {n.name: inference.posterior(n.label).toarray() for n in nodes}

    agrum_s = _median_seconds(agrum, repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BIFReader(str(path)).get_model()
        ve = VariableElimination(model)
        states = {v: model.get_cpds(v).state_names[v] for v in model.nodes()}
        given = {label: states[label][k] for label, k in observed.items()}
        queried = [n.label for n in nodes if n.label not in given]

        def pgmpy() -> None:
            for label in queried:
                ve.query([label], evidence=given, show_progress=False)

        pgmpy_s = _median_seconds(pgmpy, max(1, repeat // 2))
    result = engine.run([], evidence)
    theirs = agrum()
    diff = max(float(np.abs(result.marginals[n.name][0] - theirs[n.name]).max()) for n in nodes)
    ours_q = 1e3 * ours_s / len(nodes)
    pgmpy_q = 1e3 * pgmpy_s / len(queried)
    agrum_q = 1e3 * agrum_s / len(nodes)
    return (
        f"{name:<11} {len(nodes):>5} {ours_q:>10.2f} {pgmpy_q:>11.2f} {agrum_q:>13.3f} "
        f"{pgmpy_q / ours_q:>11.2f} {agrum_q / ours_q:>13.3f} {diff:>11.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=NETWORKS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    source = Path(str(importlib.resources.files("pgmpy") / "utils" / "example_models"))
    folder = Path(tempfile.mkdtemp())
    header = (
        f"{'network':<11} {'nodes':>5} {'ours ms/q':>10} {'pgmpy ms/q':>11} {'pyAgrum ms/q':>13}"
    )
    print(header + f" {'pgmpy/ours':>11} {'pyAgrum/ours':>13} {'max |diff|':>11}")
    for name in args.networks:
        print(bench(name, source, folder, args.repeat))


if __name__ == "__main__":
    main()
