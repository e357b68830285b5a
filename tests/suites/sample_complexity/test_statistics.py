"""The sample-complexity statistics in theorybench.stats against scipy and known truths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from theorybench import stats


@pytest.mark.parametrize(
    ("successes", "trials", "confidence"),
    [(0, 5, 0.9), (3, 10, 0.95), (9, 9, 0.9), (28, 29, 0.95), (29, 29, 0.95), (50, 120, 0.99), (1, 1, 0.8)],
)
def test_clopper_pearson_matches_binomtest(successes, trials, confidence):
    lower, upper = stats.clopper_pearson_bounds(successes, trials, confidence)
    expected_lower = binomtest(successes, trials, alternative="greater").proportion_ci(confidence, method="exact").low
    expected_upper = binomtest(successes, trials, alternative="less").proportion_ci(confidence, method="exact").high
    assert lower == pytest.approx(expected_lower, abs=1e-9)
    assert upper == pytest.approx(expected_upper, abs=1e-9)


def test_clopper_pearson_rejects_bad_counts():
    with pytest.raises(ValueError, match="invalid counts"):
        stats.clopper_pearson_bounds(4, 3, 0.9)
    with pytest.raises(ValueError, match="confidence"):
        stats.clopper_pearson_bounds(1, 3, 1.0)


def test_min_trials_to_certify_known_values():
    # 29 all-success trials certify delta = 0.1 at 95%: 0.05^(1/29) = 0.9019 >= 0.9 > 0.05^(1/28).
    assert stats.min_trials_to_certify(0.1, 0.95) == 29
    assert stats.min_trials_to_certify(0.25, 0.9) == 9
    assert stats.min_trials_to_certify(0.05, 0.95) == 59


def test_classify_probe_three_outcomes():
    assert stats.classify_probe(29, 29, delta=0.1, confidence=0.95) == "pass"
    assert stats.classify_probe(28, 29, delta=0.1, confidence=0.95) == "undecided"
    assert stats.classify_probe(0, 2, delta=0.25, confidence=0.9) == "fail"
    assert stats.classify_probe(0, 1, delta=0.25, confidence=0.9) == "undecided"


def test_min_successes_to_certify_is_smallest():
    needed = stats.min_successes_to_certify(40, delta=0.1, confidence=0.95)
    assert stats.classify_probe(needed, 40, 0.1, 0.95) == "pass"
    assert stats.classify_probe(needed - 1, 40, 0.1, 0.95) != "pass"
    assert stats.min_successes_to_certify(5, delta=0.1, confidence=0.95) is None


def test_fit_power_law_exact_slope():
    n = np.array([10.0, 20.0, 40.0, 80.0])
    slope, intercept = stats.fit_power_law(n, 3.0 * n**-0.75)
    assert slope == pytest.approx(-0.75)
    assert intercept == pytest.approx(math.log(3.0))


def test_fit_power_law_rejects_nonpositive():
    with pytest.raises(ValueError, match="positive"):
        stats.fit_power_law(np.array([1.0, 2.0]), np.array([1.0, 0.0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exponent_interval_covers_known_slope(seed):
    rng = np.random.default_rng(seed)
    sizes = [100, 200, 400, 800, 1600]
    samples = [n**-0.5 * rng.lognormal(0.0, 0.3, size=30) for n in sizes]
    exponent, low, high = stats.power_law_exponent_interval(sizes, samples, confidence=0.95, n_resamples=999, seed=seed)
    assert low <= -0.5 <= high
    assert high - low < 0.3
    assert low <= exponent <= high


def test_exponent_interval_subtracts_floor():
    rng = np.random.default_rng(3)
    sizes = [50, 100, 200, 400]
    samples = [0.2 + 5.0 / n * rng.lognormal(0.0, 0.2, size=20) for n in sizes]
    exponent, low, high = stats.power_law_exponent_interval(sizes, samples, floor=0.2, seed=3)
    assert exponent == pytest.approx(-1.0, abs=0.15)
    assert low <= -1.0 <= high


def test_exponent_interval_nan_with_single_trial():
    exponent, low, high = stats.power_law_exponent_interval([10, 20, 40], [np.array([1.0]), np.array([0.5]), np.array([0.25])])
    assert exponent == pytest.approx(-1.0)
    assert math.isnan(low)
    assert math.isnan(high)


def test_log_log_slope_range_contains_inner_slopes():
    dims = [4, 6, 8]
    lows = np.array([50.0, 100.0, 180.0])
    highs = np.array([70.0, 140.0, 260.0])
    values = np.array([60.0, 120.0, 220.0])
    slope, low, high = stats.log_log_slope_range(dims, values, lows, highs)
    assert slope == pytest.approx(np.polyfit(np.log(dims), np.log(values), 1)[0])
    rng = np.random.default_rng(0)
    for _ in range(200):
        inner = np.exp(rng.uniform(np.log(lows), np.log(highs)))
        inner_slope = np.polyfit(np.log(dims), np.log(inner), 1)[0]
        assert low - 1e-12 <= inner_slope <= high + 1e-12
