"""Baselines for sparse linear regression: least squares, ridge, LASSO and OMP (scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import Lasso, OrthogonalMatchingPursuit, RidgeCV

from theorybench.suites.sample_complexity import Learner, SampleSet


class LeastSquares(Learner):
    """Minimum-norm least squares (numpy.linalg.lstsq); it cannot recover beta with n < d."""

    name = "ols"
    authors = ("TheoryBench",)
    reference = "https://numpy.org/doc/stable/reference/generated/numpy.linalg.lstsq.html"
    tasks = ("sparse_regression",)

    def learn(self, problem: SampleSet) -> np.ndarray:
        features, targets = problem.samples()
        coefficients, *_ = np.linalg.lstsq(features, targets, rcond=None)
        return coefficients


class Ridge(Learner):
    """Ridge regression with the penalty chosen by efficient leave-one-out CV (RidgeCV)."""

    name = "ridge"
    authors = ("TheoryBench",)
    reference = "Hoerl and Kennard, Ridge regression, 1970; https://scikit-learn.org/stable/modules/generated/sklearn.linear_model.RidgeCV.html"
    tasks = ("sparse_regression",)

    def learn(self, problem: SampleSet) -> np.ndarray:
        features, targets = problem.samples()
        model = RidgeCV(alphas=np.logspace(-3, 3, 13), fit_intercept=False)
        model.fit(features, targets)
        return model.coef_


class LassoTheory(Learner):
    """LASSO with the penalty sigma * sqrt(2 log(d) / n) from the noise level (scikit-learn scaling)."""

    name = "lasso"
    authors = ("TheoryBench",)
    reference = "Tibshirani 1996; Bickel, Ritov and Tsybakov 2009 for the penalty level"
    tasks = ("sparse_regression",)

    def learn(self, problem: SampleSet) -> np.ndarray:
        features, targets = problem.samples()
        n, d = features.shape
        alpha = problem.info["noise"] * math.sqrt(2.0 * math.log(d) / n)
        model = Lasso(alpha=alpha, fit_intercept=False, max_iter=5000, tol=1e-6)
        model.fit(features, targets)
        return model.coef_


class Omp(Learner):
    """Orthogonal matching pursuit stopped at the known sparsity s."""

    name = "omp"
    authors = ("TheoryBench",)
    reference = "Pati, Rezaiifar and Krishnaprasad 1993; sklearn.linear_model.OrthogonalMatchingPursuit"
    tasks = ("sparse_regression",)

    def learn(self, problem: SampleSet) -> np.ndarray:
        features, targets = problem.samples()
        n_nonzero = min(problem.info["s"], features.shape[0])
        model = OrthogonalMatchingPursuit(n_nonzero_coefs=n_nonzero, fit_intercept=False)
        model.fit(features, targets)
        return model.coef_
