"""Gradient descent with step 1/L and large steps, normalized gradient descent, batch perceptron."""

from __future__ import annotations

import math

import numpy as np

from theorybench.suites.optimization import Optimizer, Problem


class GradientDescent(Optimizer):
    """x_{k+1} = x_k - grad f(x_k) / L."""

    name = "gd"
    authors = ("Augustin Cauchy",)
    reference = "Nesterov, Lectures on Convex Optimization (2018), chapter 2"
    tasks = ("least_squares", "logistic_l2", "separable_logistic")
    #: Step size as a multiple of 1 / L.
    step_multiple = 1.0

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0
        step = self.step_multiple / problem.smoothness
        while True:
            x = x - step * problem.gradient(x)
            yield x

    def theoretical_rate(self, problem: Problem) -> float | None:
        # f(x_k) - f* <= (1 - mu / L)^k (f(x_0) - f*) for step 1/L under strong convexity.
        if self.step_multiple != 1.0 or problem.strong_convexity <= 0:
            return None
        return 1.0 - problem.strong_convexity / problem.smoothness


class LargeStepGradientDescent4(GradientDescent):
    """Gradient descent with step 4/L on separable logistic regression (past the 2/L stability limit)."""

    name = "gd-large-step-4"
    authors = ("TheoryBench developers",)
    reference = "Wu, Bartlett, Telgarsky, Yu, Large stepsize gradient descent for logistic loss (COLT 2024)"
    tasks = ("separable_logistic",)
    step_multiple = 4.0


class LargeStepGradientDescent64(GradientDescent):
    """Gradient descent with step 64/L on separable logistic regression."""

    name = "gd-large-step-64"
    authors = ("TheoryBench developers",)
    reference = "Wu, Bartlett, Telgarsky, Yu, Large stepsize gradient descent for logistic loss (COLT 2024)"
    tasks = ("separable_logistic",)
    step_multiple = 64.0


class NormalizedGradientDescent(Optimizer):
    """x_{k+1} = x_k - eta grad f(x_k) / ||grad f(x_k)|| with eta = 1 / sqrt(L).

    With the gradient normalized, ||x_k|| grows linearly in k on separable data, which speeds
    up the convergence of the direction x_k / ||x_k|| to the maximum-margin direction.
    """

    name = "normalized-gd"
    authors = ("TheoryBench developers",)
    reference = "Nacson, Lee, Gunasekar, Savarese, Srebro, Soudry, Convergence of gradient descent on separable data (AISTATS 2019)"
    tasks = ("separable_logistic",)

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0
        step = 1.0 / math.sqrt(problem.smoothness)
        while True:
            gradient = problem.gradient(x)
            norm = float(np.linalg.norm(gradient))
            if norm == 0.0:
                return
            x = x - (step / norm) * gradient
            yield x


class BatchPerceptron(Optimizer):
    """x_{k+1} = x_k + (1/n) sum over misclassified i of y_i a_i (gradient of the perceptron loss).

    Novikoff's argument bounds the number of updates before separation by (R / gamma*)^2 for
    the single-sample perceptron; the batch version averages those updates.
    """

    name = "batch-perceptron"
    authors = ("TheoryBench developers",)
    reference = "Rosenblatt (1958); Novikoff, On convergence proofs for perceptrons (1962)"
    tasks = ("separable_logistic",)

    def run(self, problem: Problem, x0: np.ndarray):
        x = x0
        while True:
            x = x - problem.perceptron_direction(x)
            yield x
