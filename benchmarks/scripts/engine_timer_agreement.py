"""Compare the harness's median time with torch.utils.benchmark's for the same kernel.

Both timers measure the same CPU kernel (a float32 matmul) in the same process with the same
thread count, alternating A, B, A, B ... so that drift of the machine's speed hits both. The
figure is the median over rounds of |harness / torch - 1|.

Usage: python benchmarks/scripts/engine_timer_agreement.py [--size 256] [--rounds 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.utils.benchmark as torch_benchmark

from theorybench.measure import TimerSpec, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="matrix size n of the n x n matmul (default: 256)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of both timers (default: 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both timers (default: 1)")
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per measurement of each timer (default: 1)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(args.size, args.size, generator=generator)
    b = torch.randn(args.size, args.size, generator=generator)

    def kernel() -> torch.Tensor:
        return a @ b

    reference = torch_benchmark.Timer(stmt="a @ b", globals={"a": a, "b": b}, num_threads=args.threads)
    differences = []
    for round_index in range(args.rounds):
        ours = measure(kernel, TimerSpec(warmup=3, repeats=15, min_run_time=args.min_run_time, threads=args.threads))
        theirs = reference.blocked_autorange(min_run_time=args.min_run_time)
        difference = ours.median / theirs.median - 1
        differences.append(abs(difference))
        print(f"round {round_index}: harness {1e6 * ours.median:8.2f} us (IQR {100 * ours.relative_iqr:4.1f}%)   "
              f"torch.utils.benchmark {1e6 * theirs.median:8.2f} us   difference {100 * difference:+5.2f}%")
    print(f"median |difference| over {args.rounds} rounds: {100 * statistics.median(differences):.2f}%")


if __name__ == "__main__":
    main()
