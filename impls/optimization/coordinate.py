"""Coordinate descent with cyclic, uniformly random and Gauss-Southwell coordinate choice.

Each step updates one coordinate j with step 1/L_j, followed by the prox of the L1 term on the
lasso. The cyclic and random variants read one partial derivative per step (cost 1/d) and yield
once per epoch of d steps; Gauss-Southwell needs the full gradient to choose j (cost 1) and
yields after every step.
"""

from __future__ import annotations

import numpy as np

from theorybench.suites.optimization import Optimizer, Problem

TASKS = ("least_squares", "logistic_l2", "lasso")


def _update(problem: Problem, x: np.ndarray, j: int, partial: float, steps: np.ndarray) -> None:
    """Apply the (proximal) coordinate step on coordinate j in place."""
    candidate = x[j] - steps[j] * partial
    if problem.has_prox:
        trial = x.copy()
        trial[j] = candidate
        candidate = problem.prox(trial, steps)[j]
    x[j] = candidate


class CyclicCoordinateDescent(Optimizer):
    name = "cd-cyclic"
    authors = ("TheoryBench developers",)
    reference = "Beck and Tetruashvili, On the convergence of block coordinate descent type methods (SIAM J. Optim. 2013)"
    tasks = TASKS

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0.copy()
        steps = 1.0 / problem.coordinate_smoothness
        while True:
            for j in range(problem.dimension):
                _update(problem, x, j, float(problem.partial_gradient(x, j)[0]), steps)
            yield x.copy()


class RandomCoordinateDescent(Optimizer):
    """Coordinates drawn uniformly with replacement from the problem's seeded generator."""

    name = "cd-random"
    authors = ("TheoryBench developers",)
    reference = "Nesterov, Efficiency of coordinate descent methods on huge-scale optimization problems (SIAM J. Optim. 2012)"
    tasks = TASKS

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0.copy()
        steps = 1.0 / problem.coordinate_smoothness
        while True:
            for j in problem.rng.integers(problem.dimension, size=problem.dimension):
                _update(problem, x, int(j), float(problem.partial_gradient(x, int(j))[0]), steps)
            yield x.copy()

    def theoretical_rate(self, problem: Problem) -> float | None:
        # E[f(x_{k+1}) - f*] <= (1 - mu / (d L_max)) E[f(x_k) - f*] per step; one iterate is d steps.
        if problem.strong_convexity <= 0:
            return None
        d = problem.dimension
        return (1.0 - problem.strong_convexity / (d * float(np.max(problem.coordinate_smoothness)))) ** d


class GaussSouthwellCoordinateDescent(Optimizer):
    """Greedy coordinate choice: j maximizing sqrt(L_j) |x_j - T_j(x)|, T_j the coordinate step.

    Without an L1 term this is the Gauss-Southwell-Lipschitz rule argmax |g_j| / sqrt(L_j).
    """

    name = "cd-gauss-southwell"
    authors = ("TheoryBench developers",)
    reference = "Nutini, Schmidt, Laradji, Friedlander, Koepke, Coordinate descent converges faster with the Gauss-Southwell rule than random selection (ICML 2015)"
    tasks = TASKS

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0.copy()
        steps = 1.0 / problem.coordinate_smoothness
        while True:
            gradient = problem.gradient(x)
            target = x - steps * gradient
            if problem.has_prox:
                target = problem.prox(target, steps)
            j = int(np.argmax(np.abs(x - target) / np.sqrt(steps)))
            x[j] = target[j]
            yield x.copy()
