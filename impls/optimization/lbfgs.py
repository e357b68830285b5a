"""Limited-memory BFGS with a backtracking Armijo line search."""

from __future__ import annotations

import collections

import numpy as np

from theorybench.suites.optimization import Optimizer, Problem


class LBFGS(Optimizer):
    """L-BFGS with memory 10: two-loop recursion, initial Hessian scaling s^T y / y^T y.

    Pairs with s^T y <= 1e-12 ||s|| ||y|| are skipped, so the implicit Hessian stays positive
    definite; the line search halves the step until the Armijo condition holds.
    """

    name = "lbfgs"
    authors = ("Jorge Nocedal",)
    reference = "Nocedal and Wright, Numerical Optimization (2006), chapter 7"
    tasks = ("least_squares", "logistic_l2", "separable_logistic")
    memory = 10

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0
        value, gradient = problem.value_and_gradient(x)
        pairs: collections.deque = collections.deque(maxlen=self.memory)
        while True:
            direction = -self._two_loop(gradient, pairs)
            slope = float(gradient @ direction)
            if slope >= 0:
                direction, slope = -gradient, -float(gradient @ gradient)
                pairs.clear()
            if slope == 0:
                return
            step = 1.0 if pairs else 1.0 / (problem.smoothness * max(1.0, float(np.linalg.norm(direction)) / max(float(np.linalg.norm(gradient)), 1e-300)))
            while True:
                candidate = x + step * direction
                new_value, new_gradient = problem.value_and_gradient(candidate)
                if new_value <= value + 1e-4 * step * slope or step < 1e-12:
                    break
                step *= 0.5
            s, y = candidate - x, new_gradient - gradient
            if float(s @ y) > 1e-12 * float(np.linalg.norm(s)) * float(np.linalg.norm(y)):
                pairs.append((s, y, 1.0 / float(s @ y)))
            x, value, gradient = candidate, new_value, new_gradient
            yield x

    @staticmethod
    def _two_loop(gradient: np.ndarray, pairs) -> np.ndarray:
        q = gradient.copy()
        alphas = []
        for s, y, rho in reversed(pairs):
            alpha = rho * float(s @ q)
            q -= alpha * y
            alphas.append(alpha)
        if pairs:
            s, y, _ = pairs[-1]
            q *= float(s @ y) / float(y @ y)
        for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
            beta = rho * float(y @ q)
            q += (alpha - beta) * s
        return q
