"""Conjugate gradient on quadratics, through counted Hessian-vector products."""

from __future__ import annotations

import math

import numpy as np

from theorybench.suites.optimization import Optimizer, Problem


class ConjugateGradient(Optimizer):
    """Hestenes-Stiefel conjugate gradient for f(x) = x^T H x / 2 - c^T x.

    One gradient at x0 gives the residual; each iteration then costs one Hessian-vector product.
    In exact arithmetic it ends in at most d iterations.
    """

    name = "conjugate-gradient"
    authors = ("Magnus Hestenes", "Eduard Stiefel")
    reference = "Hestenes and Stiefel, Methods of conjugate gradients for solving linear systems (1952)"
    tasks = ("least_squares",)

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0
        gradient = problem.gradient(x)
        direction = -gradient
        squared_norm = float(gradient @ gradient)
        while squared_norm > 0.0:
            product = problem.hessian_vector_product(x, direction)
            curvature = float(direction @ product)
            if curvature <= 0.0:
                return
            alpha = squared_norm / curvature
            x = x + alpha * direction
            gradient = gradient + alpha * product
            new_squared_norm = float(gradient @ gradient)
            direction = -gradient + (new_squared_norm / squared_norm) * direction
            squared_norm = new_squared_norm
            yield x

    def theoretical_rate(self, problem: Problem) -> float | None:
        # ||x_k - x*||_H <= 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^k ||x_0 - x*||_H, squared for f.
        if problem.strong_convexity <= 0:
            return None
        root = math.sqrt(problem.condition_number)
        return ((root - 1.0) / (root + 1.0)) ** 2
