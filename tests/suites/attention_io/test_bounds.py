"""The I/O bound and how the baseline programs compare with it in each regime."""

from __future__ import annotations

import math

import pytest

from theorybench.impls.attention_io.flash import FlashAttention1, FlashAttention2
from theorybench.impls.attention_io.naive import NaiveAttention
from theorybench.impls.attention_io.square_tiling import SquareTiling
from theorybench.suites.attention_io import AttentionProblem, TwoLevelMemory
from theorybench.suites.attention_io.reference import io_lower_bound, io_regime
from theorybench.suites.attention_io.tasks import IOMemorySweep


def normalized_io(program_class, n: int, d: int, capacity: int) -> float:
    memory = TwoLevelMemory(capacity, shape=(n, d), compute=False)
    program_class().program(memory, AttentionProblem.build(n, d, capacity, False, True))
    return memory.counts()["words_moved"] / io_lower_bound(n, d, capacity)


def test_bound_regimes():
    assert io_lower_bound(1024, 16, 1024) == 1024**2 * 16**2 / 1024
    assert io_lower_bound(1024, 64, 1024) == 1024**2 * 64 / math.sqrt(1024)
    assert io_regime(64, 4096) == "large-M"
    assert io_regime(64, 4095) == "small-M"


def test_bound_continuous_at_d_squared():
    n, d = 2048, 32
    assert io_lower_bound(n, d, d * d) == pytest.approx(n * n)
    assert io_lower_bound(n, d, d * d - 1) == pytest.approx(n * n, rel=1e-3)


def test_bound_never_below_compulsory_io():
    assert io_lower_bound(256, 16, 256 * 16) == 4 * 256 * 16


def test_memory_sweep_crosses_d_squared():
    for params in IOMemorySweep().instances("quick"):
        assert params["M"] <= params["N"] * params["d"]
    d16 = [params["M"] for params in IOMemorySweep().instances("quick") if params["d"] == 16]
    assert min(d16) == 16 * 16 // 16
    assert max(d16) == 128 * 16
    assert any(m < 256 for m in d16) and any(m > 256 for m in d16)


@pytest.mark.parametrize("program_class", [FlashAttention1, FlashAttention2], ids=lambda cls: cls.name)
def test_flash_normalized_io_in_constant_band(program_class):
    ratios = {}
    d = 16
    for n in (256, 512, 1024):
        for capacity in (d * d, 4 * d * d, 16 * d * d):
            ratios[(n, capacity)] = normalized_io(program_class, n, d, capacity)
    assert max(ratios.values()) <= 40, ratios
    assert min(ratios.values()) >= 1, ratios
    assert max(ratios.values()) / min(ratios.values()) <= 5, ratios


def test_naive_normalized_io_grows_with_memory():
    n, d = 1024, 16
    small = normalized_io(NaiveAttention, n, d, d * d)
    large = normalized_io(NaiveAttention, n, d, 16 * d * d)
    assert large > 4 * small


@pytest.mark.parametrize("capacity", [64 * 64 // 16, 64 * 64 // 4])
def test_square_tiling_beats_flash_for_small_memory(capacity):
    n, d = 256, 64
    square = normalized_io(SquareTiling, n, d, capacity)
    flash2 = normalized_io(FlashAttention2, n, d, capacity)
    assert square < flash2 / 1.5
    if capacity >= 1024:
        assert square < normalized_io(FlashAttention1, n, d, capacity) / 1.5


def test_flash_beats_square_tiling_for_large_memory():
    n, d, capacity = 1024, 16, 64 * 16 * 16
    assert normalized_io(FlashAttention2, n, d, capacity) < normalized_io(SquareTiling, n, d, capacity)
