"""Time from a judgement edit in the prior editor to the redrawn forecast (warm process).

For every judgement of the Kursk scenario, the best guess is moved near each end of its
stated interval (5% of the interval's width inside it, since the best guess must lie strictly
inside) through the editor's own control, as a forecaster would type it, and the time until
the figure and the before/after table are redrawn is taken. After each edit the editor is
reset to the file (not timed). Prints the median, 90th percentile and maximum, and how many
edits needed NUTS or draws from the edited priors themselves.

    .venv/bin/python benchmarks/bench_editor.py [--as-of 2024-09-30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import forecast
from forecast.jupyter import PriorEditor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/kursk_2024.yaml")
    parser.add_argument("--as-of", default="2024-09-30")
    args = parser.parse_args()

    model = forecast.ScenarioModel.from_file(args.scenario)
    start = time.perf_counter()
    fit = model.fit(as_of=args.as_of)
    fitted = time.perf_counter() - start
    start = time.perf_counter()
    editor = PriorEditor(fit)
    opened = time.perf_counter() - start
    editor.wait_ready()
    ready = time.perf_counter() - start
    print(
        f"fit {fitted:.2f} s; editor shown after {opened:.2f} s, likelihood pool ready "
        f"after {ready:.2f} s"
    )

    times, routes = [], []
    for controls in editor._controls.values():
        for row in controls.rows:
            low, high = row.low.value, row.high.value
            for best in (low + 0.05 * (high - low), high - 0.05 * (high - low)):
                start = time.perf_counter()
                row.best.value = round(best, 6)
                times.append(time.perf_counter() - start)
                fit_now = editor.fit
                source = fit_now.idata.posterior.attrs.get("reweight_source", "nuts")
                extended = fit_now.reweighting.get("extended", 0.0) > 0
                route = "nuts" if fit_now.method == "nuts" else source
                routes.append(f"{route} (+ draws from the edited priors)" if extended else route)
                editor.reset()
    times_arr = np.array(times)
    print(f"{len(times)} edits (every judgement's best guess near each end of its interval)")
    print(
        f"edit -> redrawn forecast: median {np.median(times_arr):.3f} s, "
        f"90th percentile {np.quantile(times_arr, 0.9):.3f} s, max {times_arr.max():.3f} s"
    )
    for route in sorted(set(routes)):
        print(f"  {route}: {routes.count(route)} edits")
    print(f"  figure redrawn whole (a panel's y-range grew): {editor._figure.full_draws - 1} times")


if __name__ == "__main__":
    main()
