"""The suite's tasks, harness metrics, curves, determinism and aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theorybench.impls.sample_complexity.permutation import LinearLeastSquares
from theorybench.impls.sample_complexity.regression import LassoTheory
from theorybench.suites.sample_complexity import Learner
from theorybench.suites.sample_complexity.base import single_threaded
from theorybench.testing import run_in_process
from theorybench.worker import load_suite

TASK_NAMES = {"sparse_walsh", "sparse_regression", "hierarchical_polynomial", "lp_regression", "permutation"}


@pytest.fixture(scope="module")
def suite():
    return load_suite("sample_complexity")


def test_suite_has_five_tasks(suite):
    assert {task.name for task in suite.tasks()} == TASK_NAMES
    assert suite.contract is Learner


@pytest.mark.parametrize("task_name", sorted(TASK_NAMES))
def test_task_tiers_and_bounds(suite, task_name):
    task = suite.task(task_name)
    assert task.instances("quick")
    assert task.instances("standard")
    assert task.bound
    for tier in ("quick", "standard", "large"):
        for params in task.instances(tier):
            assert task.bound_value(params) > 0
            for _, size_params in task.sweep(params):
                n_min, n_max, n_start = task.search_range(size_params)
                assert 1 <= n_min <= n_max
                assert task.score_metric in {metric.name for metric in task.metrics}


def test_cell_metrics_and_curves():
    result = run_in_process("sample_complexity", "sparse_regression", {"d": 32, "s": 2, "noise": 0.1, "eps": 0.3}, LassoTheory)
    assert result.status == "ok", result.reason
    metrics = result.metrics
    assert metrics["n_star_low"] <= metrics["n_star"]
    assert metrics["n_star_over_bound"] == pytest.approx(metrics["n_star"] / (2 * math.log(16)))
    assert metrics["censored"] == 0
    assert metrics["theory_exponent"] == -0.5
    assert metrics["inner_trials"] >= 9
    names = {curve.name for curve in result.curves}
    assert {"error_mean", "error_low", "error_high", "success_rate", "success_low", "success_high"} <= names
    error_curve = {curve.name: curve for curve in result.curves}
    for low, mean, high in zip(error_curve["error_low"].y, error_curve["error_mean"].y, error_curve["error_high"].y):
        assert low <= mean <= high
    probes = result.info["sizes"]["all"]["probes"]
    assert any(probe["n"] == metrics["n_star"] and probe["decision"] == "pass" for probe in probes)


def test_cell_is_deterministic():
    params = {"d": 32, "s": 2, "noise": 0.1, "eps": 0.3}
    first = run_in_process("sample_complexity", "sparse_regression", params, LassoTheory)
    second = run_in_process("sample_complexity", "sparse_regression", params, LassoTheory)
    assert first.metrics == second.metrics
    other_trial = run_in_process("sample_complexity", "sparse_regression", params, LassoTheory, trial=1)
    assert other_trial.status == "ok"


def test_hierarchical_sweep_reports_slope():
    from theorybench.impls.sample_complexity.hierarchical import ThreeLayerLayerwise

    params = {"dims": [4, 6], "k": 2, "q": 3, "noise": 0.1, "eps": 0.25, "n_max": 1024}
    result = run_in_process("sample_complexity", "hierarchical_polynomial", params, ThreeLayerLayerwise)
    assert result.status == "ok", result.reason
    metrics = result.metrics
    assert metrics["n_star[d=4]"] is not None
    assert metrics["n_star[d=6]"] == metrics["n_star"]
    expected = math.log(metrics["n_star[d=6]"] / metrics["n_star[d=4]"]) / math.log(6 / 4)
    assert metrics["n_star_slope"] == pytest.approx(expected)
    assert metrics["n_star_slope_low"] <= metrics["n_star_slope"] <= metrics["n_star_slope_high"]
    assert metrics["theory_slope"] == 2.0
    assert {"error_mean[d=4]", "error_mean[d=6]"} <= {curve.name for curve in result.curves}


def test_hierarchical_rejects_even_q(suite):
    with pytest.raises(ValueError, match="odd q"):
        suite.task("hierarchical_polynomial").sweep({"dims": [4], "k": 2, "q": 2})


def test_summarize_and_costs_with_censored_trial(suite):
    task = suite.task("sparse_regression")
    params = task.instances("quick")[0]
    rows = [
        {"status": "ok", "trial": 0, "reason": "", "metrics": {"n_star": 40, "n_star_low": 30, "n_star_over_bound": 2.0, "censored": 0}},
        {"status": "ok", "trial": 1, "reason": "", "metrics": {"n_star": 60, "n_star_low": 45, "n_star_over_bound": 3.0, "censored": 0}},
        {"status": "ok", "trial": 2, "reason": "", "metrics": {"n_star": None, "n_star_low": 513, "n_star_over_bound": None, "censored": 1}},
    ]
    summary = suite.summarize(task, params, rows)
    assert summary["n_star"] == 50
    assert summary["n_star_interval_low"] == 30
    assert summary["n_star_interval_high"] is None
    assert summary["censored_trials"] == 1
    costs = suite.problem_costs(task, params, rows)
    assert costs == {"": 2.5}
    assert suite.problem_costs(task, params, rows[2:]) == {"": math.inf}


def test_permutation_calibrator_needs_one_member():
    result = run_in_process("sample_complexity", "permutation", {"k": 4}, LinearLeastSquares)
    assert result.status == "ok", result.reason
    assert result.metrics["n_star"] == 1
    assert result.metrics["n_star_over_bound"] == pytest.approx(1 / 16)


def test_single_threaded_restores_torch_threads():
    import torch

    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_hierarchical_cost_is_positive_for_negative_slope(suite):
    task = suite.task("hierarchical_polynomial")
    params = task.instances("quick")[0]
    rows = [{"status": "ok", "trial": 0, "reason": "", "metrics": {"n_star_slope": -0.5}}]
    costs = suite.problem_costs(task, params, rows)
    assert costs[""] == pytest.approx(math.exp(-0.5))
    assert costs[""] > 0
