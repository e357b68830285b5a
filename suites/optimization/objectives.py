"""Objectives of linear models: f(x) = mean_i loss(a_i . x, b_i) + l2/2 ||x||^2 + l1 ||x||_1.

These classes do the arithmetic only; they count nothing. The harness wraps them in a counted
`Problem`. Every loss here depends on x only through z = A x, so the objective keeps the last
z it computed and updates it in O(n k) when an iterate differs from the previous one in k
coordinates. That makes a coordinate gradient cost O(n), as the coordinate-descent literature
assumes, while the public counts stay in units of full gradients.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

LOSSES = ("squared", "logistic")

#: Full recomputations of A x after this many incremental updates, to bound rounding drift.
_REFRESH_EVERY = 256


class LinearModelObjective:
    """Data term (1/n) sum_i loss(a_i . x, b_i) plus optional ridge and L1 penalties.

    loss "squared" is 0.5 (z - b)^2; loss "logistic" is log(1 + exp(-b z)) with b in {-1, +1}.
    A: (n, d); b: (n,).
    """

    def __init__(self, A: np.ndarray, b: np.ndarray, loss: str, l2: float = 0.0, l1: float = 0.0):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        A = np.ascontiguousarray(A, dtype=np.float64)
        b = np.ascontiguousarray(b, dtype=np.float64)
        if A.ndim != 2 or b.shape != (A.shape[0],):
            raise ValueError(f"A must be (n, d) and b (n,), got {A.shape} and {b.shape}")
        self.A = A
        self.A_columns = np.asfortranarray(A)
        self.b = b
        self.loss = loss
        self.l2 = float(l2)
        self.l1 = float(l1)
        self.n, self.d = A.shape
        self._cached_x: np.ndarray | None = None
        self._cached_z: np.ndarray | None = None
        self._updates_since_refresh = 0
        self._column_sq_norms = np.einsum("ij,ij->j", A, A)
        self._spectral_sq_norm = float(np.linalg.norm(A, 2) ** 2)

    # -- constants -------------------------------------------------------------------------

    @property
    def curvature_scale(self) -> float:
        """Upper bound on the second derivative of the loss in z: 1 (squared) or 1/4 (logistic)."""
        return 1.0 if self.loss == "squared" else 0.25

    @property
    def smoothness(self) -> float:
        """Lipschitz constant L of the gradient of the smooth part."""
        return self.curvature_scale * self._spectral_sq_norm / self.n + self.l2

    @property
    def coordinate_smoothness(self) -> np.ndarray:
        """(d,) Lipschitz constants L_j of the partial derivatives of the smooth part."""
        return self.curvature_scale * self._column_sq_norms / self.n + self.l2

    # -- linear predictor ------------------------------------------------------------------

    def linear(self, x: np.ndarray) -> np.ndarray:
        """Return z = A x, reusing the previous z when x differs from the last x in few coordinates."""
        if self._cached_x is not None and self._updates_since_refresh < _REFRESH_EVERY:
            changed = np.flatnonzero(x != self._cached_x)
            if changed.size == 0:
                return self._cached_z
            if changed.size == 1:
                # A column view avoids the copy that fancy indexing makes.
                j = changed[0]
                z = self._cached_z + self.A_columns[:, j] * (x[j] - self._cached_x[j])
                self._remember(x, z, incremental=True)
                return z
            if changed.size <= self.d // 4:
                delta = x[changed] - self._cached_x[changed]
                z = self._cached_z + self.A_columns[:, changed] @ delta
                self._remember(x, z, incremental=True)
                return z
        z = self.A @ x
        self._remember(x, z, incremental=False)
        return z

    def _remember(self, x: np.ndarray, z: np.ndarray, incremental: bool) -> None:
        self._cached_x = x.copy()
        self._cached_z = z
        self._updates_since_refresh = self._updates_since_refresh + 1 if incremental else 0

    # -- loss and its derivatives in z -----------------------------------------------------

    def _loss_values(self, z: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.loss == "squared":
            return 0.5 * (z - b) ** 2
        return np.logaddexp(0.0, -b * z)

    def _loss_derivative(self, z: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.loss == "squared":
            return z - b
        return -b * expit(-b * z)

    def _loss_curvature(self, z: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.loss == "squared":
            return np.ones_like(z)
        p = expit(b * z)
        return p * (1.0 - p)

    # -- oracles ---------------------------------------------------------------------------

    def smooth_value(self, x: np.ndarray, z: np.ndarray | None = None) -> float:
        z = self.A @ x if z is None else z
        return float(np.mean(self._loss_values(z, self.b)) + 0.5 * self.l2 * (x @ x))

    def value(self, x: np.ndarray, z: np.ndarray | None = None) -> float:
        """Return the full objective, L1 term included; computes A x afresh unless z is given."""
        return self.smooth_value(x, z) + self.l1 * float(np.abs(x).sum())

    def gradient(self, x: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """Return the gradient of the smooth part (the L1 term is left to the prox)."""
        z = self.A @ x if z is None else z
        return self.A.T @ self._loss_derivative(z, self.b) / self.n + self.l2 * x

    def partial_gradient(self, x: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
        """Return the partial derivatives of the smooth part along `coordinates`, in O(n k) when cached."""
        z = self.linear(x)
        derivative = self._loss_derivative(z, self.b)
        if coordinates.size == 1:
            j = coordinates[0]
            return np.array([self.A_columns[:, j] @ derivative / self.n + self.l2 * x[j]])
        return self.A_columns[:, coordinates].T @ derivative / self.n + self.l2 * x[coordinates]

    def stochastic_gradient(self, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Return the gradient of the mean loss over the samples `indices`, plus the ridge term."""
        rows = self.A[indices]
        derivative = self._loss_derivative(rows @ x, self.b[indices])
        return rows.T @ derivative / len(indices) + self.l2 * x

    def hessian_vector(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Return the Hessian of the smooth part at x applied to v."""
        weights = self._loss_curvature(self.A @ x, self.b)
        return self.A.T @ (weights * (self.A @ v)) / self.n + self.l2 * v

    def hessian(self, x: np.ndarray) -> np.ndarray:
        weights = self._loss_curvature(self.A @ x, self.b)
        return (self.A.T * weights) @ self.A / self.n + self.l2 * np.eye(self.d)

    def prox(self, x: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """Return argmin_u l1 ||u||_1 + ||u - x||^2 / (2 step): soft thresholding at l1 * step."""
        threshold = self.l1 * np.asarray(step, dtype=np.float64)
        return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)

    def perceptron_direction(self, x: np.ndarray) -> np.ndarray:
        """Return the gradient of the perceptron loss mean_i max(0, -b_i a_i . x).

        Points on the boundary (b_i a_i . x = 0) count as misclassified, so at x = 0 the
        direction is -(1/n) sum_i b_i a_i rather than zero.
        """
        z = self.A @ x
        wrong = (self.b * z) <= 0
        return -(self.A[wrong].T @ self.b[wrong]) / self.n
