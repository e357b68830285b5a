"""Seeded synthetic data with controlled conditioning, margin and sparsity.

Every generator takes a `numpy.random.Generator`, so the caller decides the seed; none of them
reads global random state.
"""

from __future__ import annotations

import numpy as np


def conditioned_least_squares(
    rng: np.random.Generator, n: int, d: int, kappa: float, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Return (A, b) with A of shape (n, d) whose Hessian A^T A / n has condition number `kappa`.

    The eigenvalues of A^T A / n are spaced geometrically from 1 down to 1 / kappa, and the
    eigenvectors form a random orthogonal basis. b = A x_true + noise * N(0, I) with
    x_true ~ N(0, I / d), so the least-squares residual is not zero.
    """
    if n < d:
        raise ValueError(f"need n >= d for a full-rank design, got n={n}, d={d}")
    if kappa < 1:
        raise ValueError(f"kappa must be at least 1, got {kappa}")
    left, _ = np.linalg.qr(rng.standard_normal((n, d)))
    right, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eigenvalues = kappa ** (-np.arange(d) / max(d - 1, 1))
    A = np.sqrt(n) * (left * np.sqrt(eigenvalues)) @ right.T
    x_true = rng.standard_normal(d) / np.sqrt(d)
    b = A @ x_true + noise * rng.standard_normal(n)
    return A, b


def separable_classification(
    rng: np.random.Generator, n: int, d: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y) with y in {-1, +1} separated through the origin with margin at least `margin`.

    Points are standard normal in R^d; a random unit vector u labels them by sign(u . x), and
    points with |u . x| < margin are moved out along u to distance `margin`, so u itself
    certifies a margin of `margin` (the maximum margin may be larger).
    """
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    X = rng.standard_normal((n, d))
    projection = X @ direction
    labels = np.where(projection >= 0, 1.0, -1.0)
    shift = np.maximum(margin - np.abs(projection), 0.0) * labels
    X = X + shift[:, None] * direction[None, :]
    return X, labels


def sparse_regression(
    rng: np.random.Generator, n: int, d: int, n_nonzero: int, noise: float = 0.1, correlation: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Return (A, b) for a sparse linear model b = A x_true + noise.

    Rows of A are Gaussian with Toeplitz covariance correlation^|i - j|; x_true has
    `n_nonzero` entries of random sign and magnitude in [1, 2] at random positions.
    """
    if not 0 <= correlation < 1:
        raise ValueError(f"correlation must be in [0, 1), got {correlation}")
    if not 0 < n_nonzero <= d:
        raise ValueError(f"n_nonzero must be in [1, d={d}], got {n_nonzero}")
    white = rng.standard_normal((n, d))
    # An AR(1) recursion gives the Toeplitz covariance without forming a d x d factor.
    A = np.empty_like(white)
    A[:, 0] = white[:, 0]
    scale = np.sqrt(1.0 - correlation**2)
    for column in range(1, d):
        A[:, column] = correlation * A[:, column - 1] + scale * white[:, column]
    x_true = np.zeros(d)
    support = rng.choice(d, size=n_nonzero, replace=False)
    x_true[support] = rng.choice([-1.0, 1.0], size=n_nonzero) * rng.uniform(1.0, 2.0, size=n_nonzero)
    b = A @ x_true + noise * rng.standard_normal(n)
    return A, b
