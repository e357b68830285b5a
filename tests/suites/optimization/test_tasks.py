"""Tests of the tasks: certified optima, objectives' derivatives, separability and margins."""

import numpy as np
import pytest

from theorybench.suites.optimization.objectives import LinearModelObjective
from theorybench.suites.optimization.tasks import (
    LassoTask,
    LeastSquares,
    LogisticL2,
    SeparableLogistic,
    check_separable,
    lasso_dual_gap,
    max_margin,
    newton_logistic,
)


@pytest.mark.parametrize("params", LeastSquares.tiers["quick"])
def test_least_squares_optimum_certified(params):
    instance = LeastSquares().make_instance(params, np.random.default_rng(0))
    x0 = np.random.default_rng(1).standard_normal(instance.objective.d)
    assert instance.info["f_star_gradient_norm"] <= 1e-12
    assert instance.measure(x0, x0) == pytest.approx(1.0)
    # The closed-form gap ||A (x - x*)||^2 / (2n) agrees with f(x) - f* evaluated directly.
    f_star = instance.info["f_star"]
    x = 0.5 * x0
    direct = (instance.objective.value(x) - f_star) / (instance.objective.value(x0) - f_star)
    assert instance.measure(x, x0) == pytest.approx(direct, rel=1e-9)


def test_least_squares_kappa_matches_parameter():
    params = {"data": "synthetic", "n": 100, "d": 20, "kappa": 1000.0, "budget": 1}
    instance = LeastSquares().make_instance(params, np.random.default_rng(0))
    assert instance.condition_number == pytest.approx(1000.0, rel=1e-8)


def test_logistic_optimum_certified_by_gradient():
    instance = LogisticL2().make_instance(LogisticL2.tiers["quick"][0], np.random.default_rng(0))
    gradient = instance.objective.gradient(np.zeros(instance.objective.d))
    assert instance.info["f_star_gradient_norm"] <= 1e-12 * np.linalg.norm(gradient)
    assert instance.info["f_star_error_bound"] <= 1e-20
    x = np.random.default_rng(3).standard_normal(instance.objective.d)
    assert instance.measure(x, x) == pytest.approx(1.0)
    assert instance.measure(0.5 * x, x) > 0


def test_newton_raises_when_not_converged():
    objective = LinearModelObjective(np.random.default_rng(0).standard_normal((20, 3)), np.sign(np.arange(20) - 9.5), "logistic", l2=1e-3)
    with pytest.raises(RuntimeError, match="did not certify"):
        newton_logistic(objective, tolerance=1e-30, max_iterations=2)


@pytest.mark.parametrize("params", LassoTask.tiers["quick"])
def test_lasso_optimum_certified_by_duality_gap(params):
    instance = LassoTask().make_instance(params, np.random.default_rng(0))
    objective = instance.objective
    assert 0 <= instance.info["f_star_duality_gap"] <= 1e-10 * objective.value(np.zeros(objective.d))
    x = np.random.default_rng(2).standard_normal(objective.d)
    # The duality gap at any x bounds f(x) - f* from above.
    assert lasso_dual_gap(objective, x) >= objective.value(x) - instance.info["f_star"] - 1e-12


def test_check_separable_rejects_xor():
    X = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="not linearly separable"):
        check_separable(y[:, None] * X)


def test_max_margin_on_known_geometry():
    # The point of the hull nearest to 0 is the vertex (1, 0), so the maximum margin is 1.
    Z = np.array([[1.0, 0.0], [2.0, 1.0], [1.0, -3.0]])
    lower, upper, w = max_margin(Z)
    assert lower == pytest.approx(1.0, abs=1e-9)
    assert upper == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-9)


@pytest.mark.parametrize("params", SeparableLogistic.tiers["quick"])
def test_separable_instances_certified(params):
    instance = SeparableLogistic().make_instance(params, np.random.default_rng(0))
    lower, upper = instance.info["max_margin_bracket"]
    assert upper - lower <= 1e-9 * upper
    x = np.zeros(instance.objective.d)
    assert instance.extra_curves["training_error"](x) == 1.0
    assert instance.measure(x, x) == 1.0


def test_separable_margin_at_least_generated_margin():
    params = {"data": "synthetic", "n": 100, "d": 5, "margin": 0.25, "budget": 1}
    instance = SeparableLogistic().make_instance(params, np.random.default_rng(4))
    assert instance.info["max_margin"] >= 0.25 - 1e-9


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_objective_derivatives_match_finite_differences(loss):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((25, 6))
    b = np.sign(rng.standard_normal(25)) if loss == "logistic" else rng.standard_normal(25)
    objective = LinearModelObjective(A, b, loss, l2=0.1)
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    h = 1e-6
    numeric = np.array([(objective.value(x + h * e) - objective.value(x - h * e)) / (2 * h) for e in np.eye(6)])
    np.testing.assert_allclose(objective.gradient(x), numeric, rtol=1e-6, atol=1e-8)
    hessian_numeric = (objective.gradient(x + h * v) - objective.gradient(x - h * v)) / (2 * h)
    np.testing.assert_allclose(objective.hessian_vector(x, v), hessian_numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(objective.stochastic_gradient(x, np.arange(25)), objective.gradient(x), rtol=1e-12)


def test_partial_gradient_cache_matches_full_gradient():
    rng = np.random.default_rng(1)
    objective = LinearModelObjective(rng.standard_normal((30, 40)), rng.standard_normal(30), "squared")
    x = rng.standard_normal(40)
    for step in range(600):
        j = step % 40
        x[j] += 0.01 * rng.standard_normal()
        np.testing.assert_allclose(objective.partial_gradient(x, np.array([j])), objective.gradient(x)[[j]], rtol=1e-9, atol=1e-12)


def test_prox_soft_thresholds():
    objective = LinearModelObjective(np.eye(3), np.zeros(3), "squared", l1=1.0)
    np.testing.assert_allclose(objective.prox(np.array([3.0, -0.5, -2.0]), 1.0), [2.0, 0.0, -1.0])


def test_smoothness_bounds_coordinate_constants():
    rng = np.random.default_rng(2)
    objective = LinearModelObjective(rng.standard_normal((50, 7)), np.sign(rng.standard_normal(50)), "logistic")
    assert np.all(objective.coordinate_smoothness <= objective.smoothness + 1e-12)
    hessian = objective.hessian(rng.standard_normal(7))
    assert np.linalg.eigvalsh(hessian)[-1] <= objective.smoothness + 1e-12
