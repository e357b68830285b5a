"""The runtime harness: timing, FLOP convention, correctness checks and device handling."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from theorybench.impls.attention_io.flash import FlashAttention1, FlashAttention2
from theorybench.impls.attention_io.sdpa import SDPA, SDPAFlash, SDPAMath
from theorybench.suites.attention_io import AttentionImplementation, runtime_harness
from theorybench.suites.attention_io.runtime_harness import (
    FLOP_CONVENTION,
    forward_flops,
    gpu_table_peak,
    large_logit_inputs,
    masked_large_logit_inputs,
)
from theorybench.testing import run_in_process
from theorybench.worker import load_suite

PARAMS = {"batch": 1, "heads": 2, "N": 64, "d": 16, "dtype": "float32", "causal": False, "threads": 1}


def sdpa(q, k, v, causal):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


class SlowFirstCall(AttentionImplementation):
    name = "slow-first-call"

    def __init__(self):
        self.calls = 0

    def attention(self, q, k, v, causal):
        self.calls += 1
        if self.calls == 1:
            time.sleep(1.0)
        return sdpa(q, k, v, causal)


class CachesFirstOutput(AttentionImplementation):
    name = "caches-first-output"

    def __init__(self):
        self.cached = None

    def attention(self, q, k, v, causal):
        if self.cached is None:
            self.cached = sdpa(q, k, v, causal)
        return self.cached


class CachesByIdentity(AttentionImplementation):
    name = "caches-by-identity"

    def __init__(self):
        self.cache = {}

    def attention(self, q, k, v, causal):
        key = (q.data_ptr(), k.data_ptr(), v.data_ptr(), causal)
        if key not in self.cache:
            self.cache[key] = sdpa(q, k, v, causal)
        return self.cache[key]


class ReturnsEarly(AttentionImplementation):
    name = "returns-early"

    def attention(self, q, k, v, causal):
        return torch.empty_like(q)


class NoMaxSubtraction(AttentionImplementation):
    name = "no-max-subtraction"

    def attention(self, q, k, v, causal):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
        weights = torch.exp(scores)
        return (weights / weights.sum(-1, keepdim=True)) @ v


class FiniteMaskFill(AttentionImplementation):
    name = "finite-mask-fill"

    def attention(self, q, k, v, causal):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), -100.0)
        return torch.softmax(scores, -1) @ v


class WrongShape(AttentionImplementation):
    name = "wrong-shape"

    def attention(self, q, k, v, causal):
        return sdpa(q, k, v, causal)[..., :-1, :]


class Reference(AttentionImplementation):
    name = "reference-sdpa"

    def attention(self, q, k, v, causal):
        return sdpa(q, k, v, causal)


def run(implementation, **overrides):
    return run_in_process("attention_io", "runtime_cpu", {**PARAMS, **overrides}, implementation)


def test_slow_first_call_not_charged():
    result = run(SlowFirstCall)
    assert result.status == "ok", result.reason
    assert result.metrics["time_median_s"] < 0.2


def test_flop_convention_halves_for_causal():
    assert forward_flops(2, 3, 128, 64, causal=True) == forward_flops(2, 3, 128, 64, causal=False) / 2
    assert forward_flops(2, 3, 128, 64, causal=False) == 4 * 2 * 3 * 128**2 * 64
    plain = run(Reference)
    causal = run(Reference, causal=True)
    assert plain.metrics["flops"] == 4 * 2 * 64**2 * 16
    assert causal.metrics["flops"] == plain.metrics["flops"] / 2
    assert causal.info["flop_convention"] == FLOP_CONVENTION
    assert "halved when causal" in FLOP_CONVENTION


def test_reference_cell_reports_every_metric():
    result = run(Reference, causal=True)
    assert result.status == "ok", result.reason
    for name in ("time_median_s", "time_iqr_s", "flop_rate", "peak_memory_bytes", "max_error", "max_error_large_logits", "max_error_masked", "peak_flop_rate"):
        assert name in result.metrics, name
    assert result.metrics["max_error"] < 1e-5
    assert result.metrics["flop_rate"] < result.metrics["peak_flop_rate"]
    assert result.metrics["threads"] == 1


def test_cached_first_output_fails():
    result = run(CachesFirstOutput)
    assert result.status == "invalid"
    assert "last timed call" in result.reason


def test_output_cached_by_tensor_identity_fails():
    result = run(CachesByIdentity)
    assert result.status == "invalid"
    assert "inputs overwritten in place" in result.reason


def test_early_output_fails():
    result = run(ReturnsEarly)
    assert result.status == "invalid"
    assert "standard inputs" in result.reason


def test_missing_max_subtraction_fails_on_large_logits():
    result = run(NoMaxSubtraction)
    assert result.status == "invalid"
    assert "large logits" in result.reason


def test_finite_mask_fill_fails_on_masked_large_logits():
    result = run(FiniteMaskFill, causal=True)
    assert result.status == "invalid"
    assert "largest logits on masked keys" in result.reason


def test_wrong_shape_fails():
    result = run(WrongShape)
    assert result.status == "invalid"
    assert "output shape" in result.reason


def test_rate_above_device_peak_rejected():
    # A calibration of 1 FLOP/s stands for a device far slower than any real result.
    key = ("cpu", "float32", 1)
    saved = runtime_harness._CALIBRATION_CACHE.get(key)
    runtime_harness._CALIBRATION_CACHE[key] = 1.0
    try:
        result = run(Reference)
    finally:
        if saved is None:
            del runtime_harness._CALIBRATION_CACHE[key]
        else:
            runtime_harness._CALIBRATION_CACHE[key] = saved
    assert result.status == "invalid"
    assert "exceeds the device peak" in result.reason


def test_large_logit_inputs_have_large_logits():
    qkv = large_logit_inputs(np.random.default_rng(0), (1, 1, 256, 64), 200.0)
    logits = qkv[0][0, 0] @ qkv[1][0, 0].T / 8.0
    assert 100 < logits.std() < 400


def test_masked_inputs_put_largest_logits_on_hidden_keys():
    qkv = masked_large_logit_inputs(np.random.default_rng(0), (1, 1, 128, 16), 200.0)
    logits = qkv[0][0, 0] @ qkv[1][0, 0].T / 4.0
    best = logits.argmax(axis=1)
    assert np.all(best[:120] > np.arange(120))


def test_gpu_peak_table_lookup():
    assert gpu_table_peak("NVIDIA H100 80GB HBM3", "bfloat16") == pytest.approx(989.4e12)
    assert gpu_table_peak("NVIDIA H200", "float32") == pytest.approx(494.7e12)
    assert gpu_table_peak("NVIDIA H100 PCIe", "float16") == pytest.approx(756e12)
    assert gpu_table_peak("Some Future GPU", "float16") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the status of CUDA cells on a machine without a GPU")
def test_cuda_cell_skipped_without_gpu():
    params = {"batch": 1, "heads": 2, "N": 64, "d": 16, "dtype": "float16", "causal": False, "threads": 1}
    result = run_in_process("attention_io", "runtime_cuda", params, SDPA, device="cuda")
    assert result.status == "skipped"
    assert "no CUDA device" in result.reason


def test_planning_by_family_and_device():
    suite = load_suite("attention_io")
    io_task, cpu_task = suite.task("io_variants"), suite.task("runtime_cpu")
    cuda_task, cuda_fp32 = suite.task("runtime_cuda"), suite.task("runtime_cuda_fp32")
    assert suite.supports(io_task, FlashAttention1, "cpu")
    assert not suite.supports(cpu_task, FlashAttention1, "cpu")
    assert suite.supports(cpu_task, FlashAttention2, "cpu")
    assert not suite.supports(io_task, SDPA, "cpu")
    assert not suite.supports(io_task, FlashAttention2, "cuda")
    assert suite.supports(cuda_task, SDPAFlash, "cuda")
    assert not suite.supports(cuda_fp32, SDPAFlash, "cuda")
    assert not suite.supports(cpu_task, SDPAMath, "cpu")
    assert suite.supports(cuda_fp32, SDPAMath, "cuda")


@pytest.mark.parametrize("implementation", [SDPAMath, SDPAFlash], ids=lambda cls: cls.name)
def test_pinned_backends_compute_attention_on_cpu(implementation):
    # The math and flash backends also exist on the CPU, so their pinning code runs here.
    q, k, v = torch.randn(3, 1, 2, 32, 16).unbind(0)
    for causal in (False, True):
        expected = sdpa(q, k, v, causal)
        torch.testing.assert_close(implementation().attention(q, k, v, causal), expected, atol=1e-5, rtol=1e-5)


def test_long_sequences_checked_on_sampled_rows(monkeypatch):
    monkeypatch.setattr(runtime_harness, "MAX_CHECKED_ROWS", 16)
    tensors = tuple(torch.randn(1, 2, 100, 8) for _ in range(3))
    expected = runtime_harness.Expected(tensors, True, np.random.default_rng(0))
    assert expected.rows.size == 16
    assert {0, 1, 98, 99} <= set(expected.rows.tolist())
    full = runtime_harness.Expected(tensors, True, np.random.default_rng(0))
    output = torch.nn.functional.scaled_dot_product_attention(*tensors, is_causal=True)
    assert runtime_harness.checked_error(output, full, "float32", "cpu", "sampled rows") < 1e-5
    corrupted = output.clone()
    corrupted[..., expected.rows[5], :] += 1.0
    with pytest.raises(runtime_harness.InvalidOutput, match="sampled rows"):
        runtime_harness.checked_error(corrupted, expected, "float32", "cpu", "sampled rows")


def test_reference_with_query_positions_matches_full():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((3, 20, 4))
    rows = np.array([0, 3, 19])
    full = runtime_harness.attention_reference(q, k, v, True, 0.5)
    subset = runtime_harness.attention_reference(q[rows], k, v, True, 0.5, rows)
    np.testing.assert_allclose(subset, full[rows], atol=1e-14)


def test_peak_memory_separates_naive_from_tiled():
    from theorybench.impls.attention_io.naive import NaiveAttention

    # RSS also picks up a few MB of allocator and thread-pool state, so the scores must dwarf that.
    params = {"N": 2048, "heads": 4, "d": 32}
    naive = run(NaiveAttention, **params)
    tiled = run(FlashAttention2, **params)
    assert naive.status == "ok", naive.reason
    assert tiled.status == "ok", tiled.reason
    score_bytes = 4 * 2048 * 2048 * 4
    assert naive.metrics["peak_memory_bytes"] >= score_bytes
    assert tiled.metrics["peak_memory_bytes"] < score_bytes / 2
