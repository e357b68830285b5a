"""The two-level memory executor: capacity, locality, counting, provenance and count-only mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theorybench.impls.attention_io.flash import FlashAttention1, FlashAttention2, flash1_block_sizes, flash2_block_sizes
from theorybench.impls.attention_io.naive import NaiveAttention, naive_block_rows
from theorybench.impls.attention_io.row_chunked import RowChunkedAttention, row_chunk_rows
from theorybench.impls.attention_io.square_tiling import SquareTiling
from theorybench.suites.attention_io import (
    AttentionImplementation,
    AttentionProblem,
    CapacityExceeded,
    MemoryModelViolation,
    NotInFastMemory,
    TwoLevelMemory,
)
from theorybench.suites.attention_io.reference import attention_reference
from theorybench.testing import run_in_process

PROGRAMS = (NaiveAttention, RowChunkedAttention, FlashAttention1, FlashAttention2, SquareTiling)


KEY = object()


def value_memory(n: int = 8, d: int = 4, capacity: int = 64, seed: int = 0) -> tuple[TwoLevelMemory, np.ndarray]:
    qkv = np.random.default_rng(seed).standard_normal((3, n, d))
    return TwoLevelMemory(capacity, inputs={"Q": qkv[0], "K": qkv[1], "V": qkv[2]}, output_key=KEY), qkv


def run_program(program_class, n, d, capacity, causal=False, scaled=True, compute=True, seed=0):
    problem = AttentionProblem.build(n, d, capacity, causal, scaled)
    if compute:
        memory, qkv = value_memory(n, d, capacity, seed)
    else:
        memory, qkv = TwoLevelMemory(capacity, shape=(n, d), compute=False), None
    program_class().program(memory, problem)
    return memory, qkv, problem


def test_capacity_overflow_names_step_and_live_set():
    memory, _ = value_memory(capacity=60)
    q = memory.load(memory.slow("Q"), 0, 8)
    k = memory.load(memory.slow("K"), 0, 4)
    with pytest.raises(CapacityExceeded) as error:
        memory.load(memory.slow("V"), 0, 4)
    message = str(error.value)
    assert "step 3" in message
    assert "load V[0:4, 0:4] needs 16 words" in message
    assert "2 live tiles hold 48 words, total 64 > M = 60" in message
    assert f"t{q.id} load Q[0:8, 0:4] 8x4 (32 words)" in message
    assert f"t{k.id} load K[0:4, 0:4] 4x4 (16 words)" in message


def test_capacity_counts_intermediates():
    memory, _ = value_memory(capacity=40)
    q = memory.load(memory.slow("Q"), 0, 4)
    k = memory.load(memory.slow("K"), 0, 4)
    with pytest.raises(CapacityExceeded, match="matmul needs 16 words"):
        memory.matmul(q, k, transpose_b=True)
    memory.free(k)
    scores = memory.matmul(q, q, transpose_b=True)
    assert memory.live_words() == 32
    assert scores.shape == (4, 4)


def test_freeing_makes_room():
    memory, _ = value_memory(capacity=32)
    for _ in range(5):
        tile = memory.load(memory.slow("Q"), 0, 8)
        memory.free(tile)
    assert memory.counts()["reads"] == 5 * 32
    assert memory.counts()["peak_fast_words"] == 32


def test_compute_on_slow_memory_rejected():
    memory, _ = value_memory()
    tile = memory.load(memory.slow("Q"), 0, 2)
    with pytest.raises(NotInFastMemory, match="load data into fast memory first"):
        memory.matmul(tile, memory.slow("K"), transpose_b=True)
    with pytest.raises(NotInFastMemory):
        memory.exp(memory.slow("V"))
    with pytest.raises(NotInFastMemory):
        memory.add(tile, np.ones((2, 4)))


def test_compute_on_freed_or_foreign_tile_rejected():
    memory, _ = value_memory()
    other, _ = value_memory()
    tile = memory.load(memory.slow("Q"), 0, 2)
    foreign = other.load(other.slow("Q"), 0, 2)
    with pytest.raises(NotInFastMemory):
        memory.add(tile, foreign)
    memory.free(tile)
    with pytest.raises(NotInFastMemory, match="freed tile"):
        memory.exp(tile)
    with pytest.raises(NotInFastMemory):
        memory.free(tile)


def test_inputs_are_read_only():
    memory, _ = value_memory()
    tile = memory.load(memory.slow("Q"), 0, 2)
    with pytest.raises(MemoryModelViolation, match="read-only"):
        memory.store(tile, memory.slow("Q"), 0)


def test_out_of_range_load_rejected():
    memory, _ = value_memory()
    with pytest.raises(MemoryModelViolation, match="cannot load Q"):
        memory.load(memory.slow("Q"), 4, 12)
    with pytest.raises(MemoryModelViolation):
        memory.load(memory.slow("Q"), 2, 2)


def test_shape_mismatch_rejected():
    memory, _ = value_memory()
    a = memory.load(memory.slow("Q"), 0, 2)
    b = memory.load(memory.slow("K"), 0, 3)
    with pytest.raises(MemoryModelViolation, match="inner sizes differ"):
        memory.matmul(a, b)
    with pytest.raises(MemoryModelViolation, match="second operand"):
        memory.add(a, b)


def test_reads_and_writes_counted_per_word():
    memory, _ = value_memory(n=8, d=4, capacity=64)
    tile = memory.load(memory.slow("K"), 2, 7, 1, 3)
    scratch = memory.allocate_slow("S", 10, 10)
    memory.store(tile, scratch, 3, 4)
    memory.store(tile, scratch, 0, 0)
    counts = memory.counts()
    assert counts["reads"] == 10
    assert counts["writes"] == 20
    assert counts["words_moved"] == 30


def test_output_comes_only_from_stores():
    memory, qkv = value_memory(n=4, d=2, capacity=64)
    tile = memory.load(memory.slow("V"), 0, 2)
    memory.store(tile, memory.slow("O"), 2)
    output = memory.output(KEY)
    assert np.all(np.isnan(output[:2]))
    np.testing.assert_array_equal(output[2:], qkv[2][:2])
    assert memory.unstored_output_words() == 4


def test_count_only_mode_has_no_values():
    memory = TwoLevelMemory(16, shape=(4, 2), compute=False, output_key=KEY)
    with pytest.raises(RuntimeError, match="count-only"):
        memory.output(KEY)


def test_output_needs_the_harness_key():
    memory, _ = value_memory()
    with pytest.raises(MemoryModelViolation, match="output key"):
        memory.output(object())
    unkeyed = TwoLevelMemory(16, shape=(4, 2), compute=False)
    with pytest.raises(MemoryModelViolation, match="output key"):
        unkeyed.output(None)


class NeverStores(AttentionImplementation):
    name = "never-stores"

    def program(self, memory, problem):
        tile = memory.load(memory.slow("Q"), 0, 1)
        memory.free(tile)


class StoresZeros(AttentionImplementation):
    name = "stores-zeros"

    def program(self, memory, problem):
        zeros = memory.allocate(1, problem.d, 0.0)
        for row in range(problem.n):
            memory.store(zeros, memory.slow("O"), row)


class Overflows(AttentionImplementation):
    name = "overflows"

    def program(self, memory, problem):
        memory.load(memory.slow("Q"), 0, problem.n)


IO_PARAMS = {"N": 64, "d": 8, "M": 256, "causal": False, "scaled": True}


def test_program_that_never_stores_fails():
    result = run_in_process("attention_io", "io_variants", IO_PARAMS, NeverStores)
    assert result.status == "invalid"
    assert "never stored 512 of the 512 words of O" in result.reason


def test_never_stores_fails_count_only():
    params = {**IO_PARAMS, "N": 4096}
    result = run_in_process("attention_io", "io_length_sweep", params, NeverStores)
    assert result.status == "invalid"
    assert "never stored" in result.reason


def test_program_storing_wrong_values_fails():
    result = run_in_process("attention_io", "io_variants", IO_PARAMS, StoresZeros)
    assert result.status == "invalid"
    assert "differs from the float64 reference" in result.reason


def test_overflowing_program_is_invalid():
    result = run_in_process("attention_io", "io_variants", IO_PARAMS, Overflows)
    assert result.status == "invalid"
    assert "fast memory overflow" in result.reason
    assert "M = 256" in result.reason


@pytest.mark.parametrize("program_class", PROGRAMS, ids=lambda cls: cls.name)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("scaled", [False, True])
def test_program_matches_float64_reference(program_class, causal, scaled):
    memory, qkv, problem = run_program(program_class, 37, 8, 400, causal, scaled)
    reference = attention_reference(*qkv, causal, problem.scale)
    np.testing.assert_allclose(memory.output(KEY), reference, atol=1e-12, rtol=0)
    assert memory.counts()["peak_fast_words"] <= 400


@pytest.mark.parametrize("program_class", PROGRAMS, ids=lambda cls: cls.name)
@pytest.mark.parametrize("n,d,capacity,causal", [(50, 8, 300, False), (64, 16, 64, True), (96, 8, 2048, True), (33, 4, 50, False)])
def test_count_only_counts_equal_value_mode(program_class, n, d, capacity, causal):
    try:
        value, _, _ = run_program(program_class, n, d, capacity, causal)
    except Exception as error:  # a program too big for this M must fail the same way in both modes
        with pytest.raises(type(error)):
            run_program(program_class, n, d, capacity, causal, compute=False)
        return
    count_only, _, _ = run_program(program_class, n, d, capacity, causal, compute=False)
    assert count_only.counts() == value.counts()


@pytest.mark.parametrize("n,d,capacity", [(64, 8, 200), (100, 16, 1000), (257, 16, 4096), (128, 32, 70000), (31, 4, 60)])
def test_naive_counts_match_closed_form(n, d, capacity):
    block = naive_block_rows(n, d, capacity)
    t = math.ceil(n / block)
    memory, _, _ = run_program(NaiveAttention, n, d, capacity, compute=False)
    counts = memory.counts()
    assert counts["reads"] == 3 * n * n + n * d + 2 * t * n * d
    assert counts["writes"] == 2 * n * n + n * d


@pytest.mark.parametrize("n,d,capacity", [(64, 8, 200), (100, 16, 1000), (257, 16, 4096), (128, 32, 70000), (300, 64, 16384)])
def test_flash1_counts_match_closed_form(n, d, capacity):
    block_rows, block_cols = flash1_block_sizes(n, d, capacity)
    t_c = math.ceil(n / block_cols)
    memory, _, _ = run_program(FlashAttention1, n, d, capacity, compute=False)
    counts = memory.counts()
    assert counts["reads"] == 2 * n * d + t_c * (2 * n * d + 2 * n)
    assert counts["writes"] == n * d + 2 * n + t_c * (n * d + 2 * n)
    assert counts["words_moved"] == 3 * n * d + 2 * n + t_c * (3 * n * d + 4 * n)


@pytest.mark.parametrize("n,d,capacity", [(64, 8, 200), (257, 16, 4096), (300, 64, 16384)])
def test_flash2_and_row_chunked_counts_match_closed_form(n, d, capacity):
    block_rows, _ = flash2_block_sizes(n, d, capacity)
    memory, _, _ = run_program(FlashAttention2, n, d, capacity, compute=False)
    assert memory.counts()["words_moved"] == 2 * n * d + 2 * math.ceil(n / block_rows) * n * d
    if capacity >= n + 2 * d + 3:
        chunk = row_chunk_rows(n, d, capacity)
        memory, _, _ = run_program(RowChunkedAttention, n, d, capacity, compute=False)
        assert memory.counts()["words_moved"] == 2 * n * d + 2 * math.ceil(n / chunk) * n * d


def test_program_too_big_for_memory_is_skipped():
    from theorybench.impls.attention_io.flash import FlashAttention1

    params = {"N": 64, "d": 16, "M": 64, "causal": False, "scaled": True}
    result = run_in_process("attention_io", "io_variants", params, FlashAttention1)
    assert result.status == "skipped"
    assert "FlashAttention-1 tiling needs M >= 68 words" in result.reason
    assert not result.failed


def test_contract_needs_program_or_attention():
    with pytest.raises(TypeError, match="overrides neither"):

        class Empty(AttentionImplementation):
            name = "empty"

    assert NeverStores.provides_program()
    assert not NeverStores.provides_attention()
