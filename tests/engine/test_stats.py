import math

import numpy as np
import pytest

from theorybench import stats


def test_ratios_to_best_handles_failures_and_zero():
    costs = np.array([[2.0, math.inf, 0.0], [4.0, math.inf, 1.0], [1.0, math.inf, 0.0]])
    ratios = stats.ratios_to_best(costs)
    assert ratios[:, 0].tolist() == [2.0, 4.0, 1.0]
    assert np.all(np.isinf(ratios[:, 1]))
    assert ratios[0, 2] == 1.0
    assert ratios[2, 2] == 1.0
    assert np.isinf(ratios[1, 2])


def test_profile_score_hand_values():
    # Ratios 1 (area 1), 2.5 (area (4-2.5)/3 = 0.5), inf (0) -> mean 0.5.
    ratios = np.array([[1.0, 2.5, math.inf]])
    assert stats.profile_score(ratios)[0] == pytest.approx(0.5)


def test_profile_score_matches_numeric_area():
    rng = np.random.default_rng(0)
    ratios = 1 + rng.exponential(1.0, size=(3, 40))
    ratios[0, :5] = math.inf
    taus = np.linspace(1, 4, 30001)
    rho = stats.performance_profile(ratios, taus)
    numeric = np.trapezoid(rho, taus, axis=1) / 3.0
    np.testing.assert_allclose(stats.profile_score(ratios), numeric, atol=1e-3)


def test_geometric_mean_ratio():
    assert stats.geometric_mean_ratio(np.array([[1.0, 4.0]]))[0] == pytest.approx(2.0)
    assert math.isinf(stats.geometric_mean_ratio(np.array([[1.0, math.inf]]))[0])


def test_expected_runtime_definition():
    # Two successes spending 10 and 20, one failure spending the full budget of 100.
    assert stats.expected_runtime([10, 20, 100], [True, True, False]) == pytest.approx(65.0)
    assert math.isinf(stats.expected_runtime([100, 100], [False, False]))
    with pytest.raises(ValueError):
        stats.expected_runtime([1, 2], [True])
