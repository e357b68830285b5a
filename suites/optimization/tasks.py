"""Tasks of the optimization suite: instances, certified optima, progress measures and targets.

Each task builds an `Instance` from its parameters and a data seed. Building an instance also
certifies the optimum the progress measure is relative to:

- least squares: x* from a float64 least-squares solve, f(x) - f* = ||A (x - x*)||^2 / (2n);
- L2-regularized logistic regression: Newton's method until the gradient norm is at most
  1e-12 times the gradient norm at 0, so f(x_N) - f* <= ||grad||^2 / (2 mu);
- lasso: coordinate descent (scikit-learn) to a duality gap below 1e-10 of f(0);
- separable logistic regression: a linear program proves separability, and the maximum
  margin comes from the dual (minimum-norm point of the convex hull of y_i a_i) with a primal
  point whose margin matches it to 1e-9.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any, Callable, Mapping

import numpy as np
from scipy.optimize import linprog, nnls
from sklearn.linear_model import Lasso

from theorybench.contracts import Metric, Task
from theorybench.datasets import sklearn_sets, synthetic
from theorybench.suites.optimization.objectives import LinearModelObjective

#: Log-spaced targets on relative suboptimality (f(x) - f*) / (f(x0) - f*).
SUBOPTIMALITY_TARGETS = tuple((f"{t:.0e}", t) for t in np.logspace(-1, -8, 8))

#: Targets on the margin gap 1 - gamma(w) / gamma*; "separated" means zero training error.
MARGIN_TARGETS = (("separated", 1.0 - 1e-12), ("margin_gap_0.5", 0.5), ("margin_gap_0.2", 0.2), ("margin_gap_0.1", 0.1))


@dataclasses.dataclass
class Instance:
    """One seeded problem with its certified reference and progress measure."""

    objective: LinearModelObjective
    kind: str
    strong_convexity: float
    #: Progress measure of an iterate given the starting point: lower is better, 0 is optimal.
    measure: Callable[[np.ndarray, np.ndarray], float]
    measure_name: str
    targets: tuple[tuple[str, float], ...]
    #: Extra per-iterate curves (name -> function of x), evaluated untimed like the measure.
    extra_curves: Mapping[str, Callable[[np.ndarray], float]] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def condition_number(self) -> float:
        if self.strong_convexity <= 0:
            return math.inf
        return self.objective.smoothness / self.strong_convexity


def _target_metrics(targets: tuple[tuple[str, float], ...], measure_name: str) -> tuple[Metric, ...]:
    metrics = []
    for label, _ in targets:
        metrics += [
            Metric(f"calls_to_{label}", "oracle calls", "min", "count", f"oracle calls until {measure_name} <= {label}"),
            Metric(f"iterations_to_{label}", "iterations", "min", "count", f"iterations until {measure_name} <= {label}"),
            Metric(f"time_to_{label}", "s", "min", "time", f"optimizer wall time until {measure_name} <= {label}"),
            Metric(f"reached_{label}", "", "max", "value", f"1 when {measure_name} reached {label} within the budget"),
        ]
    return tuple(metrics)


COMMON_METRICS = (
    Metric("calls_total", "oracle calls", "none", "count", "oracle calls spent before the run ended"),
    Metric("iterations_total", "iterations", "none", "count", "iterates yielded"),
    Metric("time_total_s", "s", "min", "time", "optimizer wall time, measure evaluation excluded"),
    Metric("targets_reached", "", "max", "value", "number of targets reached"),
    Metric("final_measure", "", "min", "value", "progress measure at the last iterate"),
    Metric("best_measure", "", "min", "value", "smallest progress measure over the iterates"),
    Metric("rate", "per iteration", "min", "value", "empirical linear rate: factor by which the measure shrinks per iteration"),
    Metric("rate_low", "per iteration", "none", "value", "lower end of the 95% bootstrap interval of the rate"),
    Metric("rate_high", "per iteration", "none", "value", "upper end of the 95% bootstrap interval of the rate"),
    Metric("rate_per_call", "per oracle call", "min", "value", "empirical linear rate per oracle call"),
    Metric("theoretical_rate", "per iteration", "none", "value", "rate the method's theory guarantees on this instance"),
    Metric("order", "", "max", "value", "empirical sublinear order p: the measure decays as C k^-p in iterations k"),
    Metric("order_low", "", "none", "value", "lower end of the 95% bootstrap interval of the order"),
    Metric("order_high", "", "none", "value", "upper end of the 95% bootstrap interval of the order"),
    Metric("theoretical_order", "", "none", "value", "order p of the method's O(k^-p) guarantee on this instance"),
    Metric("lower_bound_rate", "per iteration", "none", "value", "first-order lower bound ((sqrt(kappa)-1)/(sqrt(kappa)+1))^2"),
    Metric("lower_bound_iterations", "iterations", "none", "value", "sqrt(kappa) ln(1/eps) at the last target"),
    Metric("kappa", "", "none", "value", "condition number L / mu of the instance"),
)


def lower_bound_rate(kappa: float) -> float | None:
    """Return the per-iteration factor of Nesterov's first-order lower bound on f - f*."""
    if not math.isfinite(kappa):
        return None
    root = math.sqrt(kappa)
    return ((root - 1.0) / (root + 1.0)) ** 2


def lower_bound_iterations(kappa: float, eps: float) -> float | None:
    """Return sqrt(kappa) ln(1/eps), the order of first-order iterations needed to reach eps."""
    if not math.isfinite(kappa):
        return None
    return math.sqrt(kappa) * math.log(1.0 / eps)


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True)


def relative_suboptimality(objective_gap: Callable[[np.ndarray], float]) -> Callable[[np.ndarray, np.ndarray], float]:
    """Return measure(x, x0) = objective_gap(x) / objective_gap(x0), keeping the last denominator."""
    last: dict[str, Any] = {"x0": None, "gap": math.nan}

    def measure(x: np.ndarray, x0: np.ndarray) -> float:
        if last["x0"] is None or not np.array_equal(last["x0"], x0):
            last["x0"], last["gap"] = x0.copy(), objective_gap(x0)
        return objective_gap(x) / last["gap"]

    return measure


class OptimizationTask(Task):
    """Base of the suite's tasks: instances are built once per (parameters, seed) in a process."""

    targets: tuple[tuple[str, float], ...] = SUBOPTIMALITY_TARGETS
    measure_name = "relative suboptimality"

    def build(self, params: Mapping[str, Any], seed: int) -> Instance:
        return _build_cached(type(self), _params_key(params), seed)

    def make_instance(self, params: Mapping[str, Any], rng: np.random.Generator) -> Instance:
        raise NotImplementedError

    def budget(self, params: Mapping[str, Any]) -> float:
        return float(params["budget"])


@functools.lru_cache(maxsize=16)
def _build_cached(task_class: type[OptimizationTask], params_key: str, seed: int) -> Instance:
    return task_class().make_instance(json.loads(params_key), np.random.default_rng(seed))


def _least_squares_data(params: Mapping[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if params["data"] == "synthetic":
        return synthetic.conditioned_least_squares(rng, int(params["n"]), int(params["d"]), float(params["kappa"]))
    if params["data"] == "diabetes":
        return sklearn_sets.diabetes()
    raise ValueError(f"unknown least-squares data {params['data']!r}; expected 'synthetic' or 'diabetes'")


class LeastSquares(OptimizationTask):
    name = "least_squares"
    summary = "min ||A x - b||^2 / (2n): synthetic with set condition number, and standardized diabetes"
    bound = "first-order methods need about sqrt(kappa) ln(1/eps) gradients; CG ends in at most d steps"
    metrics = _target_metrics(SUBOPTIMALITY_TARGETS, "relative suboptimality") + COMMON_METRICS
    score_metric = "calls_to_1e-06"
    leaderboard_metrics = ("ert_1e-04", "ert_1e-08", "rate", "theoretical_rate", "lower_bound_rate")
    tiers = {
        "quick": [
            {"data": "synthetic", "n": 200, "d": 50, "kappa": 100.0, "budget": 600},
            {"data": "synthetic", "n": 200, "d": 50, "kappa": 10000.0, "budget": 1000},
            {"data": "diabetes", "budget": 1000},
        ],
        "standard": [
            {"data": "synthetic", "n": 2000, "d": 500, "kappa": 100.0, "budget": 3000},
            {"data": "synthetic", "n": 2000, "d": 500, "kappa": 10000.0, "budget": 5000},
            {"data": "synthetic", "n": 2000, "d": 500, "kappa": 100000.0, "budget": 5000},
            {"data": "diabetes", "budget": 5000},
        ],
    }

    def make_instance(self, params: Mapping[str, Any], rng: np.random.Generator) -> Instance:
        A, b = _least_squares_data(params, rng)
        objective = LinearModelObjective(A, b, "squared")
        x_star, *_ = np.linalg.lstsq(A, b, rcond=None)
        hessian = A.T @ A / A.shape[0]
        hessian_eigenvalues = np.linalg.eigvalsh(hessian)
        mu = float(hessian_eigenvalues[0])
        gradient_norm = float(np.linalg.norm(objective.gradient(x_star)))

        def gap(x: np.ndarray) -> float:
            # f(x) - f* = (x - x*)^T H (x - x*) / 2 exactly for a quadratic, with no cancellation
            # between two nearly equal values of f; H is d x d, cheaper than A (n x d) when n > d.
            error = x - x_star
            return 0.5 * float(error @ (hessian @ error))

        return Instance(
            objective=objective,
            kind="quadratic",
            strong_convexity=mu,
            measure=relative_suboptimality(gap),
            measure_name=self.measure_name,
            targets=self.targets,
            info={
                "f_star": objective.value(x_star),
                "f_star_gradient_norm": gradient_norm,
                "kappa": float(hessian_eigenvalues[-1] / mu),
            },
        )

    def bound_value(self, params: Mapping[str, Any]) -> float | None:
        if params["data"] == "synthetic":
            return lower_bound_iterations(float(params["kappa"]), 1e-8)
        return None


def newton_logistic(objective: LinearModelObjective, tolerance: float = 1e-12, max_iterations: int = 100) -> tuple[np.ndarray, float]:
    """Minimize a ridge logistic objective with damped Newton steps.

    Stops when ||grad|| <= tolerance * ||grad at 0||; returns (x, final gradient norm).
    Raises RuntimeError when that does not happen within `max_iterations`.
    """
    x = np.zeros(objective.d)
    reference = float(np.linalg.norm(objective.gradient(x)))
    for _ in range(max_iterations):
        gradient = objective.gradient(x)
        norm = float(np.linalg.norm(gradient))
        if norm <= tolerance * max(reference, 1e-300):
            return x, norm
        direction = np.linalg.solve(objective.hessian(x), gradient)
        value = objective.value(x)
        step = 1.0
        # Backtracking (Armijo) keeps the damped phase monotone; near x* the full step is taken.
        while objective.value(x - step * direction) > value - 0.25 * step * float(gradient @ direction) and step > 1e-10:
            step *= 0.5
        x = x - step * direction
    raise RuntimeError(f"Newton's method did not certify the optimum in {max_iterations} steps (gradient norm {norm:.3g})")


class LogisticL2(OptimizationTask):
    name = "logistic_l2"
    summary = "L2-regularized logistic regression on standardized breast cancer (569 x 30 plus intercept)"
    bound = "first-order methods need about sqrt(kappa) ln(1/eps) gradients, kappa = L / lambda"
    metrics = _target_metrics(SUBOPTIMALITY_TARGETS, "relative suboptimality") + COMMON_METRICS
    score_metric = "calls_to_1e-06"
    leaderboard_metrics = ("ert_1e-04", "ert_1e-08", "rate", "theoretical_rate", "lower_bound_rate")
    tiers = {
        "quick": [{"data": "breast_cancer", "l2": 0.01, "budget": 1000}],
        "standard": [
            {"data": "breast_cancer", "l2": 0.01, "budget": 5000},
            {"data": "breast_cancer", "l2": 0.001, "budget": 20000},
        ],
    }

    def make_instance(self, params: Mapping[str, Any], rng: np.random.Generator) -> Instance:
        if params["data"] != "breast_cancer":
            raise ValueError(f"unknown logistic data {params['data']!r}; expected 'breast_cancer'")
        X, y = sklearn_sets.breast_cancer()
        X = np.hstack([X, np.ones((X.shape[0], 1))])
        l2 = float(params["l2"])
        objective = LinearModelObjective(X, y, "logistic", l2=l2)
        x_star, gradient_norm = newton_logistic(objective)
        f_star = objective.value(x_star)

        def gap(x: np.ndarray) -> float:
            return objective.value(x) - f_star

        return Instance(
            objective=objective,
            kind="logistic",
            strong_convexity=l2,
            measure=relative_suboptimality(gap),
            measure_name=self.measure_name,
            targets=self.targets,
            info={
                "f_star": f_star,
                "f_star_gradient_norm": gradient_norm,
                "f_star_error_bound": gradient_norm**2 / (2 * l2),
                "kappa": objective.smoothness / l2,
            },
        )

    def bound_value(self, params: Mapping[str, Any]) -> float | None:
        X, _ = sklearn_sets.breast_cancer()
        X = np.hstack([X, np.ones((X.shape[0], 1))])
        smoothness = 0.25 * np.linalg.norm(X, 2) ** 2 / X.shape[0] + float(params["l2"])
        return lower_bound_iterations(smoothness / float(params["l2"]), 1e-8)


def max_margin(Z: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Return (lower, upper, w) bracketing the maximum margin max_{||w||=1} min_i z_i . w.

    The margin equals the distance from 0 to the convex hull of the rows of Z (hard-margin
    duality). A penalized nonnegative least-squares solve gives weights alpha on the simplex;
    ||Z^T alpha|| is an upper bound and the margin of w = Z^T alpha / ||Z^T alpha|| a lower one.
    """
    n, d = Z.shape
    penalty = 1e3
    augmented = np.vstack([Z.T, penalty * np.ones((1, n))])
    rhs = np.concatenate([np.zeros(d), [penalty]])
    alpha, _ = nnls(augmented, rhs, maxiter=50 * n)
    alpha /= alpha.sum()
    direction = Z.T @ alpha
    upper = float(np.linalg.norm(direction))
    w = direction / upper
    lower = float(np.min(Z @ w))
    return lower, upper, w


def check_separable(Z: np.ndarray) -> None:
    """Raise ValueError unless a w with Z w >= 1 exists (a linear feasibility program)."""
    n, d = Z.shape
    result = linprog(np.zeros(d), A_ub=-Z, b_ub=-np.ones(n), bounds=[(None, None)] * d, method="highs")
    if result.status != 0:
        raise ValueError(f"the data are not linearly separable through the origin ({result.message})")


class SeparableLogistic(OptimizationTask):
    name = "separable_logistic"
    summary = "unregularized logistic regression on separable data: synthetic with set margin, digits 3 vs 8"
    bound = "batch perceptron separates within (R / gamma*)^2 updates; GD's margin gap decays as 1 / log t"
    measure_name = "margin gap"
    targets = MARGIN_TARGETS
    metrics = (
        _target_metrics(MARGIN_TARGETS, "margin gap")
        + COMMON_METRICS
        + (
            Metric("final_training_error", "", "min", "value", "fraction of training points misclassified at the end"),
            Metric("final_normalized_margin", "", "max", "value", "min_i y_i a_i . w / ||w|| at the end"),
            Metric("max_margin", "", "none", "value", "certified maximum margin gamma*"),
            Metric("perceptron_bound", "updates", "none", "value", "Novikoff's bound (R / gamma*)^2"),
        )
    )
    score_metric = "calls_to_separated"
    leaderboard_metrics = ("ert_separated", "ert_margin_gap_0.5", "ert_margin_gap_0.1", "final_normalized_margin")
    tiers = {
        "quick": [
            {"data": "synthetic", "n": 200, "d": 20, "margin": 0.1, "budget": 500},
            {"data": "digits", "classes": [3, 8], "budget": 500},
        ],
        "standard": [
            {"data": "synthetic", "n": 2000, "d": 100, "margin": 0.05, "budget": 5000},
            {"data": "digits", "classes": [3, 8], "budget": 5000},
            {"data": "digits", "classes": [4, 9], "budget": 5000},
        ],
    }

    def _data(self, params: Mapping[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if params["data"] == "synthetic":
            return synthetic.separable_classification(rng, int(params["n"]), int(params["d"]), float(params["margin"]))
        if params["data"] == "digits":
            positive, negative = params["classes"]
            X, y = sklearn_sets.digits_pair(int(positive), int(negative))
            return np.hstack([X, np.ones((X.shape[0], 1))]), y
        raise ValueError(f"unknown separable data {params['data']!r}; expected 'synthetic' or 'digits'")

    def make_instance(self, params: Mapping[str, Any], rng: np.random.Generator) -> Instance:
        X, y = self._data(params, rng)
        Z = y[:, None] * X
        check_separable(Z)
        lower, upper, _ = max_margin(Z)
        if not upper - lower <= 1e-9 * upper:
            raise RuntimeError(f"maximum margin not certified: bracket [{lower:.12g}, {upper:.12g}]")
        gamma_star = upper
        radius = float(np.max(np.linalg.norm(X, axis=1)))
        objective = LinearModelObjective(X, y, "logistic")

        def normalized_margin(x: np.ndarray) -> float:
            norm = float(np.linalg.norm(x))
            return float(np.min(Z @ x)) / norm if norm > 0 else 0.0

        def training_error(x: np.ndarray) -> float:
            return float(np.mean(Z @ x <= 0))

        def measure(x: np.ndarray, x0: np.ndarray) -> float:
            return 1.0 - normalized_margin(x) / gamma_star

        return Instance(
            objective=objective,
            kind="separable_logistic",
            strong_convexity=0.0,
            measure=measure,
            measure_name=self.measure_name,
            targets=self.targets,
            extra_curves={"training_error": training_error, "normalized_margin": normalized_margin},
            info={
                "max_margin": gamma_star,
                "max_margin_bracket": [lower, upper],
                "radius": radius,
                "perceptron_bound": (radius / gamma_star) ** 2,
            },
        )

    def bound_value(self, params: Mapping[str, Any]) -> float | None:
        if params["data"] != "digits":
            return None
        instance = self.make_instance(params, np.random.default_rng(0))
        return instance.info["perceptron_bound"]


def lasso_dual_gap(objective: LinearModelObjective, x: np.ndarray) -> float:
    """Return P(x) - D(theta(x)) >= f(x) - f* for the lasso, theta the rescaled residual.

    With P(x) = ||b - A x||^2 / (2n) + l1 ||x||_1, the dual point u = r * min(1, n l1 / ||A^T r||_inf)
    (r = b - A x) is feasible for D(u) = (||b||^2 - ||b - u||^2) / (2n).
    """
    A, b, n = objective.A, objective.b, objective.n
    residual = b - A @ x
    correlation = float(np.max(np.abs(A.T @ residual)))
    scale = 1.0 if correlation == 0 else min(1.0, n * objective.l1 / correlation)
    u = scale * residual
    dual = (float(b @ b) - float((b - u) @ (b - u))) / (2 * n)
    return objective.value(x) - dual


class LassoTask(OptimizationTask):
    name = "lasso"
    summary = "L1-regularized least squares: synthetic sparse regression and standardized diabetes"
    bound = "FISTA: f - f* <= 2 L ||x0 - x*||^2 / (k + 1)^2; ISTA: L ||x0 - x*||^2 / (2k)"
    metrics = _target_metrics(SUBOPTIMALITY_TARGETS, "relative suboptimality") + COMMON_METRICS
    score_metric = "calls_to_1e-06"
    leaderboard_metrics = ("ert_1e-04", "ert_1e-08", "rate", "order", "theoretical_order")
    tiers = {
        "quick": [
            {"data": "synthetic", "n": 100, "d": 200, "n_nonzero": 10, "l1_ratio": 0.1, "budget": 500},
            {"data": "diabetes", "l1_ratio": 0.05, "budget": 500},
        ],
        "standard": [
            {"data": "synthetic", "n": 500, "d": 2000, "n_nonzero": 20, "l1_ratio": 0.05, "budget": 5000},
            {"data": "diabetes", "l1_ratio": 0.01, "budget": 5000},
        ],
    }

    def make_instance(self, params: Mapping[str, Any], rng: np.random.Generator) -> Instance:
        if params["data"] == "synthetic":
            A, b = synthetic.sparse_regression(rng, int(params["n"]), int(params["d"]), int(params["n_nonzero"]))
        elif params["data"] == "diabetes":
            A, b = sklearn_sets.diabetes()
        else:
            raise ValueError(f"unknown lasso data {params['data']!r}; expected 'synthetic' or 'diabetes'")
        n = A.shape[0]
        l1 = float(params["l1_ratio"]) * float(np.max(np.abs(A.T @ b))) / n
        objective = LinearModelObjective(A, b, "squared", l1=l1)
        solver = Lasso(alpha=l1, fit_intercept=False, tol=1e-14, max_iter=200_000, selection="cyclic")
        solver.fit(A, b)
        x_hat = np.asarray(solver.coef_, dtype=np.float64)
        gap = lasso_dual_gap(objective, x_hat)
        scale = objective.value(np.zeros(objective.d))
        if not gap <= 1e-10 * scale:
            raise RuntimeError(f"lasso optimum not certified: duality gap {gap:.3g} > 1e-10 * f(0) = {1e-10 * scale:.3g}")
        f_star = objective.value(x_hat)

        def objective_gap(x: np.ndarray) -> float:
            return objective.value(x) - f_star

        return Instance(
            objective=objective,
            kind="lasso",
            strong_convexity=0.0,
            measure=relative_suboptimality(objective_gap),
            measure_name=self.measure_name,
            targets=self.targets,
            info={"f_star": f_star, "f_star_duality_gap": gap, "l1": l1, "nonzeros": int(np.count_nonzero(x_hat))},
        )


TASKS = (LeastSquares, LogisticL2, SeparableLogistic, LassoTask)
