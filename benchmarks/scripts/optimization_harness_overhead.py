"""Measure the harness's own cost per iterate in the optimization suite.

Runs gradient descent in-process on the quick least-squares instances and on the standard
kappa = 1e4 instance, with the full budget of each, and compares the cell's wall time with
the optimizer's own time that the harness reports. The difference per iterate is the cost of
checking the iterate, evaluating the progress measure and recording it, plus the fixed cost
of building the instance and fitting the rates, spread over the iterates.

Usage: python benchmarks/scripts/optimization_harness_overhead.py
"""

from __future__ import annotations

import os
import time

from theorybench.impls.optimization.gradient import GradientDescent
from theorybench.testing import run_in_process
from theorybench.worker import load_suite


def main() -> int:
    suite = load_suite("optimization")
    task = suite.task("least_squares")
    cases = [("quick", params) for params in task.instances("quick")] + [("standard", task.instances("standard")[1])]
    # A first cell imports and caches everything, so the timed cells measure the steady state.
    run_in_process("optimization", "least_squares", task.instances("quick")[0], GradientDescent)
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print(f"{'tier':9s} {'instance':55s} {'iterates':>8s} {'cell s':>8s} {'optimizer s':>11s} {'overhead us/iterate':>20s}")
    for tier, params in cases:
        start = time.perf_counter()
        result = run_in_process("optimization", "least_squares", params, GradientDescent, tier=tier)
        wall = time.perf_counter() - start
        iterates = result.metrics["iterations_total"]
        optimizer = result.metrics["time_total_s"]
        overhead = (wall - optimizer) / iterates * 1e6
        label = ",".join(f"{key}={value}" for key, value in sorted(params.items()))
        print(f"{tier:9s} {label:55s} {iterates:8d} {wall:8.3f} {optimizer:11.3f} {overhead:20.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
