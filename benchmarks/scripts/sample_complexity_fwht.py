"""Time the vectorized fast Walsh-Hadamard transform against two references.

For N = 2^10 .. 2^20 it times `fast_walsh_hadamard` (log2 N vectorized butterfly stages), a
butterfly with a Python loop over the pairs of each stage (the textbook form, up to 2^14), and
the dense product with scipy.linalg.hadamard (up to 2^12). It checks that the three agree, then
prints the median time, its interquartile range and the speed-up of the vectorized transform.

Usage: python benchmarks/scripts/sample_complexity_fwht.py [--max-bits 20]
"""

from __future__ import annotations

import argparse
import platform
import subprocess

import numpy as np
from scipy.linalg import hadamard

from theorybench.datasets.walsh import fast_walsh_hadamard
from theorybench.measure import TimerSpec, measure


def looped_walsh_hadamard(values: np.ndarray) -> np.ndarray:
    """Compute the transform with a Python loop over every butterfly pair (the slow reference)."""
    work = np.array(values, dtype=float)
    size = work.size
    half = 1
    while half < size:
        for start in range(0, size, 2 * half):
            for offset in range(start, start + half):
                upper, lower = work[offset], work[offset + half]
                work[offset], work[offset + half] = upper + lower, upper - lower
        half *= 2
    return work


def cpu_model() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    return next((line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("Model name:")), "unknown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-bits", type=int, default=20, help="largest log2 N to time (default: 20)")
    args = parser.parse_args()
    spec = TimerSpec(warmup=1, repeats=7, min_run_time=0.1, threads=1)
    rng = np.random.default_rng(0)
    print(f"CPU: {cpu_model()}; numpy {np.__version__}")
    print(f"{'N':>9} {'vectorized (ms)':>16} {'IQR %':>6} {'python loop (ms)':>17} {'dense (ms)':>11} {'loop / vec':>10}")
    for bits in range(10, args.max_bits + 1, 2):
        size = 2**bits
        values = rng.standard_normal(size)
        fast = measure(lambda: fast_walsh_hadamard(values), spec, "cpu")
        loop_ms = dense_ms = float("nan")
        if bits <= 14:
            reference = looped_walsh_hadamard(values)
            if not np.allclose(reference, fast_walsh_hadamard(values)):
                raise SystemExit(f"the vectorized transform disagrees with the loop at N = {size}")
            loop_ms = 1e3 * measure(lambda: looped_walsh_hadamard(values), TimerSpec(warmup=0, repeats=3, min_run_time=0.05), "cpu").median
        if bits <= 12:
            matrix = hadamard(size)
            if not np.allclose(matrix @ values, fast_walsh_hadamard(values)):
                raise SystemExit(f"the vectorized transform disagrees with the dense product at N = {size}")
            dense_ms = 1e3 * measure(lambda: matrix @ values, spec, "cpu").median
        fast_ms = 1e3 * fast.median
        print(
            f"{size:>9} {fast_ms:>16.3f} {100 * fast.relative_iqr:>6.1f} {loop_ms:>17.2f} {dense_ms:>11.3f} "
            f"{loop_ms / fast_ms:>10.0f}"
        )


if __name__ == "__main__":
    main()
