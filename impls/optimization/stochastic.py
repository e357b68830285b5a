"""Mini-batch SGD and Adam from torch.optim on the finite-sum tasks.

Both sample mini-batches of n / 5 samples with replacement from the problem's seeded
generator and yield once per pass (5 steps, one oracle call). Neither converges linearly
with a constant step; they stand for the stochastic methods used to train networks.
"""

from __future__ import annotations

import numpy as np
import torch

from theorybench.suites.optimization import Optimizer, Problem

STEPS_PER_PASS = 5


class _TorchOptimizer(Optimizer):
    tasks = ("least_squares", "logistic_l2", "separable_logistic")

    def make_optimizer(self, parameter: torch.Tensor, problem: Problem) -> torch.optim.Optimizer:
        raise NotImplementedError

    def run(self, problem: Problem, x0: np.ndarray):
        parameter = torch.tensor(x0, dtype=torch.float64)
        optimizer = self.make_optimizer(parameter, problem)
        batch_size = max(1, problem.n_samples // STEPS_PER_PASS)
        while True:
            for _ in range(STEPS_PER_PASS):
                indices = problem.rng.integers(problem.n_samples, size=batch_size)
                gradient = problem.stochastic_gradient(parameter.numpy(), indices)
                parameter.grad = torch.from_numpy(gradient)
                optimizer.step()
            yield parameter.numpy().copy()


class SGD(_TorchOptimizer):
    """torch.optim.SGD with learning rate 1 / (2L), no momentum."""

    name = "sgd"
    authors = ("TheoryBench developers",)
    reference = "Robbins and Monro (1951); torch.optim.SGD"

    def make_optimizer(self, parameter: torch.Tensor, problem: Problem) -> torch.optim.Optimizer:
        return torch.optim.SGD([parameter], lr=0.5 / problem.smoothness)


class Adam(_TorchOptimizer):
    """torch.optim.Adam with learning rate 1e-2 and the default betas."""

    name = "adam"
    authors = ("TheoryBench developers",)
    reference = "Kingma and Ba, Adam: a method for stochastic optimization (ICLR 2015); torch.optim.Adam"

    def make_optimizer(self, parameter: torch.Tensor, problem: Problem) -> torch.optim.Optimizer:
        return torch.optim.Adam([parameter], lr=1e-2)
