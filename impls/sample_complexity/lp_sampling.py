"""Row-sampling learners for active l_p regression: uniform, leverage scores, Lewis weights and
sensitivity upper bounds.

Each learner computes sampling probabilities q from the public matrix A (mixed with 10% of the
uniform distribution), draws rows i.i.d. from q until the budget of distinct rows is reached,
reads their labels, and solves the l_p regression on the sample with importance weights
(count_i / (m q_i)) for m draws.
"""

from __future__ import annotations

import numpy as np

from theorybench.suites.sample_complexity import Learner, QueryOracle, solve_lp_regression

UNIFORM_MIX = 0.1


class _RowSampler(Learner):
    tasks = ("lp_regression",)
    authors = ("TheoryBench",)

    def scores(self, matrix: np.ndarray, p: float) -> np.ndarray:
        raise NotImplementedError

    def learn(self, problem: QueryOracle) -> np.ndarray:
        matrix, p = problem.info["matrix"], problem.info["p"]
        rows = matrix.shape[0]
        scores = np.asarray(self.scores(matrix, p), dtype=float)
        probabilities = (1 - UNIFORM_MIX) * scores / scores.sum() + UNIFORM_MIX / rows
        draws = _draws_until_distinct(problem.rng(), probabilities, min(problem.budget, rows))
        chosen, counts = np.unique(draws, return_counts=True)
        weights = counts / (draws.size * probabilities[chosen])
        labels = problem.query(chosen)
        return solve_lp_regression(matrix[chosen], labels, p, weights)


def _draws_until_distinct(rng: np.random.Generator, probabilities: np.ndarray, distinct: int) -> np.ndarray:
    """Return i.i.d. draws from `probabilities`, cut just before a new index would exceed `distinct`.

    When `distinct` is every row, the draws end as soon as the last row appears.
    """
    if not 1 <= distinct <= probabilities.size:
        raise ValueError(f"distinct must lie in [1, {probabilities.size}], got {distinct}")
    draws: list[np.ndarray] = []
    seen: set[int] = set()
    while True:
        batch = rng.choice(probabilities.size, size=max(64, 2 * distinct), p=probabilities)
        for position, index in enumerate(batch.tolist()):
            if index not in seen and len(seen) == distinct:
                draws.append(batch[:position])
                return np.concatenate(draws)
            seen.add(index)
            if len(seen) == probabilities.size:
                draws.append(batch[: position + 1])
                return np.concatenate(draws)
        draws.append(batch)


def leverage_scores(matrix: np.ndarray) -> np.ndarray:
    """Return the statistical leverage scores: squared row norms of an orthonormal basis of A."""
    basis, _ = np.linalg.qr(matrix)
    return np.sum(basis**2, axis=1)


def lewis_weights(matrix: np.ndarray, p: float, iterations: int = 30) -> np.ndarray:
    """Return the l_p Lewis weights by the fixed-point iteration w_i <- (a_i^T (A^T W^(1-2/p) A)^-1 a_i)^(p/2).

    The iteration contracts for p < 4 (Cohen and Peng, "l_p row sampling by Lewis weights", 2015).
    """
    weights = np.ones(matrix.shape[0])
    for _ in range(iterations):
        gram = (matrix.T * weights ** (1.0 - 2.0 / p)) @ matrix
        quadratic = np.einsum("ij,ij->i", matrix @ np.linalg.inv(gram), matrix)
        weights = np.maximum(quadratic, 1e-300) ** (p / 2.0)
    return weights


class UniformSampling(_RowSampler):
    """Uniform rows (the scores are constant)."""

    name = "uniform_rows"
    reference = "uniform row sampling, the baseline in Drineas, Mahoney and Muthukrishnan, 2006"

    def scores(self, matrix, p):
        return np.ones(matrix.shape[0])


class LeverageSampling(_RowSampler):
    """Rows by leverage score, the l_2 importance whatever p is."""

    name = "leverage_rows"
    reference = "Drineas, Mahoney and Muthukrishnan, 2006"

    def scores(self, matrix, p):
        return leverage_scores(matrix)


class LewisSampling(_RowSampler):
    """Rows by l_p Lewis weight."""

    name = "lewis_rows"
    reference = "Cohen and Peng, 2015; Musco, Musco, Woodruff and Yasuda, active l_p regression, 2022"

    def scores(self, matrix, p):
        return lewis_weights(matrix, p)


class SensitivitySampling(_RowSampler):
    """Rows by the sensitivity upper bound ||U_i||_p^p of a well-conditioned basis U = A R^-1.

    R comes from the QR factorization of W^(1/2 - 1/p) A with W the Lewis weights, which makes
    U well conditioned in l_p (Dasgupta, Drineas, Harb, Kumar and Mahoney, 2009, for sampling
    by the row norms of such a basis).
    """

    name = "sensitivity_rows"
    reference = "Dasgupta, Drineas, Harb, Kumar and Mahoney, 2009"

    def scores(self, matrix, p):
        weights = lewis_weights(matrix, p)
        _, upper = np.linalg.qr(matrix * (weights ** (0.5 - 1.0 / p))[:, None])
        basis = np.linalg.solve(upper.T, matrix.T).T
        return np.sum(np.abs(basis) ** p, axis=1)
