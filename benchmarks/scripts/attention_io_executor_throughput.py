"""Measure how many slow-memory words per second the count-only executor accounts.

Each configuration runs one baseline program in count-only mode (no arithmetic) and reports the
words moved, the executor steps, the wall time and their rates. Large tiles (M >= d^2) amortize
the per-step cost over many words; tiny tiles (M well below d^2) are bound by the per-step cost.

Usage: python benchmarks/scripts/attention_io_executor_throughput.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

from theorybench.impls.attention_io.flash import FlashAttention1, FlashAttention2
from theorybench.impls.attention_io.naive import NaiveAttention
from theorybench.impls.attention_io.square_tiling import SquareTiling
from theorybench.suites.attention_io import AttentionProblem, TwoLevelMemory

CONFIGURATIONS = [
    (FlashAttention1, 8192, 64, 4 * 64 * 64),
    (FlashAttention2, 8192, 64, 4 * 64 * 64),
    (FlashAttention2, 4096, 64, 64 * 64),
    (NaiveAttention, 4096, 64, 4 * 64 * 64),
    (SquareTiling, 2048, 64, 64 * 64 // 4),
    (SquareTiling, 1024, 16, 16 * 16 // 4),
]


def run_once(program_class, n: int, d: int, capacity: int) -> tuple[float, dict[str, int]]:
    memory = TwoLevelMemory(capacity, shape=(n, d), compute=False)
    problem = AttentionProblem.build(n, d, capacity, causal=False, scaled=True)
    start = time.perf_counter()
    program_class().program(memory, problem)
    return time.perf_counter() - start, memory.counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration; the fastest is reported")
    args = parser.parse_args()
    print(f"{'program':14s} {'N':>6s} {'d':>4s} {'M':>7s} {'words':>12s} {'steps':>10s} {'seconds':>8s} {'words/s':>10s} {'steps/s':>10s}")
    for program_class, n, d, capacity in CONFIGURATIONS:
        best, counts = min(run_once(program_class, n, d, capacity) for _ in range(args.repeats))
        print(
            f"{program_class.name:14s} {n:6d} {d:4d} {capacity:7d} {counts['words_moved']:12.4g} {counts['steps']:10d} "
            f"{best:8.3f} {counts['words_moved'] / best:10.3g} {counts['steps'] / best:10.3g}"
        )


if __name__ == "__main__":
    main()
