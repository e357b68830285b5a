"""Learners for the permutation task: an ensemble of wide two-layer ReLU networks trained by
gradient descent in the NTK parametrization, and a linear least-squares calibrator."""

from __future__ import annotations

import numpy as np
import torch

from theorybench.suites.sample_complexity import Ensemble, EnsembleProblem, Learner


def round_to_weight(inputs: np.ndarray, mean_outputs: np.ndarray) -> np.ndarray:
    """Set the j largest outputs to 1 for an input with j ones (a permutation keeps the weight)."""
    weights = inputs.sum(axis=1).astype(int)
    order = np.argsort(-mean_outputs, axis=1, kind="stable")
    bits = np.zeros_like(mean_outputs)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1])[None, :].repeat(order.shape[0], 0), axis=1)
    bits[ranks < weights[:, None]] = 1.0
    return bits


class NtkEnsemble(Learner):
    """n independently initialized two-layer ReLU networks, f(x) = V relu(W x + b) / sqrt(width).

    Every member trains by full-batch gradient descent on the k basis vectors (step 1.0 for
    `steps` steps, which brought the training loss below 1e-4 at k = 5 when measured). All
    members train at once as one batched model. The rounding keeps the j largest mean outputs for an input of
    Hamming weight j.
    """

    name = "ntk_ensemble"
    authors = ("TheoryBench",)
    reference = "Giapitzakis, Back de Luca and Fountoulakis, arXiv:2502.16763, 2025"
    tasks = ("permutation",)
    width = 128
    steps = 80
    learning_rate = 1.0

    def learn(self, problem: EnsembleProblem) -> Ensemble:
        inputs, outputs = problem.training_set()
        bits, members = inputs.shape[1], problem.budget
        generator = torch.Generator().manual_seed(problem.seed % (2**63))
        first = torch.randn(members, self.width, bits, generator=generator, dtype=torch.float64)
        bias = torch.zeros(members, self.width, dtype=torch.float64)
        second = torch.randn(members, outputs.shape[1], self.width, generator=generator, dtype=torch.float64)
        parameters = [first, bias, second]
        for parameter in parameters:
            parameter.requires_grad_(True)
        x = torch.as_tensor(inputs, dtype=torch.float64)
        y = torch.as_tensor(outputs, dtype=torch.float64)
        scale = self.width**-0.5

        def forward(batch: torch.Tensor) -> torch.Tensor:
            hidden = torch.relu(torch.einsum("ewk,nk->enw", first, batch) + bias[:, None, :])
            return torch.einsum("enw,eow->eno", hidden, second) * scale

        for _ in range(self.steps):
            # The loss sums over members, so each member gets the gradient of its own loss.
            loss = 0.5 * ((forward(x) - y) ** 2).sum()
            gradients = torch.autograd.grad(loss, parameters)
            with torch.no_grad():
                for parameter, gradient in zip(parameters, gradients):
                    parameter -= self.learning_rate * gradient
        for parameter in parameters:
            parameter.requires_grad_(False)

        cache: dict[bytes, np.ndarray] = {}

        def outputs_of(batch: np.ndarray) -> np.ndarray:
            key = batch.tobytes()
            if key not in cache:
                with torch.no_grad():
                    cache.clear()
                    cache[key] = forward(torch.as_tensor(batch, dtype=torch.float64)).numpy()
            return cache[key]

        def member(index: int):
            return lambda batch: outputs_of(batch)[index]

        return Ensemble([member(index) for index in range(members)], round_to_weight)


class LinearLeastSquares(Learner):
    """The minimum-norm linear map Y^T X^+ (one member), rounded at 1/2: exact from the basis vectors."""

    name = "linear_least_squares"
    authors = ("TheoryBench",)
    reference = "https://numpy.org/doc/stable/reference/generated/numpy.linalg.pinv.html"
    tasks = ("permutation",)

    def learn(self, problem: EnsembleProblem) -> Ensemble:
        inputs, outputs = problem.training_set()
        weights = np.linalg.pinv(inputs) @ outputs

        def member(batch: np.ndarray) -> np.ndarray:
            return batch @ weights

        return Ensemble([member], lambda inputs, mean: (mean > 0.5).astype(float))
