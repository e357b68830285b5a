"""Sparse linear regression: how many Gaussian samples recover s-sparse coefficients."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theorybench.suites.sample_complexity.base import SampleComplexityTask, TrialOutcome, checked_vector
from theorybench.suites.sample_complexity.contract import SampleSet


class SparseRegressionTask(SampleComplexityTask):
    """y = <x, beta> + noise, x ~ N(0, I_d), beta with s entries of +-1; target relative l2 error eps."""

    name = "sparse_regression"
    summary = (
        "Passive: n samples (x, y) with x ~ N(0, I_d) and y = <x, beta> + N(0, noise^2), beta s-sparse "
        "with entries +-1. The learner returns beta_hat, shape (d,). Success: "
        "||beta_hat - beta|| <= eps ||beta||. Info: d, s, noise, eps."
    )
    bound = "n* = O(s log(d / s)) for LASSO and OMP; d for least squares"
    theoretical_exponent = -0.5
    tiers = {
        "quick": [{"d": 128, "s": 4, "noise": 0.25, "eps": 0.25}],
        "standard": [
            {"d": 256, "s": 8, "noise": 0.25, "eps": 0.2},
            {"d": 1024, "s": 8, "noise": 0.25, "eps": 0.2},
        ],
        "large": [{"d": 4096, "s": 16, "noise": 0.25, "eps": 0.2}],
    }

    def bound_value(self, params: Mapping[str, Any]) -> float:
        return params["s"] * math.log(params["d"] / params["s"])

    def make_instance(self, params, rng):
        d, s = params["d"], params["s"]
        beta = np.zeros(d)
        support = rng.choice(d, size=s, replace=False)
        beta[support] = rng.choice([-1.0, 1.0], size=s)
        return beta

    def search_range(self, params):
        start = max(2, math.ceil(2 * self.bound_value(params)))
        return 2, 4 * params["d"], start

    def make_problem(self, instance, params, n, data_rng, learner_seed):
        d = params["d"]
        features = data_rng.standard_normal((n, d))
        targets = features @ instance + params["noise"] * data_rng.standard_normal(n)
        info = {key: params[key] for key in ("d", "s", "noise", "eps")}
        return SampleSet(self.name, info, features, targets, learner_seed)

    def evaluate(self, instance, params, problem, estimate):
        beta_hat = checked_vector(estimate, params["d"], "coefficient estimate")
        error = float(np.linalg.norm(beta_hat - instance) / np.linalg.norm(instance))
        return TrialOutcome(error, error <= params["eps"])

