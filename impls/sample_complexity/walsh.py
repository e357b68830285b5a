"""Baselines for sparse Walsh-Hadamard recovery: the dense transform, OMP and LASSO on random
queries, and a peeling decoder over aliased subsampled transforms.

The peeling decoder follows the method description of SPRIGHT (Li, Bradley and Ramchandran,
"SPRIGHT: A fast and robust framework for sparse Walsh-Hadamard transform", 2015). It subsamples
the signal on cosets of random subspaces, so that each bin of a small transform aliases a few
frequencies. It reads each singleton bin's frequency off the signs across shifted copies, then
peels the frequencies it found out of the other groups' bins.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import Lasso, OrthogonalMatchingPursuit

from theorybench.suites.sample_complexity import Learner, QueryOracle, fast_walsh_hadamard, walsh_rows


class DenseTransform(Learner):
    """Query all N values and keep the K largest coefficients of X = H x / N; nothing below N queries."""

    name = "dense_wht"
    authors = ("TheoryBench",)
    reference = "Fino and Algazi, Unified matrix treatment of the fast Walsh-Hadamard transform, 1976"
    tasks = ("sparse_walsh",)

    def learn(self, problem: QueryOracle):
        size, sparsity = problem.info["N"], problem.info["K"]
        if problem.budget < size:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        spectrum = fast_walsh_hadamard(problem.query(np.arange(size))) / size
        top = np.sort(np.argsort(-np.abs(spectrum))[:sparsity])
        return top, spectrum[top]


def _random_queries(problem: QueryOracle) -> tuple[np.ndarray, np.ndarray]:
    times = np.sort(problem.rng().choice(problem.info["N"], size=min(problem.budget, problem.info["N"]), replace=False))
    return times, problem.query(times)


def _debiased(times: np.ndarray, values: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Least-squares values on a fixed support."""
    if support.size == 0:
        return np.zeros(0)
    solution, *_ = np.linalg.lstsq(walsh_rows(times, support), values, rcond=None)
    return solution


class SubsampledOmp(Learner):
    """Query n random indices, then OMP with K atoms on the rows of H at those indices."""

    name = "omp_subsampled"
    authors = ("TheoryBench",)
    reference = "Tropp and Gilbert, Signal recovery from random measurements via orthogonal matching pursuit, 2007"
    tasks = ("sparse_walsh",)

    def learn(self, problem: QueryOracle):
        times, values = _random_queries(problem)
        sparsity = min(problem.info["K"], times.size)
        design = walsh_rows(times, np.arange(problem.info["N"]))
        model = OrthogonalMatchingPursuit(n_nonzero_coefs=sparsity, fit_intercept=False)
        model.fit(design, values)
        support = np.flatnonzero(model.coef_)
        return support, model.coef_[support]


class SubsampledLasso(Learner):
    """Query n random indices, LASSO at the penalty sigma sqrt(2 log N / n), keep K, refit by least squares."""

    name = "lasso_subsampled"
    authors = ("TheoryBench",)
    reference = "Candes, Romberg and Tao, Robust uncertainty principles, 2006; https://scikit-learn.org/stable/modules/generated/sklearn.linear_model.Lasso.html"
    tasks = ("sparse_walsh",)

    def learn(self, problem: QueryOracle):
        times, values = _random_queries(problem)
        size, sparsity = problem.info["N"], problem.info["K"]
        design = walsh_rows(times, np.arange(size))
        alpha = problem.info["noise_sd"] * math.sqrt(2.0 * math.log(size) / times.size)
        model = Lasso(alpha=alpha, fit_intercept=False, max_iter=2000, tol=1e-4)
        model.fit(design, values)
        candidates = np.flatnonzero(model.coef_)
        support = np.sort(candidates[np.argsort(-np.abs(model.coef_[candidates]))[:sparsity]])
        return support, _debiased(times, values, support)


class PeelingDecoder(Learner):
    """SPRIGHT-style peeling over C = 3 aliased subsampled transforms with P sets of shifts.

    Group c picks a random full-rank F_2 matrix M_c (n_bits x b) and reads x(M_c t + d) for all
    t in F_2^b and each shift d; the b-point transform of that slice puts, in bin j, the sum of
    X[k] (-1)^<d, k> over the k with M_c^T k = j. The shifts are r_p and r_p + e_i for random
    r_p and every bit i, so a bin holding one frequency k gives bit i of k as the sign of
    U(r_p + e_i) / U(r_p), with P votes. The decoder takes the (b, P) with the most distinct
    queries that fit in the budget.
    """

    name = "peeling"
    authors = ("TheoryBench",)
    reference = "Li, Bradley and Ramchandran, SPRIGHT, 2015 (implemented from the method description)"
    tasks = ("sparse_walsh",)
    groups = 3

    def learn(self, problem: QueryOracle):
        info = problem.info
        n_bits, sparsity = info["n_bits"], info["K"]
        rng = problem.rng()
        design = self._choose_design(rng, n_bits, sparsity, problem.budget)
        if design is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        matrices, shifts, indices = design
        values = dict(zip(indices.tolist(), problem.query(indices).tolist()))
        bins = []
        for matrix, group_shifts in zip(matrices, shifts):
            points = _subspace_points(matrix)
            slices = np.array([[values[int(point)] for point in np.bitwise_xor(points, shift)] for shift in group_shifts])
            bins.append(fast_walsh_hadamard(slices) / points.size)  # (shifts, B)
        bin_noise = info["noise_sd"] / math.sqrt(bins[0].shape[1])
        return self._peel(matrices, shifts, bins, n_bits, info["magnitude"], bin_noise)

    def _choose_design(self, rng, n_bits: int, sparsity: int, budget: int):
        base = max(1, math.ceil(math.log2(max(sparsity, 1))))
        best = None
        for bits in range(base, min(base + 3, n_bits) + 1):
            for repeats in range(1, 5):
                matrices = [_full_rank_matrix(rng, n_bits, bits) for _ in range(self.groups)]
                shifts = []
                for _ in matrices:
                    starts = rng.integers(0, 2**n_bits, size=repeats)
                    shifts.append([int(start ^ flip) for start in starts for flip in [0] + [1 << i for i in range(n_bits)]])
                indices = np.unique(np.concatenate([
                    np.bitwise_xor(_subspace_points(matrix)[None, :], np.array(group)[:, None]).ravel()
                    for matrix, group in zip(matrices, shifts)
                ]))
                if indices.size <= budget and (best is None or indices.size > best[2].size):
                    best = (matrices, shifts, indices)
        return best

    def _peel(self, matrices, shifts, bins, n_bits, magnitude, bin_noise):
        found: dict[int, float] = {}
        shift_arrays = [np.array(group, dtype=np.int64) for group in shifts]
        changed = True
        while changed:
            changed = False
            for group, (matrix, observations) in enumerate(zip(matrices, bins)):
                for column in range(observations.shape[1]):
                    singleton = _singleton(observations[:, column], shift_arrays[group], n_bits, magnitude, bin_noise)
                    if singleton is None:
                        continue
                    frequency, value = singleton
                    if _bin_of(matrix, frequency) != column or frequency in found:
                        continue
                    found[frequency] = value
                    changed = True
                    for other, (other_matrix, other_observations) in enumerate(zip(matrices, bins)):
                        signs = 1.0 - 2.0 * (np.bitwise_count(np.bitwise_and(shift_arrays[other], frequency)) & 1)
                        other_observations[:, _bin_of(other_matrix, frequency)] -= value * signs
        frequencies = np.array(sorted(found), dtype=np.int64)
        return frequencies, np.array([found[int(k)] for k in frequencies])


def _full_rank_matrix(rng, n_bits: int, bits: int) -> list[int]:
    """Return `bits` columns (integers < 2^n_bits) that are linearly independent over F_2."""
    while True:
        columns = [int(value) for value in rng.integers(1, 2**n_bits, size=bits)]
        if _rank_f2(columns) == bits:
            return columns


def _rank_f2(columns: list[int]) -> int:
    basis: list[int] = []
    for value in columns:
        for vector in basis:
            value = min(value, value ^ vector)
        if value:
            basis.append(value)
    return len(basis)


def _subspace_points(columns: list[int]) -> np.ndarray:
    """Return M t for t = 0 .. 2^b - 1 (bit i of t selects column i), as integers."""
    points = np.zeros(2 ** len(columns), dtype=np.int64)
    t = np.arange(points.size)
    for bit, column in enumerate(columns):
        points[(t >> bit) & 1 == 1] ^= column
    return points


def _bin_of(columns: list[int], frequency: int) -> int:
    """Return M^T k: bit i is <column i, k>."""
    return sum(((bin(column & frequency).count("1") & 1) << bit) for bit, column in enumerate(columns))


def _singleton(observation: np.ndarray, shifts: np.ndarray, n_bits: int, magnitude: float, bin_noise: float):
    """Return (frequency, value) when the bin contains exactly one frequency, else None."""
    if math.sqrt(np.mean(observation**2)) < magnitude / 2:
        return None  # a zero-ton
    per_repeat = observation.reshape(-1, n_bits + 1)
    votes = np.sum(per_repeat[:, :1] * per_repeat[:, 1:], axis=0)
    frequency = int(sum(1 << bit for bit in range(n_bits) if votes[bit] < 0))
    signs = 1.0 - 2.0 * (np.bitwise_count(np.bitwise_and(shifts, frequency)) & 1)
    value = float(np.mean(observation * signs))
    residual = np.mean((observation - value * signs) ** 2)
    if abs(value) < magnitude / 2 or residual > 2.0 * bin_noise**2 + 0.05 * magnitude**2:
        return None  # a multi-ton
    return frequency, value
