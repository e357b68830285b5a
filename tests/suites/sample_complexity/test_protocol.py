"""The n* search against synthetic learners whose success probability is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theorybench.suites.sample_complexity import protocol
from theorybench.suites.sample_complexity.protocol import ProbeSettings, run_probe, search_sample_size

STANDARD = ProbeSettings.certifying(delta=0.1, confidence=0.95)
QUICK = ProbeSettings.certifying(delta=0.25, confidence=0.9)


def logistic_learner(threshold: float, width: float, seed: int):
    """Success probability 1 / (1 + exp(-(n - threshold) / width)); error threshold / n."""

    def trial(n: int, index: int) -> tuple[float, bool]:
        rng = np.random.default_rng([seed, n, index])
        probability = 1.0 / (1.0 + math.exp(-(n - threshold) / width))
        return threshold / n, bool(rng.random() < probability)

    return trial


def true_n_star(threshold: float, width: float, delta: float) -> int:
    """The smallest integer n with success probability >= 1 - delta."""
    return math.ceil(threshold + width * math.log((1 - delta) / delta))


def step_learner(n_star: int):
    def trial(n: int, index: int) -> tuple[float, bool]:
        return float(n < n_star), n >= n_star

    return trial


def test_probe_settings_first_look_certifies():
    assert STANDARD.min_trials == 29
    assert STANDARD.max_trials > STANDARD.min_trials


def test_probe_settings_reject_cap_below_certification():
    with pytest.raises(ValueError, match="cannot certify"):
        ProbeSettings(delta=0.1, confidence=0.95, min_trials=5, trial_step=5, max_trials=20)


def test_probe_passes_on_all_successes():
    outcome = run_probe(step_learner(10), 10, STANDARD)
    assert outcome.decision == "pass"
    assert outcome.trials == 29


def test_probe_fails_fast_on_failures():
    outcome = run_probe(step_learner(10), 5, QUICK)
    assert outcome.decision == "fail"
    assert outcome.trials <= 3


def test_probe_undecided_adds_trials():
    # One failure makes 28 of 29 undecided; the added trials then certify the pass.
    def trial(n, index):
        return 0.0, index != 3

    outcome = run_probe(trial, 100, STANDARD)
    assert outcome.decision == "pass"
    assert outcome.trials > STANDARD.min_trials
    assert outcome.success_count == outcome.trials - 1


def test_probe_stops_when_pass_out_of_reach():
    # Two early failures: even all successes up to the cap cannot certify, so the probe stops.
    def trial(n, index):
        return 0.0, index not in (0, 1)

    outcome = run_probe(trial, 100, STANDARD)
    assert outcome.decision in ("undecided", "fail")
    assert outcome.trials == 2


@pytest.mark.parametrize("n_star", [1, 7, 37, 100, 513, 2000])
def test_search_step_learner_within_resolution(n_star):
    result = search_sample_size(step_learner(n_star), QUICK, n_min=1, n_max=4096, n_start=16, resolution=1.05)
    assert result.n_star is not None
    assert n_star <= result.n_star <= math.ceil(n_star * 1.05) + 1
    assert result.n_star_low <= n_star
    assert result.monotone


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [40.0, 300.0])
def test_search_logistic_learner_within_one_grid_step(seed, threshold):
    width = 0.05 * threshold
    result = search_sample_size(logistic_learner(threshold, width, seed), STANDARD, n_min=2, n_max=8192, n_start=4)
    truth = true_n_star(threshold, width, STANDARD.delta)
    assert result.n_star is not None
    assert truth / math.sqrt(2) <= result.n_star <= truth * math.sqrt(2)
    assert result.n_star_low <= result.n_star


def test_search_start_above_walks_down():
    result = search_sample_size(step_learner(50), QUICK, n_min=1, n_max=1000, n_start=800, resolution=1.0)
    assert result.n_star == 50
    assert result.n_star_low == 50


def test_search_non_monotone_learner():
    # Passes on [20, 30), fails on [30, 60), passes from 60 on: n* is one past the last failure.
    def trial(n, index):
        success = 20 <= n < 30 or n >= 60
        return float(not success), success

    # The confirmation probes above the first candidate (20) are 29 and 41; 41 fails.
    result = search_sample_size(trial, QUICK, n_min=1, n_max=1000, n_start=25, resolution=1.0, confirm_steps=2)
    assert result.n_star == 60
    assert not result.monotone
    assert any(probe.passed and probe.n < 30 for probe in result.probes.values())


def test_search_censored_when_never_passing():
    result = search_sample_size(step_learner(10**6), QUICK, n_min=1, n_max=300, n_start=10)
    assert result.n_star is None
    assert result.censored
    assert max(result.probes) == 300


def test_search_passes_at_n_min():
    result = search_sample_size(step_learner(1), QUICK, n_min=1, n_max=100, n_start=10)
    assert result.n_star == 1


def test_search_rejects_bad_range():
    with pytest.raises(ValueError, match="invalid range"):
        search_sample_size(step_learner(5), QUICK, n_min=10, n_max=5)


def power_law_trial(seed: int):
    """Error 3 n^-0.5 times lognormal noise, independent per (seed, n, index); success at error <= 0.1."""

    def trial(n, index):
        error = 3.0 * n**-0.5 * np.random.default_rng([seed, n, index]).lognormal(0.0, 0.2)
        return error, error <= 0.1

    return trial


def test_fit_error_exponent_interval_coverage():
    sizes = [250, 354, 500, 707, 1000, 1414, 2000]
    covered = 0
    for seed in range(20):
        points = protocol.measure_curve(power_law_trial(seed), sizes, trials=10, settings=STANDARD)
        fit = protocol.fit_error_exponent(points, confidence=0.9, n_resamples=499, seed=seed)
        assert fit is not None
        assert fit.low < fit.exponent < fit.high
        covered += fit.contains(-0.5)
    # 90% intervals: 14 or fewer covering of 20 has probability below 1% under nominal coverage.
    assert covered >= 15


@pytest.mark.parametrize("seed", range(3))
def test_search_then_curve_recovers_slope(seed):
    trial = power_law_trial(seed)
    result = search_sample_size(trial, STANDARD, n_min=10, n_max=100000, n_start=100)
    sizes = protocol.curve_sizes(result.n_star, 10, 100000, window=4.0, reach=2.0)
    points = protocol.measure_curve(trial, sizes, trials=10, settings=STANDARD)
    fit = protocol.fit_error_exponent(points, seed=seed)
    assert fit is not None
    assert fit.exponent == pytest.approx(-0.5, abs=0.12)
    assert min(fit.sizes) >= result.n_star / 4.0 - 1


def test_curve_sizes_span_window_and_reach():
    sizes = protocol.curve_sizes(100, n_min=1, n_max=1000, window=4.0, reach=2.0)
    assert sizes[0] >= 25
    assert sizes[-1] <= 200
    assert 100 in sizes
    assert len(sizes) == 7
    assert protocol.curve_sizes(None, n_min=1, n_max=64, window=4.0, reach=2.0)[-1] == 64


def test_measure_curve_runs_fresh_fixed_trials():
    calls = []

    def trial(n, index):
        calls.append((n, index))
        return 1.0 / n, True

    points = protocol.measure_curve(trial, [10, 20], trials=3, settings=QUICK)
    assert [point.trials for point in points] == [3, 3]
    assert len(calls) == 6
    assert all(index >= protocol.CURVE_FIRST_INDEX for _, index in calls)


def test_fit_error_exponent_needs_three_sizes():
    probes = [protocol.ProbeOutcome(n, [1.0 / n, 1.1 / n], [True, True], "pass", 0.5, 1.0) for n in (10, 20)]
    assert protocol.fit_error_exponent(probes) is None


def test_error_curve_intervals_contain_means():
    probes = [
        protocol.ProbeOutcome(10, [0.5, 0.7, 0.6], [False, False, True], "fail", 0.0, 0.9),
        protocol.ProbeOutcome(20, [0.2], [True], "undecided", 0.1, 1.0),
    ]
    curve = protocol.error_curve(probes, confidence=0.9)
    assert curve["n"] == [10.0, 20.0]
    assert curve["error_low"][0] < curve["error_mean"][0] < curve["error_high"][0]
    assert curve["error_low"][1] == curve["error_mean"][1] == 0.2
    assert curve["success_rate"] == [pytest.approx(1 / 3), 1.0]
    assert curve["success_low"][0] < 1 / 3 < curve["success_high"][0]


def test_search_anchors_interval_low_end():
    # Success probability 0.7 on [64, 100): probes there stay undecided; below 64 they fail.
    def trial(n, index):
        rng = np.random.default_rng([n, index])
        probability = 0.0
        if n >= 64:
            probability = 0.7
        if n >= 100:
            probability = 1.0
        success = bool(rng.random() < probability)
        return float(not success), success

    result = search_sample_size(trial, QUICK, n_min=1, n_max=1000, n_start=100, resolution=1.0)
    assert result.n_star == 100
    failures = [n for n, probe in result.probes.items() if probe.decision == "fail"]
    assert failures
    assert result.n_star_low == max(n for n in failures if n < 100) + 1
    assert result.n_star_low > 1
