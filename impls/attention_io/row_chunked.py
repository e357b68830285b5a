"""Row-chunked attention: exact softmax over whole rows, one chunk of query rows at a time.

The I/O program keeps the b x N scores of a chunk of b query rows in fast memory, so the softmax
needs no rescaling, and it streams K and V once per chunk. The chunk size b is the largest whose
working set fits in M: b N scores, the Q chunk, one K or V block of at least b rows and three
b x 1 vectors. The K/V blocks then take the space left. It needs M > N + 2d words, and K and V are
read ceil(N / b) times, about 2 N^2 d (N + 2d) / M words in all. The torch function splits the
queries into chunks so the score tensor never exceeds a fixed number of entries.
"""

from __future__ import annotations

import math

import torch

from theorybench.suites.attention_io import AttentionImplementation, AttentionProblem, CapacityTooSmall

#: Largest number of score entries (batch x heads x rows x N) one chunk of the torch function holds.
CHUNK_SCORE_ENTRIES = 1 << 22


def row_chunked_working_set(chunk: int, key_block: int, n: int, d: int) -> int:
    """Return the peak fast-memory words with `chunk` query rows per chunk and `key_block` rows per K/V block."""
    return chunk * n + chunk * d + key_block * d + 3 * chunk


def key_block_rows(chunk: int, n: int, d: int, capacity: int) -> int:
    """Return the largest K/V block (at most n rows) that fits beside a chunk of `chunk` rows."""
    spare = capacity - chunk * n - chunk * d - 3 * chunk
    return max(1, min(n, spare // d))


def row_chunk_rows(n: int, d: int, capacity: int) -> int:
    """Return the largest chunk size b <= n whose working set fits in `capacity` words."""
    chunk = min(n, capacity // (n + 2 * d + 3))
    if chunk < 1:
        raise CapacityTooSmall(
            f"row-chunked attention keeps whole score rows in fast memory and needs M >= {n + 2 * d + 3} words "
            f"for N = {n}, d = {d}; got M = {capacity}"
        )
    return chunk


class RowChunkedAttention(AttentionImplementation):
    """Attention over chunks of query rows with a full-row softmax per chunk."""

    name = "row-chunked"
    version = "1.0"
    authors = ("TheoryBench maintainers",)
    reference = "Query chunking as in Rabe and Staats, Self-attention does not need O(n^2) memory, 2021 (without key chunking)"
    devices = ("cpu", "cuda")

    def program(self, memory, problem: AttentionProblem) -> None:
        n, d = problem.n, problem.d
        chunk = row_chunk_rows(n, d, problem.capacity)
        key_block = key_block_rows(chunk, n, d, problem.capacity)
        q, k, v, o = memory.slow("Q"), memory.slow("K"), memory.slow("V"), memory.slow("O")

        for i0 in range(0, n, chunk):
            i1 = min(i0 + chunk, n)
            # With the causal mask, key blocks past the chunk's last row are skipped.
            key_blocks = [(j0, min(j0 + key_block, n)) for j0 in range(0, n, key_block) if not (problem.causal and j0 > i1 - 1)]

            q_chunk = memory.load(q, i0, i1)
            scores = []
            for j0, j1 in key_blocks:
                k_block = memory.load(k, j0, j1)
                s = memory.matmul(q_chunk, k_block, transpose_b=True)
                memory.free(k_block)
                memory.scale(s, problem.scale)
                if problem.causal:
                    memory.mask_causal(s, i0, j0)
                scores.append(s)
            memory.free(q_chunk)

            row_max = memory.allocate(i1 - i0, 1, -math.inf)
            for s in scores:
                block_max = memory.row_max(s)
                memory.maximum(row_max, block_max)
                memory.free(block_max)
            row_sum = memory.allocate(i1 - i0, 1, 0.0)
            for s in scores:
                memory.subtract(s, row_max)
                memory.exp(s)
                block_sum = memory.row_sum(s)
                memory.add(row_sum, block_sum)
                memory.free(block_sum)
            memory.free(row_max)

            accumulator = memory.allocate(i1 - i0, d, 0.0)
            for (j0, j1), p in zip(key_blocks, scores):
                v_block = memory.load(v, j0, j1)
                memory.matmul(p, v_block, out=accumulator, accumulate=True)
                memory.free(v_block, p)
            memory.divide(accumulator, row_sum)
            memory.store(accumulator, o, i0)
            memory.free(accumulator, row_sum)

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        batch, heads, n_q, d = q.shape
        n_k = k.shape[-2]
        rows = max(1, CHUNK_SCORE_ENTRIES // (batch * heads * n_k))
        scale = d ** -0.5
        keys_transposed = k.float().transpose(-2, -1)
        outputs = []
        for i0 in range(0, n_q, rows):
            i1 = min(i0 + rows, n_q)
            # Scores in float32: half-precision scores of large magnitude lose whole units to rounding.
            scores = torch.matmul(q[..., i0:i1, :].float(), keys_transposed) * scale
            if causal:
                hidden = torch.arange(n_k, device=q.device)[None, :] > torch.arange(i0, i1, device=q.device)[:, None]
                scores = scores.masked_fill(hidden, float("-inf"))
            weights = torch.softmax(scores, dim=-1).to(q.dtype)
            outputs.append(torch.matmul(weights, v))
        return torch.cat(outputs, dim=-2)
