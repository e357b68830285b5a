"""The suite's aggregation over seeds: problem costs and the leaderboard summary."""

from __future__ import annotations

import math

import pytest

from theorybench.suites.pruning import PruningSuite


def _rows():
    first = {"acc_s50": 0.9, "acc_s75": 0.8, "acc_s90": 0.5, "acc_s95": 0.3, "acc_s98": 0.1, "monotone_sparsity": 1}
    second = {"acc_s50": 0.8, "acc_s75": 0.6, "acc_s90": 0.7, "acc_s95": 0.1, "acc_s98": 0.1, "monotone_sparsity": 0}
    return [
        {"status": "ok", "metrics": first, "trial": 0, "reason": ""},
        {"status": "ok", "metrics": second, "trial": 1, "reason": ""},
        {"status": "invalid", "metrics": {}, "trial": 2, "reason": "requested sparsity 0.5, achieved 0.4"},
    ]


def test_problem_costs_are_median_errors_per_sparsity():
    suite = PruningSuite()
    task = suite.task("mlp_digits")
    costs = suite.problem_costs(task, {}, _rows())
    assert set(costs) == {"s=0.5", "s=0.75", "s=0.9", "s=0.95", "s=0.98"}
    assert costs["s=0.5"] == pytest.approx(1 - 0.85)
    assert costs["s=0.9"] == pytest.approx(1 - 0.6)
    assert costs["s=0.98"] == pytest.approx(0.9)


def test_problem_costs_without_success_are_infinite():
    suite = PruningSuite()
    failed = [{"status": "error", "metrics": {}, "trial": 0, "reason": "boom"}]
    costs = suite.problem_costs(suite.task("cnn_mnist1d"), {}, failed)
    assert all(math.isinf(cost) for cost in costs.values())


def test_summary_has_means_intervals_and_flags():
    suite = PruningSuite()
    summary = suite.summarize(suite.task("mlp_digits"), {}, _rows())
    assert summary["seeds"] == 2
    assert summary["acc_s50"] == pytest.approx(0.85)
    assert summary["acc_s50_ci_low"] < 0.85 < summary["acc_s50_ci_high"]
    assert summary["acc_s98_ci_low"] == pytest.approx(0.1)
    # One seed's achieved sparsity fell, so the summary flags the pruner as not monotone.
    assert summary["monotone_sparsity"] == 0.0
