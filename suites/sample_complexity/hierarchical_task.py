"""Hierarchical polynomials h = g(p(x)): how n* grows with the dimension d."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theorybench import stats
from theorybench.contracts import Metric
from theorybench.errors import InvalidOutput
from theorybench.suites.sample_complexity.base import SEARCH_METRICS, SampleComplexityTask, TrialOutcome
from theorybench.suites.sample_complexity.contract import SampleSet


def quadratic_feature_matrix(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Return A = Q diag(+-lambda) Q^T with Q Haar-random, half the signs +, tr A = 0 and Var(x^T A x) = 1.

    The symmetric spectrum makes p(x) = x^T A x symmetric in law, so for odd g the degree-2
    Hermite projection of g(p(x)) is proportional to p itself.
    """
    orthogonal, upper = np.linalg.qr(rng.standard_normal((dim, dim)))
    orthogonal = orthogonal * np.sign(np.diag(upper))
    eigenvalues = np.array([1.0] * (dim // 2) + [-1.0] * (dim // 2) + [0.0] * (dim % 2))
    # Var(x^T A x) = 2 ||A||_F^2 for x ~ N(0, I).
    eigenvalues = eigenvalues / math.sqrt(2.0 * np.sum(eigenvalues**2))
    return (orthogonal * eigenvalues) @ orthogonal.T


class HierarchicalPolynomialTask(SampleComplexityTask):
    """h(x) = g(p(x)) with p quadratic (k = 2) and g(z) = z^q for odd q; the score is the slope of log n* in log d."""

    name = "hierarchical_polynomial"
    summary = (
        "Passive: n samples (x, y), x ~ N(0, I_d), y = h(x) + N(0, noise^2), h = c g(p(x)) with p(x) = x^T A x "
        "(degree k = 2, Var p = 1), g(z) = z^q (q odd) and c making Var h = 1. The learner returns a predictor, "
        "a callable mapping inputs (m, d) to predictions (m,). Success: test MSE against h <= eps Var(h) on "
        "`test_size` fresh points. Each cell searches n* up to n_max at every d in `dims`. Info: d, k, q, noise, eps."
    )
    bound = "n* = O~(d^k) for three-layer networks trained layer-wise; d^(kq) for kernel methods"
    score_metric = "n_star_slope"
    leaderboard_metrics = ("n_star_slope", "n_star_slope_low", "n_star_slope_high", "n_star", "n_star_over_bound")
    theoretical_exponent = -1.0
    test_size = 4000
    # n_max bounds the kernel matrix of kernel ridge: 8192^2 float64 is 0.5 GiB.
    tiers = {
        "quick": [{"dims": [4, 8], "k": 2, "q": 3, "noise": 0.1, "eps": 0.25, "n_max": 1024}],
        "standard": [{"dims": [6, 10, 14], "k": 2, "q": 3, "noise": 0.1, "eps": 0.1, "n_max": 8192}],
        "large": [{"dims": [8, 12, 16, 24], "k": 2, "q": 3, "noise": 0.1, "eps": 0.1, "n_max": 16384}],
    }

    metrics = SEARCH_METRICS + (
        Metric("n_star_slope", "", "min", "value", "least-squares slope of log n* against log d"),
        Metric("n_star_slope_low", "", "none", "value", "smallest slope with every n* inside its interval"),
        Metric("n_star_slope_high", "", "none", "value", "largest slope with every n* inside its interval"),
        Metric("theory_slope", "", "none", "value", "k, the slope the three-layer bound predicts"),
    )

    def score_cost(self, value: float) -> float:
        # A slope can be zero or negative on small sizes, and performance profiles need positive
        # costs: e^slope is the factor by which n* grows when d grows by a factor e.
        return math.exp(value)

    def bound_value(self, params: Mapping[str, Any]) -> float:
        dim = params["d"] if "d" in params else max(params["dims"])
        return float(dim ** params["k"])

    def sweep(self, params):
        if params["k"] != 2 or params["q"] % 2 == 0:
            raise ValueError(f"invalid k = {params['k']} or q = {params['q']}: this task needs k = 2 and an odd q")
        return [(f"d={dim}", {**{key: value for key, value in params.items() if key != "dims"}, "d": dim}) for dim in params["dims"]]

    def make_instance(self, params, rng):
        dim = params["d"]
        matrix = quadratic_feature_matrix(dim, rng)
        test_inputs = rng.standard_normal((self.test_size, dim))
        quadratic = np.einsum("ni,ij,nj->n", test_inputs, matrix, test_inputs)
        raw = quadratic ** params["q"]
        scale = 1.0 / raw.std()
        return {"matrix": matrix, "scale": scale, "test_inputs": test_inputs, "test_targets": raw * scale}

    def search_range(self, params):
        return 2 * params["d"], params["n_max"], 4 * params["d"] ** 2

    def make_problem(self, instance, params, n, data_rng, learner_seed):
        inputs = data_rng.standard_normal((n, params["d"]))
        quadratic = np.einsum("ni,ij,nj->n", inputs, instance["matrix"], inputs)
        targets = instance["scale"] * quadratic ** params["q"] + params["noise"] * data_rng.standard_normal(n)
        info = {key: params[key] for key in ("d", "k", "q", "noise", "eps")}
        return SampleSet(self.name, info, inputs, targets, learner_seed)

    def evaluate(self, instance, params, problem, estimate):
        if not callable(estimate):
            raise InvalidOutput(f"expected a predictor (a callable), got {type(estimate).__name__}")
        inputs, targets = instance["test_inputs"], instance["test_targets"]
        try:
            predictions = np.asarray(estimate(inputs.copy()), dtype=float).reshape(-1)
        except (TypeError, ValueError) as error:
            raise InvalidOutput(f"the predictor's output is not numeric: {error}") from None
        if predictions.shape != targets.shape:
            raise InvalidOutput(f"the predictor returned {predictions.size} values for {targets.size} inputs")
        if not np.all(np.isfinite(predictions)):
            raise InvalidOutput("the predictor returned NaN or infinite predictions")
        error = float(np.mean((predictions - targets) ** 2) / np.var(targets))
        return TrialOutcome(error, error <= params["eps"])

    def sweep_metrics(self, per_size):
        dims = [params["d"] for _, params, _, _ in per_size]
        results = [result for _, _, result, _ in per_size]
        metrics: dict[str, Any] = {"theory_slope": float(per_size[0][1]["k"])}
        for label, _, result, size_metrics in per_size:
            metrics[f"n_star[{label}]"] = size_metrics["n_star"]
            metrics[f"n_star_low[{label}]"] = size_metrics["n_star_low"]
        if any(result.n_star is None for result in results):
            metrics.update({"n_star_slope": None, "n_star_slope_low": None, "n_star_slope_high": None})
            return metrics
        slope, low, high = stats.log_log_slope_range(
            dims, [r.n_star for r in results], [r.n_star_low for r in results], [r.n_star for r in results]
        )
        metrics.update({"n_star_slope": slope, "n_star_slope_low": low, "n_star_slope_high": high})
        return metrics

