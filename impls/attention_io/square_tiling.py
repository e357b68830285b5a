"""Square tiling for a fast memory smaller than d^2.

When M < d^2 not even one query row and one key row fit comfortably, so every matrix product is
tiled along the head dimension too, with B x B tiles, B = floor(sqrt(M / 4)). The program writes
the N x N score matrix to slow memory, like naive attention, but its products cost
O(N^2 d / B) = O(N^2 d / sqrt(M)) words, which matches the lower bound of Saha and Ye (ICML 2024)
for M < d^2. Score blocks above the diagonal are skipped under the causal mask.

Three phases, each with at most three B x B tiles and a few B x 1 vectors live:
1. S = scale * Q K^T: each B x B block of S accumulates ceil(d / B) products of B x B tiles.
2. Row softmax of S in place: one pass for the running maximum and sum, one to normalize.
3. O = P V: each B x B block of O accumulates the products of P's and V's tiles.
"""

from __future__ import annotations

import math

from theorybench.suites.attention_io import AttentionImplementation, AttentionProblem, CapacityTooSmall


def square_tile_size(capacity: int) -> int:
    """Return B = floor(sqrt(M / 4))."""
    return math.isqrt(capacity // 4)


def square_working_set(tile: int) -> int:
    """Return the peak fast-memory words with B x B tiles."""
    return max(3 * tile * tile, tile * tile + 4 * tile)


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, n)) for start in range(0, n, size)]


class SquareTiling(AttentionImplementation):
    """Attention with every product tiled in B x B squares; the score matrix goes through slow memory."""

    name = "square-tiling"
    version = "1.0"
    authors = ("TheoryBench maintainers",)
    reference = "Saha and Ye, The I/O Complexity of Attention, ICML 2024 (algorithm for M < d^2)"
    devices = ("cpu",)

    def program(self, memory, problem: AttentionProblem) -> None:
        n, d = problem.n, problem.d
        tile = min(square_tile_size(problem.capacity), n)
        if tile < 1 or square_working_set(tile) > problem.capacity:
            raise CapacityTooSmall(f"square tiling needs M >= {square_working_set(1)} words; got M = {problem.capacity}")
        row_blocks = _blocks(n, tile)
        dim_blocks = _blocks(d, tile)
        q, k, v, o = memory.slow("Q"), memory.slow("K"), memory.slow("V"), memory.slow("O")
        scores = memory.allocate_slow("S", n, n)

        def visible(i1: int, j0: int) -> bool:
            return not (problem.causal and j0 > i1 - 1)

        # Phase 1: S = scale * Q K^T.
        for i0, i1 in row_blocks:
            for j0, j1 in row_blocks:
                if not visible(i1, j0):
                    continue
                s = memory.allocate(i1 - i0, j1 - j0, 0.0)
                for c0, c1 in dim_blocks:
                    q_tile = memory.load(q, i0, i1, c0, c1)
                    k_tile = memory.load(k, j0, j1, c0, c1)
                    memory.matmul(q_tile, k_tile, transpose_b=True, out=s, accumulate=True)
                    memory.free(q_tile, k_tile)
                memory.scale(s, problem.scale)
                if problem.causal:
                    memory.mask_causal(s, i0, j0)
                memory.store(s, scores, i0, j0)
                memory.free(s)

        # Phase 2: row softmax, S becomes P in place.
        for i0, i1 in row_blocks:
            row_max = memory.allocate(i1 - i0, 1, -math.inf)
            row_sum = memory.allocate(i1 - i0, 1, 0.0)
            for j0, j1 in row_blocks:
                if not visible(i1, j0):
                    continue
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
            for j0, j1 in row_blocks:
                if not visible(i1, j0):
                    continue
                s = memory.load(scores, i0, i1, j0, j1)
                memory.subtract(s, row_max)
                memory.exp(s)
                memory.divide(s, row_sum)
                memory.store(s, scores, i0, j0)
                memory.free(s)
            memory.free(row_max, row_sum)

        # Phase 3: O = P V.
        for i0, i1 in row_blocks:
            for c0, c1 in dim_blocks:
                accumulator = memory.allocate(i1 - i0, c1 - c0, 0.0)
                for j0, j1 in row_blocks:
                    if not visible(i1, j0):
                        continue
                    p = memory.load(scores, i0, i1, j0, j1)
                    v_tile = memory.load(v, j0, j1, c0, c1)
                    memory.matmul(p, v_tile, out=accumulator, accumulate=True)
                    memory.free(p, v_tile)
                memory.store(accumulator, o, i0, c0)
                memory.free(accumulator)
