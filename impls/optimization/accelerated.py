"""Momentum methods: Nesterov's accelerated gradient and Polyak's heavy ball."""

from __future__ import annotations

import math

import numpy as np

from theorybench.suites.optimization import Optimizer, Problem


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient with step 1/L.

    Strongly convex problems (mu > 0) use the constant momentum (sqrt(kappa) - 1) / (sqrt(kappa) + 1);
    otherwise the momentum follows t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2.
    """

    name = "nesterov"
    authors = ("Yurii Nesterov",)
    reference = "Nesterov, Lectures on Convex Optimization (2018), chapter 2"
    tasks = ("least_squares", "logistic_l2", "separable_logistic")

    def run(self, problem: Problem, x0: np.ndarray):
        step = 1.0 / problem.smoothness
        x_previous = x0
        x = x0
        t = 1.0
        kappa = problem.condition_number
        constant_momentum = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0) if math.isfinite(kappa) else None
        while True:
            if constant_momentum is None:
                t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
                momentum = (t - 1.0) / t_next
                t = t_next
            else:
                momentum = constant_momentum
            y = x + momentum * (x - x_previous)
            x_previous = x
            x = y - step * problem.gradient(y)
            yield x

    def theoretical_rate(self, problem: Problem) -> float | None:
        # f(x_k) - f* <= (1 - 1/sqrt(kappa))^k (f(x_0) - f* + mu/2 ||x_0 - x*||^2).
        if problem.strong_convexity <= 0:
            return None
        return 1.0 - 1.0 / math.sqrt(problem.condition_number)


class HeavyBall(Optimizer):
    """Polyak's heavy ball with the optimal quadratic parameters.

    alpha = 4 / (sqrt(L) + sqrt(mu))^2 and beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2;
    on quadratics the distance to x* then shrinks asymptotically by sqrt(beta) per step.
    """

    name = "heavy-ball"
    authors = ("Boris Polyak",)
    reference = "Polyak, Some methods of speeding up the convergence of iteration methods (1964)"
    tasks = ("least_squares", "logistic_l2")

    def run(self, problem: Problem, x0: np.ndarray):
        L, mu = problem.smoothness, problem.strong_convexity
        if mu <= 0:
            raise ValueError("heavy ball needs a strongly convex problem (strong_convexity > 0)")
        alpha = 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2
        root = math.sqrt(L / mu)
        beta = ((root - 1.0) / (root + 1.0)) ** 2
        x_previous = x0
        x = x0
        while True:
            x, x_previous = x - alpha * problem.gradient(x) + beta * (x - x_previous), x
            yield x

    def theoretical_rate(self, problem: Problem) -> float | None:
        # Asymptotic rate on quadratics only; heavy ball has no global accelerated rate otherwise.
        if problem.kind != "quadratic" or problem.strong_convexity <= 0:
            return None
        root = math.sqrt(problem.condition_number)
        return ((root - 1.0) / (root + 1.0)) ** 2
