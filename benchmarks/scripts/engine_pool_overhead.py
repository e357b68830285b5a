"""Measure what isolation adds per cell: a cell through the warm local pool against in-process.

Two cells are timed:
- a CUDA cell on a machine without CUDA, which the worker answers "skipped" before loading
  anything: the pool's own round trip (dispatch, pickling, result);
- a real optimization cell whose optimizer stops at once, run through the pool and in-process;
  the difference is the isolation overhead of a real cell.

Usage: python benchmarks/scripts/engine_pool_overhead.py [--cells 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from theorybench.executors.local import LocalExecutor
from theorybench.plan import PlanRequest, plan_cells
from theorybench.registry import Registry
from theorybench.worker import execute_cell

EMPTY_OPTIMIZER = '''
from theorybench.suites.optimization import Optimizer


class StopsAtOnce(Optimizer):
    name = "bench-stops-at-once"
    tasks = ("least_squares",)

    def run(self, problem, x0):
        return
        yield
'''


def per_cell_seconds(executor: LocalExecutor, cells: list) -> list[float]:
    """Time each cell alone through the pool, one after the other."""
    times = []
    for cell in cells:
        start = time.perf_counter()
        results = list(executor.run([cell]))
        times.append(time.perf_counter() - start)
        assert len(results) == 1
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=200, help="cells timed per kind (default: 200)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        module = Path(folder) / "stops_at_once.py"
        module.write_text(EMPTY_OPTIMIZER)
        registry = Registry(extra_paths=[module])
        request = PlanRequest(suites=["optimization"], tasks=["least_squares"], implementations=["bench-stops-at-once"], trials=1, device="cpu")
        cells, _ = plan_cells(registry, request, added=registry.added)
        real_cell = next(cell for cell in cells if "diabetes" in cell.instance)
        skipped_cell = dataclasses.replace(real_cell, device="cuda")

        executor = LocalExecutor(workers=1, preload=("theorybench.suites.optimization",))
        executor.warm_up()
        per_cell_seconds(executor, [real_cell] * 5)  # the worker imports the suite and caches data

        pool_skipped = per_cell_seconds(executor, [skipped_cell] * args.cells)
        pool_real = per_cell_seconds(executor, [real_cell] * args.cells)
        executor.close()

        execute_cell(real_cell)
        in_process = []
        for _ in range(args.cells):
            start = time.perf_counter()
            execute_cell(real_cell)
            in_process.append(time.perf_counter() - start)

    def describe(label: str, values: list[float]) -> None:
        quartiles = statistics.quantiles(values, n=4)
        print(f"{label:<42} median {1000 * statistics.median(values):7.2f} ms   IQR {1000 * (quartiles[2] - quartiles[0]):6.2f} ms")

    describe("empty (skipped) cell through the warm pool", pool_skipped)
    describe("stop-at-once optimization cell, pool", pool_real)
    describe("stop-at-once optimization cell, in-process", in_process)
    print(f"isolation overhead of a real cell: {1000 * (statistics.median(pool_real) - statistics.median(in_process)):.2f} ms (median difference)")


if __name__ == "__main__":
    main()
