"""Each baseline reaches the quick-tier targets its theory guarantees, within that theory's budget."""

import importlib
import math
import pkgutil

import numpy as np
import pytest

import theorybench.impls.optimization as baselines
from theorybench.impls.optimization.accelerated import HeavyBall, Nesterov
from theorybench.impls.optimization.conjugate_gradient import ConjugateGradient
from theorybench.impls.optimization.coordinate import (
    CyclicCoordinateDescent,
    GaussSouthwellCoordinateDescent,
    RandomCoordinateDescent,
)
from theorybench.impls.optimization.gradient import (
    BatchPerceptron,
    GradientDescent,
    LargeStepGradientDescent4,
    LargeStepGradientDescent64,
    NormalizedGradientDescent,
)
from theorybench.impls.optimization.lbfgs import LBFGS
from theorybench.impls.optimization.proximal import FISTA, ISTA
from theorybench.impls.optimization.stochastic import SGD, Adam
from theorybench.suites.optimization import OptimizationSuite, Optimizer
from theorybench.testing import run_in_process

SUITE = OptimizationSuite()
LS_KAPPA_100, LS_KAPPA_1E4, LS_DIABETES = SUITE.task("least_squares").instances("quick")
LOGISTIC = SUITE.task("logistic_l2").instances("quick")[0]
SEPARABLE_SYNTHETIC, SEPARABLE_DIGITS = SUITE.task("separable_logistic").instances("quick")
LASSO_SYNTHETIC, LASSO_DIABETES = SUITE.task("lasso").instances("quick")


def run(task, params, implementation, **options):
    result = run_in_process("optimization", task, params, implementation, **options)
    assert result.status == "ok", result.reason
    return result.metrics


def all_baselines():
    classes = []
    for info in pkgutil.iter_modules(baselines.__path__):
        module = importlib.import_module(f"theorybench.impls.optimization.{info.name}")
        classes += [
            value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Optimizer) and value.__module__ == module.__name__ and value.name
        ]
    return sorted(classes, key=lambda cls: cls.name)


def test_at_least_ten_baselines_with_unique_names():
    names = [cls.name for cls in all_baselines()]
    assert len(names) >= 10
    assert len(names) == len(set(names))


def test_gd_within_linear_rate_budget():
    # f(x_k) - f* <= (1 - 1/kappa)^k (f(x_0) - f*), so 1e-6 needs at most kappa ln(1e6) steps.
    budget = math.ceil(100 * math.log(1e6))
    metrics = run("least_squares", dict(LS_KAPPA_100, budget=budget), GradientDescent)
    assert metrics["reached_1e-06"] == 1
    assert metrics["iterations_to_1e-06"] <= budget
    assert metrics["rate_high"] <= metrics["theoretical_rate"]


def test_nesterov_within_accelerated_budget():
    # f(x_k) - f* <= (1 - 1/sqrt(kappa))^k (f(x_0) - f* + mu/2 ||x_0 - x*||^2) <= 2 (...)^k (f(x_0) - f*).
    for params in (LS_KAPPA_100, LS_KAPPA_1E4):
        budget = math.ceil(math.sqrt(params["kappa"]) * math.log(2e6))
        metrics = run("least_squares", dict(params, budget=budget), Nesterov)
        assert metrics["reached_1e-06"] == 1
        assert metrics["iterations_to_1e-06"] <= budget


def test_heavy_ball_reaches_last_target_on_quadratics():
    for params in (LS_KAPPA_100, LS_KAPPA_1E4, LS_DIABETES):
        metrics = run("least_squares", params, HeavyBall)
        assert metrics["reached_1e-08"] == 1


@pytest.mark.parametrize("params", [LS_KAPPA_100, LS_DIABETES])
def test_cg_finishes_within_dimension(params):
    metrics = run("least_squares", params, ConjugateGradient)
    dimension = params.get("d", 10)
    assert metrics["reached_1e-08"] == 1
    assert metrics["iterations_to_1e-08"] <= dimension


def test_lbfgs_reaches_last_target():
    for task, params in (("least_squares", LS_KAPPA_1E4), ("logistic_l2", LOGISTIC)):
        metrics = run(task, params, LBFGS)
        assert metrics["reached_1e-08"] == 1


def test_gd_and_nesterov_on_logistic():
    # The quick instance has kappa about 333, so 1e-4 takes at most kappa ln(1e4), about 3070 steps.
    gd = run("logistic_l2", dict(LOGISTIC, budget=3100), GradientDescent)
    nesterov = run("logistic_l2", LOGISTIC, Nesterov)
    assert gd["reached_1e-04"] == 1
    assert nesterov["reached_1e-08"] == 1
    assert nesterov["calls_to_1e-04"] < gd["calls_to_1e-04"]


@pytest.mark.parametrize("params", [LASSO_SYNTHETIC, LASSO_DIABETES])
def test_ista_and_fista_on_lasso(params):
    ista = run("lasso", params, ISTA)
    fista = run("lasso", params, FISTA)
    assert ista["reached_1e-06"] == 1
    assert fista["reached_1e-08"] == 1
    assert fista["calls_to_1e-06"] <= ista["calls_to_1e-06"]


@pytest.mark.parametrize("implementation", [CyclicCoordinateDescent, RandomCoordinateDescent, GaussSouthwellCoordinateDescent])
def test_coordinate_descent_reaches_targets(implementation):
    quadratic = run("least_squares", dict(LS_DIABETES, budget=3000), implementation)
    lasso = run("lasso", LASSO_DIABETES, implementation)
    assert quadratic["reached_1e-06"] == 1
    assert lasso["reached_1e-08"] == 1


def test_random_cd_within_expected_rate():
    metrics = run("least_squares", LS_KAPPA_100, RandomCoordinateDescent)
    # The rate bounds the expected decrease; one run may be slower, so allow a factor of 2.
    bound_epochs = math.log(1e6) / -math.log(metrics["theoretical_rate"])
    assert metrics["iterations_to_1e-06"] <= 2 * bound_epochs


@pytest.mark.parametrize("params", [SEPARABLE_SYNTHETIC, SEPARABLE_DIGITS])
def test_perceptron_separates_within_novikoff_bound(params):
    metrics = run("separable_logistic", params, BatchPerceptron)
    # Novikoff's (R / gamma*)^2 bounds single-sample updates from 0; the batch runs from a
    # small random x0, so this is a check against the classical figure, not a theorem.
    assert metrics["reached_separated"] == 1
    assert metrics["calls_to_separated"] <= metrics["perceptron_bound"]


@pytest.mark.parametrize("implementation", [GradientDescent, LargeStepGradientDescent4, LargeStepGradientDescent64, NormalizedGradientDescent])
def test_gradient_methods_separate_data(implementation):
    metrics = run("separable_logistic", SEPARABLE_DIGITS, implementation)
    assert metrics["reached_separated"] == 1
    assert metrics["final_normalized_margin"] > 0


def test_normalized_gd_improves_margin_over_gd():
    gd = run("separable_logistic", SEPARABLE_DIGITS, GradientDescent)
    normalized = run("separable_logistic", SEPARABLE_DIGITS, NormalizedGradientDescent)
    assert normalized["final_normalized_margin"] > gd["final_normalized_margin"]


@pytest.mark.parametrize("implementation", [SGD, Adam])
def test_stochastic_methods_make_progress(implementation):
    params = dict(LS_DIABETES, budget=100)
    metrics = run("least_squares", params, implementation)
    assert metrics["reached_1e-02"] == 1


@pytest.mark.parametrize("implementation", all_baselines(), ids=lambda cls: cls.name)
def test_every_baseline_runs_on_its_tasks(implementation):
    small = {
        "least_squares": {"data": "synthetic", "n": 40, "d": 8, "kappa": 10.0, "budget": 20},
        "logistic_l2": dict(LOGISTIC, budget=20),
        "separable_logistic": {"data": "synthetic", "n": 40, "d": 5, "margin": 0.3, "budget": 20},
        "lasso": {"data": "synthetic", "n": 20, "d": 30, "n_nonzero": 3, "l1_ratio": 0.2, "budget": 20},
    }
    for task in SUITE.tasks():
        if not SUITE.supports(task, implementation, "cpu"):
            continue
        metrics = run(task.name, small[task.name], implementation)
        assert metrics["iterations_total"] >= 1
        assert metrics["calls_total"] <= 20
        assert np.isfinite(metrics["final_measure"])


def test_stochastic_baselines_reproducible():
    first = run("least_squares", dict(LS_DIABETES, budget=10), SGD, trial=3)
    second = run("least_squares", dict(LS_DIABETES, budget=10), SGD, trial=3)
    assert first["final_measure"] == second["final_measure"]


def test_fista_order_at_least_its_guarantee():
    # FISTA's O(1/k^2) is a worst case, so the order's interval must not lie entirely below 2.
    metrics = run("lasso", LASSO_DIABETES, FISTA)
    assert metrics["theoretical_order"] == 2.0
    assert metrics["order_high"] >= 2.0


@pytest.mark.parametrize("implementation", [GradientDescent, Nesterov, ConjugateGradient], ids=lambda cls: cls.name)
@pytest.mark.parametrize("params", [LS_KAPPA_100, LS_KAPPA_1E4, LS_DIABETES], ids=["kappa-1e2", "kappa-1e4", "diabetes"])
def test_empirical_rate_within_theoretical_rate(implementation, params):
    # The guarantees are worst-case upper bounds on the factor per iteration, so the bootstrap
    # interval of the fitted factor must reach below them.
    metrics = run("least_squares", params, implementation)
    assert metrics["theoretical_rate"] < 1.0
    assert metrics["rate_low"] <= metrics["theoretical_rate"]
