import logging
import time

import numpy as np
import pytest

from theorybench.measure import Measurement, TimerSpec, measure, peak_memory


def test_measure_calibrates_loops_for_fast_calls():
    matrix = np.random.default_rng(0).random((50, 50))
    result = measure(lambda: matrix @ matrix, TimerSpec(repeats=5, min_run_time=0.05))
    assert result.loops > 1
    assert len(result.times) == 5
    assert result.median > 0
    assert result.threads >= 1


def test_measure_excludes_warmup():
    calls = {"count": 0}

    def slow_first_call():
        calls["count"] += 1
        if calls["count"] == 1:
            time.sleep(0.3)

    result = measure(slow_first_call, TimerSpec(warmup=1, repeats=3, min_run_time=0.01))
    assert result.median < 0.05


def test_measurement_statistics_and_noise_warning(caplog):
    steady = Measurement(times=(1.0, 1.01, 0.99, 1.0), loops=1, threads=1, device="cpu")
    assert steady.median == pytest.approx(1.0)
    assert not steady.noisy
    noisy = Measurement(times=(1.0, 2.0, 1.0, 3.0), loops=1, threads=1, device="cpu")
    assert noisy.noisy
    with caplog.at_level(logging.WARNING, logger="theorybench.measure"):
        noisy.warn_if_noisy("kernel")
    assert "noisy timing of kernel" in caplog.text


def test_timer_spec_rejects_bad_values():
    with pytest.raises(ValueError):
        TimerSpec(repeats=0)
    with pytest.raises(ValueError):
        TimerSpec(min_run_time=0)


def test_peak_memory_sees_a_large_allocation():
    _, peak = peak_memory(lambda: np.ones(50_000_000).sum())
    assert peak > 300 * 2**20
