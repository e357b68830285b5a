"""Each baseline runs, and its n* lies on the expected side of its bound."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

from theorybench.impls.sample_complexity import hierarchical, lp_sampling, permutation, regression, walsh
from theorybench.suites.sample_complexity import Learner
from theorybench.testing import run_in_process

TINY = {
    "sparse_walsh": {"n_bits": 7, "alpha": 0.3, "snr_db": 20.0},
    "sparse_regression": {"d": 24, "s": 2, "noise": 0.1, "eps": 0.3},
    "lp_regression": {"p": 1, "rows": 120, "d": 3, "eps": 0.2},
    "hierarchical_polynomial": {"dims": [3], "k": 2, "q": 3, "noise": 0.1, "eps": 0.3, "n_max": 256},
    "permutation": {"k": 3},
}


def all_baselines():
    for module in (walsh, regression, lp_sampling, hierarchical, permutation):
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Learner) and value.name and value.__module__ == module.__name__:
                yield value


def test_baseline_slugs_are_unique():
    names = [cls.name for cls in all_baselines()]
    assert len(names) == len(set(names)) == 17


@pytest.mark.parametrize("learner", list(all_baselines()), ids=lambda cls: cls.name)
def test_baseline_runs_on_tiny_instance(learner):
    (task,) = learner.tasks
    result = run_in_process("sample_complexity", task, TINY[task], learner)
    assert result.status == "ok", result.reason
    assert result.metrics["inner_trials"] > 0
    if result.metrics["n_star"] is not None:
        assert result.metrics["n_star_low"] <= result.metrics["n_star"]


def test_walsh_peeling_far_below_dense_at_4096():
    params = {"n_bits": 12, "alpha": 1 / 3, "snr_db": 10.0}
    result = run_in_process("sample_complexity", "sparse_walsh", params, walsh.PeelingDecoder)
    assert result.status == "ok", result.reason
    assert result.metrics["n_star"] <= 4096 // 2


def test_walsh_dense_needs_every_index():
    params = {"n_bits": 8, "alpha": 1 / 3, "snr_db": 10.0}
    result = run_in_process("sample_complexity", "sparse_walsh", params, walsh.DenseTransform)
    assert result.metrics["n_star"] == 256
    # The quick tier bisects to a ratio of 1.2, so the last certified failure is within it.
    assert 256 / 1.2 <= result.metrics["n_star_low"] <= 256


@pytest.mark.parametrize("learner", [regression.LeastSquares, regression.Ridge])
def test_regression_dense_methods_need_d_samples(learner):
    params = {"d": 64, "s": 2, "noise": 0.1, "eps": 0.3}
    result = run_in_process("sample_complexity", "sparse_regression", params, learner)
    assert result.metrics["n_star"] >= 64


@pytest.mark.parametrize("learner", [regression.LassoTheory, regression.Omp])
def test_regression_sparse_methods_beat_d(learner):
    params = {"d": 64, "s": 2, "noise": 0.1, "eps": 0.3}
    result = run_in_process("sample_complexity", "sparse_regression", params, learner)
    assert result.metrics["n_star"] < 64


def test_lp_lewis_weights_beat_uniform():
    params = {"p": 1, "rows": 400, "d": 6, "eps": 0.1}
    lewis = run_in_process("sample_complexity", "lp_regression", params, lp_sampling.LewisSampling)
    uniform = run_in_process("sample_complexity", "lp_regression", params, lp_sampling.UniformSampling)
    assert lewis.metrics["n_star"] < uniform.metrics["n_star"]
    assert lewis.metrics["n_star"] <= 400


def test_lewis_weights_sum_to_rank():
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((200, 5)) * rng.uniform(0.1, 10.0, size=(200, 1))
    for p in (1.0, 3.0):
        weights = lp_sampling.lewis_weights(matrix, p)
        assert weights.sum() == pytest.approx(5.0, rel=1e-3)
    assert lp_sampling.leverage_scores(matrix).sum() == pytest.approx(5.0)


def test_hierarchical_three_layer_beats_kernel_against_bound():
    params = {"dims": [4], "k": 2, "q": 3, "noise": 0.1, "eps": 0.25, "n_max": 1024}
    layered = run_in_process("sample_complexity", "hierarchical_polynomial", params, hierarchical.ThreeLayerLayerwise)
    kernel = run_in_process("sample_complexity", "hierarchical_polynomial", params, hierarchical.PolynomialKernelRidge)
    assert layered.metrics["n_star"] is not None
    assert kernel.metrics["n_star"] is None or kernel.metrics["n_star"] > layered.metrics["n_star"]


def test_permutation_ensemble_needs_several_members():
    result = run_in_process("sample_complexity", "permutation", {"k": 4}, permutation.NtkEnsemble)
    assert result.status == "ok", result.reason
    assert 1 < result.metrics["n_star"] <= 8 * 16


def test_round_to_weight_keeps_hamming_weight():
    inputs = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    means = np.array([[0.2, 0.9, 0.5], [0.1, 0.3, 0.2]])
    bits = permutation.round_to_weight(inputs, means)
    assert bits.tolist() == [[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]


def test_row_draws_stop_at_every_row():
    rng = np.random.default_rng(0)
    draws = lp_sampling._draws_until_distinct(rng, np.full(5, 0.2), 5)
    assert set(draws.tolist()) == {0, 1, 2, 3, 4}
    draws = lp_sampling._draws_until_distinct(rng, np.full(5, 0.2), 3)
    assert len(set(draws.tolist())) == 3
