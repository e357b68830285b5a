"""Tests of the optimization harness: faults, budgets, counts, reproducibility and scoring."""

import math

import numpy as np
import pytest

from theorybench.oracles import CallCounter
from theorybench.suites.optimization import OptimizationSuite, Optimizer
from theorybench.suites.optimization.contract import ORACLE_WEIGHTS, Problem
from theorybench.suites.optimization.tasks import LeastSquares
from theorybench.testing import run_in_process

SMALL_LS = {"data": "synthetic", "n": 40, "d": 8, "kappa": 10.0, "budget": 60}


class NaNAtThirdIterate(Optimizer):
    name = "test-nan"

    def run(self, problem, x0):
        x = x0
        for k in range(1, 100):
            x = x - problem.gradient(x) / problem.smoothness
            if k == 3:
                x = x.copy()
                x[2] = np.nan
            yield x


class WrongShape(Optimizer):
    name = "test-wrong-shape"

    def run(self, problem, x0):
        yield x0
        yield np.zeros(problem.dimension + 1)


class YieldsList(Optimizer):
    name = "test-list"

    def run(self, problem, x0):
        yield list(x0)


class NeverYields(Optimizer):
    """Calls the gradient forever without yielding; only the budget stops it."""

    name = "test-greedy"

    def run(self, problem, x0):
        x = x0
        yield x
        while True:
            x = x - problem.gradient(x) / problem.smoothness


class SwallowsBudget(Optimizer):
    """Catches BudgetExceeded and keeps yielding the same iterate."""

    name = "test-swallow"

    def run(self, problem, x0):
        x = x0
        while True:
            try:
                x = x - problem.gradient(x) / problem.smoothness
            except Exception:  # noqa: BLE001 - the point is to ignore the budget
                pass
            yield x


class FixedCosts(Optimizer):
    """Spends exactly 1 gradient, 1 value and half a pass of stochastic gradients per iterate."""

    name = "test-fixed-costs"

    def run(self, problem, x0):
        x = x0
        half = np.arange(problem.n_samples // 2)
        while True:
            problem.value(x)
            problem.stochastic_gradient(x, half)
            x = x - problem.gradient(x) / problem.smoothness
            yield x


class Raises(Optimizer):
    name = "test-raises"

    def run(self, problem, x0):
        yield x0
        raise RuntimeError("optimizer bug")


class RandomSteps(Optimizer):
    """Gradient steps of random length drawn from the problem's generator."""

    name = "test-random"

    def run(self, problem, x0):
        x = x0
        while True:
            x = x - problem.rng.uniform(0.5, 1.5) * problem.gradient(x) / problem.smoothness
            yield x


def test_nan_iterate_is_invalid():
    result = run_in_process("optimization", "least_squares", SMALL_LS, NaNAtThirdIterate)
    assert result.status == "invalid"
    assert "iterate 3" in result.reason
    assert "x[2] = nan" in result.reason


def test_wrong_shape_is_invalid():
    result = run_in_process("optimization", "least_squares", SMALL_LS, WrongShape)
    assert result.status == "invalid"
    assert "iterate 2 has shape (9,), expected (8,)" in result.reason


def test_non_array_iterate_is_invalid():
    result = run_in_process("optimization", "least_squares", SMALL_LS, YieldsList)
    assert result.status == "invalid"
    assert "iterate 1 is a list" in result.reason


def test_optimizer_exception_is_error():
    result = run_in_process("optimization", "least_squares", SMALL_LS, Raises)
    assert result.status == "error"
    assert "optimizer bug" in result.reason


def test_budget_stops_optimizer_that_never_yields():
    result = run_in_process("optimization", "least_squares", SMALL_LS, NeverYields)
    assert result.status == "ok"
    assert result.info["end_reason"] == "budget spent"
    assert result.info["oracle_counts"]["gradient"] == SMALL_LS["budget"]
    assert result.metrics["calls_total"] == 0


def test_budget_stops_optimizer_that_swallows_it():
    result = run_in_process("optimization", "least_squares", SMALL_LS, SwallowsBudget)
    assert result.status == "ok"
    assert result.info["end_reason"] == "budget spent"
    assert result.metrics["calls_total"] == SMALL_LS["budget"]
    assert result.metrics["iterations_total"] == SMALL_LS["budget"]


def test_counts_are_weighted_by_harness():
    params = dict(SMALL_LS, budget=25)
    result = run_in_process("optimization", "least_squares", params, FixedCosts)
    curve = next(c for c in result.curves if c.name == "measure_vs_calls")
    # Every iterate costs 1 (value) + 0.5 (half the samples) + 1 (gradient) = 2.5 calls.
    np.testing.assert_allclose(curve.x[:5], [0.0, 2.5, 5.0, 7.5, 10.0])
    assert result.metrics["iterations_total"] == 10
    assert result.metrics["calls_total"] == 25.0
    assert result.info["oracle_counts"] == {"value": 10.0, "stochastic_gradient": 5.0, "gradient": 10.0}


def test_last_target_stops_run():
    result = run_in_process("optimization", "least_squares", dict(SMALL_LS, budget=10_000), RandomSteps)
    assert result.status == "ok"
    assert result.info["end_reason"] == "last target reached"
    assert result.metrics["reached_1e-08"] == 1
    assert result.metrics["calls_total"] == result.metrics["calls_to_1e-08"]


def test_targets_are_monotone_in_calls():
    result = run_in_process("optimization", "least_squares", dict(SMALL_LS, budget=10_000), RandomSteps)
    calls = [result.metrics[f"calls_to_{t:.0e}"] for t in np.logspace(-1, -8, 8)]
    assert calls == sorted(calls)


def test_same_trial_reproduces_metrics():
    first = run_in_process("optimization", "least_squares", SMALL_LS, RandomSteps, trial=1)
    second = run_in_process("optimization", "least_squares", SMALL_LS, RandomSteps, trial=1)
    other = run_in_process("optimization", "least_squares", SMALL_LS, RandomSteps, trial=2)
    counts = lambda metrics: {k: v for k, v in metrics.items() if not k.startswith("time")}  # noqa: E731
    assert counts(first.metrics) == counts(second.metrics)
    assert counts(first.metrics) != counts(other.metrics)


def test_instances_reproducible_by_seed():
    task = LeastSquares()
    params = {"data": "synthetic", "n": 30, "d": 5, "kappa": 100.0, "budget": 10}
    first = task.make_instance(params, np.random.default_rng(11))
    second = task.make_instance(params, np.random.default_rng(11))
    third = task.make_instance(params, np.random.default_rng(12))
    np.testing.assert_array_equal(first.objective.A, second.objective.A)
    np.testing.assert_array_equal(first.objective.b, second.objective.b)
    assert not np.array_equal(first.objective.A, third.objective.A)


def test_curves_against_calls_and_time():
    result = run_in_process("optimization", "least_squares", SMALL_LS, RandomSteps)
    names = {curve.name for curve in result.curves}
    assert names == {"measure_vs_calls", "measure_vs_time"}
    times = next(c for c in result.curves if c.name == "measure_vs_time").x
    assert times[0] == 0.0
    assert all(later >= earlier for earlier, later in zip(times, times[1:]))


def test_separable_curves_include_margin_and_error():
    params = {"data": "synthetic", "n": 60, "d": 5, "margin": 0.2, "budget": 30}
    result = run_in_process("optimization", "separable_logistic", params, RandomSteps)
    names = {curve.name for curve in result.curves}
    assert {"training_error_vs_calls", "normalized_margin_vs_calls"} <= names
    assert 0.0 <= result.metrics["final_training_error"] <= 1.0
    assert result.metrics["final_normalized_margin"] <= result.metrics["max_margin"] + 1e-12


def _problem(budget=math.inf):
    instance = LeastSquares().make_instance({"data": "synthetic", "n": 30, "d": 6, "kappa": 10.0}, np.random.default_rng(0))
    counter = CallCounter(weights=ORACLE_WEIGHTS, total_budget=budget)
    return Problem(instance.objective, instance.kind, instance.strong_convexity, counter, seed=0), counter


def test_problem_rejects_bad_indices():
    problem, counter = _problem()
    with pytest.raises(ValueError, match="sample indices"):
        problem.stochastic_gradient(np.zeros(6), np.array([0, 30]))
    with pytest.raises(ValueError, match="coordinate 6"):
        problem.partial_gradient(np.zeros(6), 6)
    with pytest.raises(ValueError, match="shape"):
        problem.gradient(np.zeros(5))
    assert counter.total == 0


def test_problem_partial_costs_are_fractions():
    problem, counter = _problem()
    problem.partial_gradient(np.zeros(6), np.array([0, 1, 2]))
    problem.stochastic_gradient(np.zeros(6), np.arange(10))
    problem.prox(np.zeros(6), 0.1)
    assert counter.total == pytest.approx(0.5 + 10 / 30)
    assert counter.count("prox") == 1


def _row(status, calls_to, calls_total):
    metrics = {"calls_total": calls_total}
    for t in np.logspace(-1, -8, 8):
        label = f"{t:.0e}"
        reached = calls_to is not None
        metrics[f"reached_{label}"] = 1 if reached else 0
        metrics[f"calls_to_{label}"] = calls_to if reached else None
    return {"status": status, "metrics": metrics, "trial": 0, "reason": ""}


def test_problem_costs_are_ert_per_target():
    suite = OptimizationSuite()
    task = suite.task("least_squares")
    params = {"budget": 100}
    rows = [_row("ok", 10.0, 10.0), _row("ok", None, 100.0), _row("error", None, None)]
    costs = suite.problem_costs(task, params, rows)
    assert set(costs) == {f"target={t:.0e}" for t in np.logspace(-1, -8, 8)}
    # (10 + 100 + budget 100) / 1 success
    assert costs["target=1e-03"] == pytest.approx(210.0)
    assert suite.problem_costs(task, params, [_row("ok", None, 100.0)])["target=1e-03"] == math.inf


def test_summarize_reports_ert_and_rate():
    suite = OptimizationSuite()
    task = suite.task("least_squares")
    rows = [_row("ok", 10.0, 10.0), _row("ok", 30.0, 30.0)]
    for row, rate in zip(rows, (0.5, 0.7)):
        row["metrics"].update(rate=rate, rate_low=rate - 0.1, rate_high=rate + 0.1)
    summary = suite.summarize(task, {"budget": 100}, rows)
    assert summary["ert_1e-05"] == pytest.approx(20.0)
    assert summary["success_1e-05"] == 1.0
    assert summary["rate"] == pytest.approx(0.6)
    assert summary["rate_low"] == pytest.approx(0.5)


def test_linear_rate_recovers_known_factor():
    from theorybench.stats import linear_rate

    steps = np.arange(60)
    noise = np.exp(0.05 * np.random.default_rng(0).standard_normal(60))
    rate, low, high = linear_rate(steps, 2.0 * 0.8**steps * noise)
    assert rate == pytest.approx(0.8, abs=0.005)
    assert low <= 0.8 <= high


def test_sublinear_order_recovers_known_power():
    from theorybench.stats import sublinear_order

    steps = np.arange(1, 300)
    order, low, high = sublinear_order(steps, 3.0 / steps**1.0)
    assert order == pytest.approx(1.0, abs=1e-9)
    assert low == pytest.approx(1.0, abs=1e-9)
    assert high == pytest.approx(1.0, abs=1e-9)


def test_rate_fits_return_nan_on_short_series():
    from theorybench.stats import linear_rate, sublinear_order

    assert all(math.isnan(value) for value in linear_rate([0, 1], [1.0, 0.5]))
    assert all(math.isnan(value) for value in sublinear_order([1, 2, 3], [1.0, 0.0, -1.0]))


class Float32Iterates(Optimizer):
    name = "test-float32"

    def run(self, problem, x0):
        x = x0
        while True:
            x = x - problem.gradient(x) / problem.smoothness
            yield x.astype(np.float32)


class ComplexIterates(Optimizer):
    name = "test-complex"

    def run(self, problem, x0):
        yield x0.astype(np.complex128)


def test_float32_iterates_are_converted():
    result = run_in_process("optimization", "least_squares", SMALL_LS, Float32Iterates)
    assert result.status == "ok"
    assert result.metrics["reached_1e-03"] == 1


def test_complex_iterates_are_invalid():
    result = run_in_process("optimization", "least_squares", SMALL_LS, ComplexIterates)
    assert result.status == "invalid"
    assert "dtype complex128" in result.reason


def test_measure_time_excluded_from_optimizer_time():
    import dataclasses
    import time

    from theorybench.suites.optimization.harness import run_optimizer

    instance = LeastSquares().make_instance({"data": "synthetic", "n": 30, "d": 6, "kappa": 10.0}, np.random.default_rng(0))
    fast_measure = instance.measure

    def slow_measure(x, x0):
        time.sleep(0.05)
        return fast_measure(x, x0)

    slow_instance = dataclasses.replace(instance, measure=slow_measure)
    counter = CallCounter(weights=ORACLE_WEIGHTS, total_budget=4)
    problem = Problem(instance.objective, instance.kind, instance.strong_convexity, counter, seed=0)
    trace = run_optimizer(RandomSteps(), problem, slow_instance, counter, np.ones(6), max_iterations=100)
    # Five measure evaluations sleep 0.25 s in total; none of it may be charged to the optimizer.
    assert len(trace) == 5
    assert trace.times[-1] < 0.1


class YieldsNothing(Optimizer):
    name = "test-empty"

    def run(self, problem, x0):
        return
        yield


def test_optimizer_without_iterates_reaches_nothing():
    result = run_in_process("optimization", "least_squares", SMALL_LS, YieldsNothing)
    assert result.status == "ok"
    assert result.info["end_reason"] == "optimizer returned"
    assert result.metrics["targets_reached"] == 0
    assert result.metrics["calls_total"] == 0
    assert result.metrics["rate"] is None


def test_private_salt_changes_synthetic_instance():
    public = run_in_process("optimization", "least_squares", SMALL_LS, RandomSteps)
    private = run_in_process("optimization", "least_squares", SMALL_LS, RandomSteps, salt="held-out")
    assert public.info["f_star"] != private.info["f_star"]
