"""The problem objects' counting and the harness's handling of bad learners."""

from __future__ import annotations

import numpy as np
import pytest

from theorybench.errors import BudgetExceeded
from theorybench.suites.sample_complexity import Ensemble, EnsembleProblem, Learner, QueryOracle, SampleSet
from theorybench.testing import run_in_process

WALSH = {"n_bits": 8, "alpha": 0.25, "snr_db": 20.0}
REGRESSION = {"d": 16, "s": 2, "noise": 0.1, "eps": 0.3}


def test_query_oracle_charges_repeats_once():
    oracle = QueryOracle("t", {}, np.arange(10.0), budget=3, seed=0)
    first = oracle.query([1, 2])
    again = oracle.query([2, 1, 1])
    assert oracle.queries_used == 2
    assert list(first) == [1.0, 2.0]
    assert list(again) == [2.0, 1.0, 1.0]


def test_query_oracle_rejects_past_budget():
    oracle = QueryOracle("t", {}, np.arange(10.0), budget=3, seed=0)
    oracle.query([0, 1, 2])
    with pytest.raises(BudgetExceeded, match="budget of 3 distinct indices"):
        oracle.query([3])
    assert oracle.queries_used == 3


def test_query_oracle_rejects_bad_indices():
    oracle = QueryOracle("t", {}, np.arange(10.0), budget=5, seed=0)
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        oracle.query([10])
    with pytest.raises(ValueError, match="integer"):
        oracle.query([0.5])


def test_sample_set_counts_distinct_samples():
    features = np.arange(12.0).reshape(6, 2)
    sample_set = SampleSet("t", {}, features, np.arange(6.0), seed=0)
    x, y = sample_set.samples([0, 1])
    sample_set.samples([1, 2])
    assert sample_set.samples_used == 3
    x[0, 0] = 99.0
    assert sample_set.samples([0])[0][0, 0] == 0.0
    assert sample_set.budget == 6


def test_problem_rng_is_reproducible():
    first = QueryOracle("t", {}, np.zeros(4), budget=2, seed=7).rng().random(3)
    second = QueryOracle("t", {}, np.zeros(4), budget=2, seed=7).rng().random(3)
    assert np.array_equal(first, second)


def test_ensemble_problem_training_set_is_a_copy():
    problem = EnsembleProblem("t", {"k": 2}, np.eye(2), np.eye(2)[::-1], budget=3, seed=0)
    inputs, _ = problem.training_set()
    inputs[0, 0] = 5.0
    assert problem.training_set()[0][0, 0] == 1.0


class RepeatingDense(Learner):
    """Queries every index twice; the harness must charge each once."""

    name = "test-repeating-dense"
    tasks = ("sparse_walsh",)

    def learn(self, problem):
        from theorybench.suites.sample_complexity import fast_walsh_hadamard

        size = problem.info["N"]
        if problem.budget < size:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        problem.query(np.arange(size))
        values = problem.query(np.arange(size))
        spectrum = fast_walsh_hadamard(values) / size
        top = np.sort(np.argsort(-np.abs(spectrum))[: problem.info["K"]])
        return top, spectrum[top]


class Greedy(Learner):
    """Queries one index past its budget."""

    name = "test-greedy"
    tasks = ("sparse_walsh",)

    def learn(self, problem):
        problem.query(np.arange(min(problem.budget + 1, problem.info["N"])))
        return {}


class NanRegression(Learner):
    name = "test-nan"
    tasks = ("sparse_regression",)

    def learn(self, problem):
        return np.full(problem.info["d"], np.nan)


class WrongShape(Learner):
    name = "test-wrong-shape"
    tasks = ("sparse_regression",)

    def learn(self, problem):
        return np.zeros(problem.info["d"] + 1)


def test_repeated_queries_charged_once_in_harness():
    result = run_in_process("sample_complexity", "sparse_walsh", WALSH, RepeatingDense)
    assert result.status == "ok", result.reason
    assert result.metrics["n_star"] == 256


def test_budget_overrun_fails_with_reason():
    result = run_in_process("sample_complexity", "sparse_walsh", WALSH, Greedy)
    assert result.status == "error"
    assert "budget" in result.reason
    assert "distinct indices" in result.reason


def test_nan_estimate_is_invalid():
    result = run_in_process("sample_complexity", "sparse_regression", REGRESSION, NanRegression)
    assert result.status == "invalid"
    assert "NaN" in result.reason


def test_wrong_shape_estimate_is_invalid():
    result = run_in_process("sample_complexity", "sparse_regression", REGRESSION, WrongShape)
    assert result.status == "invalid"
    assert "shape (17,)" in result.reason


class OversizedEnsemble(Learner):
    name = "test-oversized-ensemble"
    tasks = ("permutation",)

    def learn(self, problem):
        inputs, outputs = problem.training_set()
        member = lambda batch: batch @ np.linalg.pinv(inputs) @ outputs  # noqa: E731
        return Ensemble([member] * (problem.budget + 1), lambda x, mean: (mean > 0.5).astype(float))


def test_ensemble_over_budget_is_invalid():
    result = run_in_process("sample_complexity", "permutation", {"k": 3}, OversizedEnsemble)
    assert result.status == "invalid"
    assert "members" in result.reason
