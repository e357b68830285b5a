"""Learners for hierarchical polynomials h = g(p(x)): a three-layer network trained layer-wise,
kernel ridge regression with the matching polynomial kernel, and a two-layer ReLU network."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from sklearn.kernel_ridge import KernelRidge

from theorybench.suites.sample_complexity import Learner, SampleSet


def hermite_quadratic_features(inputs: np.ndarray) -> np.ndarray:
    """Return the degree-2 Hermite features x_i x_j (i < j) and (x_i^2 - 1) / sqrt(2), shape (m, d(d+1)/2)."""
    rows, cols = np.triu_indices(inputs.shape[1], 1)
    return np.hstack([inputs[:, rows] * inputs[:, cols], (inputs**2 - 1.0) / math.sqrt(2.0)])


class ThreeLayerLayerwise(Learner):
    """A three-layer network u = <w, phi(x)>, f(x) = sum_j c_j (u / s)^j / j!, trained layer by layer.

    Layer 1 is the degree-2 Hermite feature map phi (the span of a wide quadratic-activation
    layer). Layer 2 is one unit u, whose weights w are first trained alone by least squares on
    the targets. For odd g and this task's symmetric p, that fit is proportional to p's
    coefficients, so u starts near the hidden feature p. Layer 3 applies the activations
    u^j / j!, j = 0..q (q from the task's info), with output weights c fitted by least squares.
    Then `refinements` rounds alternate: a Gauss-Newton step on w with c fixed, a least-squares
    refit of c with w fixed. Only the d(d+1)/2 + q + 1 weights are learned, so n grows like d^2.
    """

    name = "three_layer_layerwise"
    authors = ("TheoryBench",)
    reference = "Nichani, Damian and Lee, Provable guarantees for nonlinear feature learning in three-layer neural networks, 2023"
    tasks = ("hierarchical_polynomial",)
    refinements = 8

    def learn(self, problem: SampleSet) -> Callable[[np.ndarray], np.ndarray]:
        inputs, targets = problem.samples()
        degree = int(problem.info["q"])
        features = hermite_quadratic_features(inputs)
        weights, *_ = np.linalg.lstsq(features, targets - targets.mean(), rcond=None)
        weights = weights / (float((features @ weights).std()) or 1.0)

        def head(unit: np.ndarray) -> np.ndarray:
            return np.stack([unit**j / math.factorial(j) for j in range(degree + 1)], axis=1)

        def head_derivative(unit: np.ndarray) -> np.ndarray:
            return np.stack([np.zeros_like(unit)] + [unit ** (j - 1) / math.factorial(j - 1) for j in range(1, degree + 1)], axis=1)

        output_weights, *_ = np.linalg.lstsq(head(features @ weights), targets, rcond=None)
        for _ in range(self.refinements):
            unit = features @ weights
            residual = targets - head(unit) @ output_weights
            jacobian = (head_derivative(unit) @ output_weights)[:, None] * features
            step, *_ = np.linalg.lstsq(jacobian, residual, rcond=None)
            weights = weights + step
            output_weights, *_ = np.linalg.lstsq(head(features @ weights), targets, rcond=None)
        return lambda batch: head(hermite_quadratic_features(batch) @ weights) @ output_weights


class PolynomialKernelRidge(Learner):
    """Kernel ridge regression with the kernel (1 + <x, y> / d)^(kq), whose RKHS contains h."""

    name = "kernel_ridge"
    authors = ("TheoryBench",)
    reference = "https://scikit-learn.org/stable/modules/generated/sklearn.kernel_ridge.KernelRidge.html"
    tasks = ("hierarchical_polynomial",)

    def learn(self, problem: SampleSet) -> Callable[[np.ndarray], np.ndarray]:
        inputs, targets = problem.samples()
        dim, degree = inputs.shape[1], int(problem.info["k"] * problem.info["q"])
        model = KernelRidge(alpha=1e-4 * len(targets), kernel="poly", degree=degree, gamma=1.0 / dim, coef0=1.0)
        model.fit(inputs, targets)
        return model.predict


class TwoLayerNetwork(Learner):
    """A two-layer ReLU network (width 128) trained end to end by full-batch Adam for 150 steps."""

    name = "two_layer_network"
    authors = ("TheoryBench",)
    reference = "two-layer ReLU network trained by Adam (Kingma and Ba, 2015)"
    tasks = ("hierarchical_polynomial",)
    width = 128
    steps = 150
    learning_rate = 1e-2

    def learn(self, problem: SampleSet) -> Callable[[np.ndarray], np.ndarray]:
        inputs, targets = problem.samples()
        torch.manual_seed(problem.seed % (2**63))
        model = torch.nn.Sequential(
            torch.nn.Linear(inputs.shape[1], self.width), torch.nn.ReLU(), torch.nn.Linear(self.width, 1)
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        x = torch.as_tensor(inputs, dtype=torch.float32)
        y = torch.as_tensor(targets, dtype=torch.float32)[:, None]
        for _ in range(self.steps):
            optimizer.zero_grad()
            loss = torch.mean((model(x) - y) ** 2)
            loss.backward()
            optimizer.step()
        model.eval()

        def predict(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.as_tensor(batch, dtype=torch.float32))[:, 0].double().numpy()

        return predict
