"""Proximal gradient methods for the lasso: ISTA and FISTA."""

from __future__ import annotations

import math

import numpy as np

from theorybench.suites.optimization import Optimizer, Problem


class ISTA(Optimizer):
    """x_{k+1} = prox_{1/L}(x_k - grad g(x_k) / L), g the smooth part."""

    name = "ista"
    authors = ("TheoryBench developers",)
    reference = "Beck and Teboulle, A fast iterative shrinkage-thresholding algorithm (SIAM J. Imaging Sci. 2009)"
    tasks = ("lasso",)

    def run(self, problem: Problem, x0: np.ndarray):
        step = 1.0 / problem.smoothness
        x = x0
        while True:
            x = problem.prox(x - step * problem.gradient(x), step)
            yield x

    def theoretical_order(self, problem: Problem) -> float | None:
        # F(x_k) - F* <= L ||x_0 - x*||^2 / (2k).
        return 1.0


class FISTA(Optimizer):
    """ISTA at an extrapolated point y_k with momentum (t_k - 1) / t_{k+1}."""

    name = "fista"
    authors = ("TheoryBench developers",)
    reference = "Beck and Teboulle, A fast iterative shrinkage-thresholding algorithm (SIAM J. Imaging Sci. 2009)"
    tasks = ("lasso",)

    def run(self, problem: Problem, x0: np.ndarray):
        step = 1.0 / problem.smoothness
        x_previous = x0
        y = x0
        t = 1.0
        while True:
            x = problem.prox(y - step * problem.gradient(y), step)
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            y = x + ((t - 1.0) / t_next) * (x - x_previous)
            x_previous, t = x, t_next
            yield x

    def theoretical_order(self, problem: Problem) -> float | None:
        # F(x_k) - F* <= 2 L ||x_0 - x*||^2 / (k + 1)^2.
        return 2.0
