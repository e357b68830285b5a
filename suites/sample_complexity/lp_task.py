"""Active l_p regression: how many labels b_i a row-sampling scheme reads for a (1 + eps) solution."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theorybench.suites.sample_complexity.base import SampleComplexityTask, TrialOutcome, checked_vector
from theorybench.suites.sample_complexity.contract import QueryOracle
from theorybench.suites.sample_complexity.lp_solver import lp_cost, solve_lp_regression


class LpRegressionTask(SampleComplexityTask):
    """min_x ||A x - b||_p with A known and each label b_i read through a counted oracle."""

    name = "lp_regression"
    summary = (
        "Active: the design A (rows x d, Gaussian rows scaled by heavy-tailed factors) is public in "
        "info['matrix']; the labels b = A x0 + Laplace noise are read through query(rows). The learner returns "
        "x, shape (d,). Success: ||A x - b||_p <= (1 + eps) min_z ||A z - b||_p. Info: matrix, p, d, rows, eps."
    )
    bound = (
        "reference n = d log(d) / eps^2 for p <= 2 and d^(p/2) log(d) / eps^2 for p > 2 (the d-dependence "
        "of Lewis-weight sampling; constants omitted)"
    )
    tiers = {
        "quick": [{"p": 1, "rows": 400, "d": 6, "eps": 0.1}, {"p": 3, "rows": 400, "d": 6, "eps": 0.1}],
        "standard": [
            {"p": 1, "rows": 2000, "d": 10, "eps": 0.05},
            {"p": 3, "rows": 2000, "d": 10, "eps": 0.05},
        ],
        "large": [{"p": 1, "rows": 20000, "d": 20, "eps": 0.05}, {"p": 3, "rows": 20000, "d": 20, "eps": 0.05}],
    }

    def theory_exponent(self, params: Mapping[str, Any]) -> float | None:
        # n ~ d / eps^2 means eps ~ n^(-1/2) for p <= 2; no exponent is claimed for p > 2.
        return -0.5 if params["p"] <= 2 else None

    def bound_value(self, params: Mapping[str, Any]) -> float:
        d, p, eps = params["d"], params["p"], params["eps"]
        return d ** max(1.0, p / 2.0) * math.log(d) / eps**2

    def make_instance(self, params, rng):
        rows, d = params["rows"], params["d"]
        scales = np.abs(rng.standard_t(df=1.5, size=rows)) + 0.1
        matrix = rng.standard_normal((rows, d)) * scales[:, None]
        truth = rng.standard_normal(d)
        targets = matrix @ truth + rng.laplace(scale=1.0, size=rows)
        optimum = solve_lp_regression(matrix, targets, params["p"])
        return {"matrix": matrix, "targets": targets, "opt": lp_cost(matrix, targets, optimum, params["p"])}

    def search_range(self, params):
        return params["d"], params["rows"], 4 * params["d"]

    def make_problem(self, instance, params, n, data_rng, learner_seed):
        info = {"matrix": instance["matrix"].copy(), "p": params["p"], "d": params["d"], "rows": params["rows"], "eps": params["eps"]}
        return QueryOracle(self.name, info, instance["targets"], budget=n, seed=learner_seed)

    def evaluate(self, instance, params, problem, estimate):
        x = checked_vector(estimate, params["d"], "solution")
        ratio = lp_cost(instance["matrix"], instance["targets"], x, params["p"]) / instance["opt"]
        error = max(ratio - 1.0, 0.0)
        return TrialOutcome(error, error <= params["eps"])
