"""Time the tiled online-softmax torch baseline against SDPA (and the others) on the CPU.

Each implementation runs `attention(q, k, v, causal)` on float32 inputs of shape
(batch, heads, N, d) through theorybench.measure (warm-up excluded, median and IQR), with the
thread count fixed. Peak memory is the process RSS growth of one call.

Usage: python benchmarks/scripts/attention_io_cpu_timing.py [--n 4096] [--d 64] [--heads 4] [--threads 2]
"""

from __future__ import annotations

import argparse

import torch

from theorybench.impls.attention_io.flash import FlashAttention2
from theorybench.impls.attention_io.naive import NaiveAttention
from theorybench.impls.attention_io.row_chunked import RowChunkedAttention
from theorybench.impls.attention_io.sdpa import SDPA
from theorybench.measure import TimerSpec, measure, peak_memory
from theorybench.suites.attention_io.runtime_harness import forward_flops, pinned_mmap_threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="sequence length N")
    parser.add_argument("--d", type=int, default=64, help="head dimension d")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per implementation")
    parser.add_argument("--naive", action="store_true", help="also time the naive and row-chunked baselines")
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, args.batch, args.heads, args.n, args.d, generator=generator).unbind(0)
    implementations = [FlashAttention2(), SDPA()]
    if args.naive:
        implementations += [NaiveAttention(), RowChunkedAttention()]
    spec = TimerSpec(warmup=1, repeats=args.repeats, min_run_time=1.0, threads=args.threads)
    print(f"shape (batch, heads, N, d) = ({args.batch}, {args.heads}, {args.n}, {args.d}), float32, {args.threads} threads")
    print(f"{'implementation':14s} {'causal':>6s} {'median s':>9s} {'IQR s':>8s} {'GFLOP/s':>8s} {'peak MiB':>9s}")
    for causal in (False, True):
        flops = forward_flops(args.batch, args.heads, args.n, args.d, causal)
        for implementation in implementations:
            def call():
                with torch.inference_mode():
                    return implementation.attention(q, k, v, causal)

            result = measure(call, spec)
            with pinned_mmap_threshold():
                _, peak = peak_memory(call)
            print(
                f"{implementation.name:14s} {str(causal):>6s} {result.median:9.4f} {result.iqr:8.4f} "
                f"{flops / result.median / 1e9:8.2f} {peak / 2**20:9.1f}"
            )


if __name__ == "__main__":
    main()
