"""FlashAttention-style tiling with online softmax: FlashAttention-1 and -2 loop orders.

Both programs keep one block of K and V and one block of Q in fast memory and never write the
score matrix to slow memory. The softmax is computed online: each row keeps its running maximum
m and running sum l, and earlier partial results are rescaled by exp(m_old - m_new) when a new
block raises the maximum. Scores are exponentiated against the new maximum, which is finite once
the first key block (holding key 0, visible to every row) is processed, so rows that a causal
block masks entirely contribute zero instead of NaN.

Block sizes follow FlashAttention (Dao et al., NeurIPS 2022, Algorithm 1): the outer loop's block
gets ceil(M / 4d) rows and the inner loop's block min(ceil(M / 4d), d). The paper's sizes fit in
Theta(M) words, but this model enforces exactly M words. So `fit_blocks` shrinks the larger block
one row at a time until the program's working set fits.

- FlashAttention-1 (outer loop over K/V blocks, inner loop over Q blocks) keeps O, l and m in
  slow memory and reads and rewrites them for every K/V block: 2 N d + T_c (3 N d + 4 N) + N d
  + 2 N words without the causal mask, T_c = ceil(N / B_c).
- FlashAttention-2 (Dao, 2023; outer loop over Q blocks) keeps O, l and m of the query block in
  fast memory and writes O once: N d + 2 T_r N d + N d words, T_r = ceil(N / B_r). The log-sum-exp
  that FlashAttention-2 also writes for the backward pass is not stored (forward only).

The torch function is the FlashAttention-2 loop order written in torch, with the online softmax
kept in float32.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from theorybench.suites.attention_io import AttentionImplementation, AttentionProblem, CapacityTooSmall

#: Query and key block sizes of the torch function.
TORCH_QUERY_BLOCK = 256
TORCH_KEY_BLOCK = 256


def flash1_working_set(block_rows: int, block_cols: int, d: int) -> int:
    """Return the peak fast-memory words of the FlashAttention-1 program (B_r query rows, B_c key rows)."""
    kv = 2 * block_cols * d
    scores = block_rows * block_cols
    return kv + max(block_rows * d + scores, scores + block_rows * d + 3 * block_rows, 2 * block_rows * d + 4 * block_rows)


def flash2_working_set(block_rows: int, block_cols: int, d: int) -> int:
    """Return the peak fast-memory words of the FlashAttention-2 program (B_r query rows, B_c key rows)."""
    resident = 2 * block_rows * d + 2 * block_rows
    scores = block_rows * block_cols
    return resident + scores + max(block_cols * d, 2 * block_rows + block_cols * d)


def paper_block_sizes(d: int, capacity: int) -> tuple[int, int]:
    """Return (outer block, inner block) = (ceil(M / 4d), min(ceil(M / 4d), d))."""
    outer = math.ceil(capacity / (4 * d))
    return outer, min(outer, d)


def fit_blocks(
    outer: int,
    inner: int,
    n: int,
    capacity: int,
    working_set: Callable[[int, int], int],
    program: str,
) -> tuple[int, int]:
    """Clamp both block sizes to n, then shrink the larger one until working_set(outer, inner) <= capacity."""
    outer, inner = min(outer, n), min(inner, n)
    while working_set(outer, inner) > capacity:
        if outer >= inner:
            outer -= 1
        else:
            inner -= 1
        if outer < 1 or inner < 1:
            raise CapacityTooSmall(f"{program} needs M >= {working_set(1, 1)} words; got M = {capacity}")
    return outer, inner


def flash1_block_sizes(n: int, d: int, capacity: int) -> tuple[int, int]:
    """Return (B_r, B_c) of the FlashAttention-1 program."""
    outer, inner = paper_block_sizes(d, capacity)
    block_cols, block_rows = fit_blocks(
        outer, inner, n, capacity, lambda cols, rows: flash1_working_set(rows, cols, d), "FlashAttention-1 tiling"
    )
    return block_rows, block_cols


def flash2_block_sizes(n: int, d: int, capacity: int) -> tuple[int, int]:
    """Return (B_r, B_c) of the FlashAttention-2 program."""
    outer, inner = paper_block_sizes(d, capacity)
    block_rows, block_cols = fit_blocks(
        outer, inner, n, capacity, lambda rows, cols: flash2_working_set(rows, cols, d), "FlashAttention-2 tiling"
    )
    return block_rows, block_cols


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, n)) for start in range(0, n, size)]


class FlashAttention1(AttentionImplementation):
    """FlashAttention-1 tiling: K/V blocks outer, Q blocks inner, O, l and m through slow memory."""

    name = "flash1"
    version = "1.0"
    authors = ("TheoryBench maintainers",)
    reference = "Dao, Fu, Ermon, Rudra, Re, FlashAttention, NeurIPS 2022, Algorithm 1"
    devices = ("cpu", "cuda")

    def program(self, memory, problem: AttentionProblem) -> None:
        n, d = problem.n, problem.d
        block_rows, block_cols = flash1_block_sizes(n, d, problem.capacity)
        q, k, v, o = memory.slow("Q"), memory.slow("K"), memory.slow("V"), memory.slow("O")
        running_sum = memory.allocate_slow("l", n, 1)
        running_max = memory.allocate_slow("m", n, 1)

        for i0, i1 in _blocks(n, block_rows):
            zeros = memory.allocate(i1 - i0, d, 0.0)
            memory.store(zeros, o, i0)
            memory.free(zeros)
            zeros = memory.allocate(i1 - i0, 1, 0.0)
            memory.store(zeros, running_sum, i0)
            memory.fill(zeros, -math.inf)
            memory.store(zeros, running_max, i0)
            memory.free(zeros)

        for j0, j1 in _blocks(n, block_cols):
            k_block = memory.load(k, j0, j1)
            v_block = memory.load(v, j0, j1)
            for i0, i1 in _blocks(n, block_rows):
                if problem.causal and j0 > i1 - 1:
                    continue
                q_block = memory.load(q, i0, i1)
                s = memory.matmul(q_block, k_block, transpose_b=True)
                memory.free(q_block)
                memory.scale(s, problem.scale)
                if problem.causal:
                    memory.mask_causal(s, i0, j0)

                old_max = memory.load(running_max, i0, i1)
                block_max = memory.row_max(s)
                new_max = memory.copy(old_max)
                memory.maximum(new_max, block_max)
                memory.free(block_max)
                memory.subtract(s, new_max)
                memory.exp(s)
                block_sum = memory.row_sum(s)
                pv = memory.matmul(s, v_block)
                memory.free(s)

                rescale = old_max
                memory.subtract(rescale, new_max)
                memory.exp(rescale)
                old_sum = memory.load(running_sum, i0, i1)
                memory.multiply(old_sum, rescale)
                o_block = memory.load(o, i0, i1)
                memory.multiply(o_block, old_sum)
                memory.add(o_block, pv)
                memory.free(pv)
                new_sum = old_sum
                memory.add(new_sum, block_sum)
                memory.free(block_sum)
                memory.divide(o_block, new_sum)

                memory.store(o_block, o, i0)
                memory.store(new_sum, running_sum, i0)
                memory.store(new_max, running_max, i0)
                memory.free(o_block, new_sum, new_max, rescale)
            memory.free(k_block, v_block)


class FlashAttention2(AttentionImplementation):
    """FlashAttention-2 loop order: Q blocks outer, K/V blocks inner, O written once."""

    name = "flash2"
    version = "1.0"
    authors = ("TheoryBench maintainers",)
    reference = "Dao, FlashAttention-2, 2023, Algorithm 1 (forward pass)"
    devices = ("cpu", "cuda")

    def program(self, memory, problem: AttentionProblem) -> None:
        n, d = problem.n, problem.d
        block_rows, block_cols = flash2_block_sizes(n, d, problem.capacity)
        q, k, v, o = memory.slow("Q"), memory.slow("K"), memory.slow("V"), memory.slow("O")

        for i0, i1 in _blocks(n, block_rows):
            q_block = memory.load(q, i0, i1)
            accumulator = memory.allocate(i1 - i0, d, 0.0)
            row_max = memory.allocate(i1 - i0, 1, -math.inf)
            row_sum = memory.allocate(i1 - i0, 1, 0.0)
            for j0, j1 in _blocks(n, block_cols):
                if problem.causal and j0 > i1 - 1:
                    break
                k_block = memory.load(k, j0, j1)
                s = memory.matmul(q_block, k_block, transpose_b=True)
                memory.free(k_block)
                memory.scale(s, problem.scale)
                if problem.causal:
                    memory.mask_causal(s, i0, j0)

                block_max = memory.row_max(s)
                new_max = memory.copy(row_max)
                memory.maximum(new_max, block_max)
                memory.free(block_max)
                memory.subtract(s, new_max)
                memory.exp(s)
                block_sum = memory.row_sum(s)

                rescale = row_max
                memory.subtract(rescale, new_max)
                memory.exp(rescale)
                memory.multiply(row_sum, rescale)
                memory.add(row_sum, block_sum)
                memory.multiply(accumulator, rescale)
                memory.free(block_sum, rescale)
                row_max = new_max

                v_block = memory.load(v, j0, j1)
                memory.matmul(s, v_block, out=accumulator, accumulate=True)
                memory.free(v_block, s)
            memory.divide(accumulator, row_sum)
            memory.store(accumulator, o, i0)
            memory.free(q_block, accumulator, row_max, row_sum)

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        n_q, d = q.shape[-2:]
        n_k = k.shape[-2]
        scale = d ** -0.5
        output = torch.empty_like(q)
        for i0 in range(0, n_q, TORCH_QUERY_BLOCK):
            i1 = min(i0 + TORCH_QUERY_BLOCK, n_q)
            q_block = q[..., i0:i1, :].float() * scale
            accumulator = torch.zeros(q_block.shape, dtype=torch.float32, device=q.device)
            row_max = torch.full((*q_block.shape[:-1], 1), -math.inf, dtype=torch.float32, device=q.device)
            row_sum = torch.zeros_like(row_max)
            for j0 in range(0, n_k, TORCH_KEY_BLOCK):
                if causal and j0 > i1 - 1:
                    break
                j1 = min(j0 + TORCH_KEY_BLOCK, n_k)
                s = torch.matmul(q_block, k[..., j0:j1, :].float().transpose(-2, -1))
                if causal and j1 - 1 > i0:
                    hidden = torch.arange(j0, j1, device=q.device)[None, :] > torch.arange(i0, i1, device=q.device)[:, None]
                    s = s.masked_fill(hidden, -math.inf)
                new_max = torch.maximum(row_max, s.amax(dim=-1, keepdim=True))
                p = torch.exp(s - new_max)
                rescale = torch.exp(row_max - new_max)
                row_sum = row_sum * rescale + p.sum(dim=-1, keepdim=True)
                accumulator = accumulator * rescale + torch.matmul(p, v[..., j0:j1, :].float())
                row_max = new_max
            output[..., i0:i1, :] = (accumulator / row_sum).to(q.dtype)
        return output
