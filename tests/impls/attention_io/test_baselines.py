"""The bundled attention baselines: torch functions against float64, block sizes and limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theorybench.impls.attention_io import flash, naive, row_chunked, square_tiling
from theorybench.impls.attention_io.flash import FlashAttention2, flash1_block_sizes, flash1_working_set, flash2_block_sizes, flash2_working_set
from theorybench.impls.attention_io.naive import NaiveAttention, naive_block_rows, naive_working_set
from theorybench.impls.attention_io.row_chunked import RowChunkedAttention
from theorybench.impls.attention_io.sdpa import SDPA
from theorybench.impls.attention_io.square_tiling import SquareTiling, square_tile_size
from theorybench.suites.attention_io import AttentionProblem, CapacityTooSmall, TwoLevelMemory
from theorybench.suites.attention_io.reference import attention_reference

TORCH_BASELINES = (NaiveAttention, RowChunkedAttention, FlashAttention2, SDPA)


@pytest.mark.parametrize("implementation", TORCH_BASELINES, ids=lambda cls: cls.name)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", [1, 7, 300, 513])
def test_torch_attention_matches_float64(implementation, causal, n):
    generator = torch.Generator().manual_seed(n)
    q, k, v = torch.randn(3, 2, 3, n, 32, generator=generator, dtype=torch.float64).unbind(0)
    expected = attention_reference(q.numpy(), k.numpy(), v.numpy(), causal, 32**-0.5)
    output = implementation().attention(q.float(), k.float(), v.float(), causal)
    assert output.shape == q.shape
    assert output.dtype == torch.float32
    np.testing.assert_allclose(output.double().numpy(), expected, atol=2e-5, rtol=0)


@pytest.mark.parametrize("implementation", TORCH_BASELINES, ids=lambda cls: cls.name)
def test_torch_attention_keeps_bfloat16(implementation):
    q, k, v = torch.randn(3, 1, 2, 64, 16).to(torch.bfloat16).unbind(0)
    output = implementation().attention(q, k, v, True)
    assert output.dtype == torch.bfloat16
    expected = attention_reference(q.double().numpy(), k.double().numpy(), v.double().numpy(), True, 0.25)
    assert np.max(np.abs(output.double().numpy() - expected)) < 5e-2


def test_row_chunked_splits_long_sequences(monkeypatch):
    monkeypatch.setattr(row_chunked, "CHUNK_SCORE_ENTRIES", 64 * 10)
    q, k, v = torch.randn(3, 1, 1, 64, 8, dtype=torch.float64).unbind(0)
    expected = attention_reference(q.numpy(), k.numpy(), v.numpy(), True, 8**-0.5)
    np.testing.assert_allclose(RowChunkedAttention().attention(q, k, v, True).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("n,d,capacity", [(1000, 16, 100), (1000, 64, 4096), (50, 8, 10**6), (4096, 128, 70000)])
def test_block_sizes_fit_and_are_maximal(n, d, capacity):
    block = naive_block_rows(n, d, capacity)
    assert naive_working_set(block, d) <= capacity
    assert block == n or naive_working_set(block + 1, d) > capacity

    block_rows, block_cols = flash1_block_sizes(n, d, capacity)
    assert flash1_working_set(block_rows, block_cols, d) <= capacity
    assert block_cols <= max(1, -(-capacity // (4 * d)))
    assert block_rows <= min(block_cols, d) or block_rows <= d

    block_rows, block_cols = flash2_block_sizes(n, d, capacity)
    assert flash2_working_set(block_rows, block_cols, d) <= capacity
    assert block_cols <= d


def test_flash_blocks_follow_paper_sizes():
    # With M = 64 d^2 the paper sizes (B_c = M / 4d = 16 d, B_r = d) fit after a small shrink.
    d, capacity = 16, 64 * 16 * 16
    block_rows, block_cols = flash1_block_sizes(10**6, d, capacity)
    assert block_rows == d
    assert 0.8 * capacity / (4 * d) <= block_cols <= capacity / (4 * d)


def test_square_tile_size_formula():
    assert square_tile_size(16) == 2
    assert square_tile_size(1023) == 15
    assert square_tile_size(1024) == 16


@pytest.mark.parametrize(
    "program_class,n,d,capacity,message",
    [
        (naive.NaiveAttention, 64, 16, 32, "naive attention needs M >= 33"),
        (row_chunked.RowChunkedAttention, 256, 16, 200, "needs M >= 291"),
        (flash.FlashAttention1, 64, 16, 64, "FlashAttention-1 tiling needs M >= 68"),
        (flash.FlashAttention2, 64, 16, 40, "FlashAttention-2 tiling needs M >= 53"),
        (square_tiling.SquareTiling, 64, 16, 4, "square tiling needs M >= 5"),
    ],
)
def test_programs_reject_too_small_memory(program_class, n, d, capacity, message):
    memory = TwoLevelMemory(capacity, shape=(n, d), compute=False)
    with pytest.raises(CapacityTooSmall, match=message):
        program_class().program(memory, AttentionProblem.build(n, d, capacity, False, True))
    assert memory.counts()["words_moved"] == 0


def test_square_tiling_skips_masked_blocks():
    n, d, capacity = 128, 16, 64
    counts = {}
    for causal in (False, True):
        memory = TwoLevelMemory(capacity, shape=(n, d), compute=False)
        SquareTiling().program(memory, AttentionProblem.build(n, d, capacity, causal, True))
        counts[causal] = memory.counts()["words_moved"]
    assert counts[True] < 0.6 * counts[False]
