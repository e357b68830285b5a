"""Naive attention: the N x N score matrix is materialized.

The I/O program runs the three kernels of standard attention one after the other, each through
slow memory: S = scale * Q K^T is written to slow memory, a two-pass row softmax turns S into P in
place, and O = P V is computed from P. Blocks of b query rows and b key rows span the full head
dimension d, with b the largest block size whose working set fits in M. The torch function
builds the full (N x N) score tensor per head.
"""

from __future__ import annotations

import math

import torch

from theorybench.suites.attention_io import AttentionImplementation, AttentionProblem, CapacityTooSmall


def naive_working_set(block: int, d: int) -> int:
    """Return the peak fast-memory words of the naive program with `block` rows per block."""
    product_kernels = 2 * block * d + block * block
    softmax_kernel = block * block + 4 * block
    return max(product_kernels, softmax_kernel)


def naive_block_rows(n: int, d: int, capacity: int) -> int:
    """Return the largest block size b <= n whose working set fits in `capacity` words."""
    low, high = 0, n
    while low < high:
        middle = (low + high + 1) // 2
        if naive_working_set(middle, d) <= capacity:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        raise CapacityTooSmall(f"naive attention needs M >= {naive_working_set(1, d)} words for d = {d}, got M = {capacity}")
    return low


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, n)) for start in range(0, n, size)]


class NaiveAttention(AttentionImplementation):
    """Standard attention that writes the score matrix to memory."""

    name = "naive"
    version = "1.0"
    authors = ("TheoryBench maintainers",)
    reference = "Dao et al., FlashAttention, NeurIPS 2022, Algorithm 0 (standard attention)"
    devices = ("cpu", "cuda")

    def program(self, memory, problem: AttentionProblem) -> None:
        n, d = problem.n, problem.d
        block = naive_block_rows(n, d, problem.capacity)
        blocks = _blocks(n, block)
        q, k, v, o = memory.slow("Q"), memory.slow("K"), memory.slow("V"), memory.slow("O")
        scores = memory.allocate_slow("S", n, n)

        # Kernel 1: S = scale * Q K^T, masked, to slow memory.
        for i0, i1 in blocks:
            q_block = memory.load(q, i0, i1)
            for j0, j1 in blocks:
                k_block = memory.load(k, j0, j1)
                s = memory.matmul(q_block, k_block, transpose_b=True)
                memory.free(k_block)
                memory.scale(s, problem.scale)
                if problem.causal:
                    memory.mask_causal(s, i0, j0)
                memory.store(s, scores, i0, j0)
                memory.free(s)
            memory.free(q_block)

        # Kernel 2: row softmax of S in place, two passes over each block row.
        for i0, i1 in blocks:
            row_max = memory.allocate(i1 - i0, 1, -math.inf)
            row_sum = memory.allocate(i1 - i0, 1, 0.0)
            for j0, j1 in blocks:
                s = memory.load(scores, i0, i1, j0, j1)
                block_max = memory.row_max(s)
                new_max = memory.copy(row_max)
                memory.maximum(new_max, block_max)
                memory.free(block_max)
                memory.subtract(row_max, new_max)
                memory.exp(row_max)
                memory.multiply(row_sum, row_max)
                memory.free(row_max)
                row_max = new_max
                memory.subtract(s, row_max)
                memory.exp(s)
                block_sum = memory.row_sum(s)
                memory.add(row_sum, block_sum)
                memory.free(block_sum, s)
            for j0, j1 in blocks:
                s = memory.load(scores, i0, i1, j0, j1)
                memory.subtract(s, row_max)
                memory.exp(s)
                memory.divide(s, row_sum)
                memory.store(s, scores, i0, j0)
                memory.free(s)
            memory.free(row_max, row_sum)

        # Kernel 3: O = P V.
        for i0, i1 in blocks:
            accumulator = memory.allocate(i1 - i0, d, 0.0)
            for j0, j1 in blocks:
                p = memory.load(scores, i0, i1, j0, j1)
                v_block = memory.load(v, j0, j1)
                memory.matmul(p, v_block, out=accumulator, accumulate=True)
                memory.free(p, v_block)
            memory.store(accumulator, o, i0)
            memory.free(accumulator)

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        # Scores in float32: half-precision scores of large magnitude lose whole units to rounding.
        scores = torch.matmul(q.float(), k.float().transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        if causal:
            n_q, n_k = scores.shape[-2:]
            hidden = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(hidden, float("-inf"))
        weights = torch.softmax(scores, dim=-1).to(q.dtype)
        return torch.matmul(weights, v)
