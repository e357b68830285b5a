"""Weighted l_p regression, min_x sum_i w_i |a_i x - b_i|^p, for the harness and for learners."""

from __future__ import annotations

import numpy as np
from scipy import optimize


def solve_lp_regression(matrix: np.ndarray, targets: np.ndarray, p: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Return a minimizer of sum_i weights_i |matrix_i x - targets_i|^p, p >= 1.

    matrix: (m, d); targets, weights: (m,), weights >= 0. p = 1 is a linear program (HiGHS);
    p > 1 is smooth and convex, solved by a trust-region Newton method from the least-squares
    solution. Raises RuntimeError when the solver fails.
    """
    matrix = np.asarray(matrix, dtype=float)
    targets = np.asarray(targets, dtype=float)
    rows, dim = matrix.shape
    weights = np.ones(rows) if weights is None else np.asarray(weights, dtype=float)
    if p < 1:
        raise ValueError(f"l_p regression needs p >= 1, got {p}")
    if p == 1:
        # Variables (x, t): minimize sum w t subject to -t <= A x - b <= t.
        cost = np.concatenate([np.zeros(dim), weights])
        identity = np.eye(rows)
        constraints = np.block([[matrix, -identity], [-matrix, -identity]])
        bounds = [(None, None)] * dim + [(0, None)] * rows
        result = optimize.linprog(cost, A_ub=constraints, b_ub=np.concatenate([targets, -targets]), bounds=bounds, method="highs")
        if result.status != 0:
            raise RuntimeError(f"the l_1 regression linear program failed: {result.message}")
        return result.x[:dim]

    scale = np.sqrt(weights)
    start, *_ = np.linalg.lstsq(matrix * scale[:, None], targets * scale, rcond=None)
    norm = max(float(np.sum(weights * np.abs(matrix @ start - targets) ** p)), 1e-300)

    def objective(x):
        residual = matrix @ x - targets
        return float(np.sum(weights * np.abs(residual) ** p)) / norm

    def gradient(x):
        residual = matrix @ x - targets
        return matrix.T @ (weights * p * np.abs(residual) ** (p - 1) * np.sign(residual)) / norm

    def hessian(x):
        residual = matrix @ x - targets
        curvature = weights * p * (p - 1) * np.abs(residual) ** (p - 2) if p != 2 else weights * 2.0
        return (matrix.T * curvature) @ matrix / norm

    result = optimize.minimize(objective, start, jac=gradient, hess=hessian, method="trust-exact", options={"gtol": 1e-10})
    if not np.all(np.isfinite(result.x)):
        raise RuntimeError(f"the l_{p:g} regression solver failed: {result.message}")
    return result.x


def lp_cost(matrix: np.ndarray, targets: np.ndarray, x: np.ndarray, p: float) -> float:
    """Return ||matrix x - targets||_p."""
    return float(np.sum(np.abs(matrix @ x - targets) ** p) ** (1.0 / p))
