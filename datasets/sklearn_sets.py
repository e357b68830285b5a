"""Offline loaders of scikit-learn's bundled data sets, standardized for optimization tasks.

The data ship with scikit-learn, so no loader touches the network. Results are cached per
process because tasks load the same set for every cell.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn import datasets as sklearn_datasets


def standardize(X: np.ndarray) -> np.ndarray:
    """Return X with every column centered and scaled to unit variance; constant columns are dropped."""
    scale = X.std(axis=0)
    keep = scale > 0
    return (X[:, keep] - X[:, keep].mean(axis=0)) / scale[keep]


@functools.lru_cache(maxsize=None)
def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    X, y = sklearn_datasets.load_diabetes(return_X_y=True)
    return standardize(X), (y - y.mean()) / y.std()


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y): 442 x 10 standardized features and the standardized disease progression."""
    X, y = _diabetes()
    return X.copy(), y.copy()


@functools.lru_cache(maxsize=None)
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    return standardize(X), np.where(y == 1, 1.0, -1.0)


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y): 569 x 30 standardized features and labels in {-1, +1} (+1 = benign)."""
    X, y = _breast_cancer()
    return X.copy(), y.copy()


@functools.lru_cache(maxsize=None)
def _digits_pair(positive: int, negative: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    keep = (y == positive) | (y == negative)
    return standardize(X[keep].astype(float)), np.where(y[keep] == positive, 1.0, -1.0)


def digits_pair(positive: int, negative: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y) for two classes of the 8 x 8 digits: standardized pixels, y = +1 for `positive`.

    Pixels that are constant over the two classes are dropped.
    """
    if positive == negative or not (0 <= positive <= 9 and 0 <= negative <= 9):
        raise ValueError(f"need two different digits in 0..9, got {positive} and {negative}")
    X, y = _digits_pair(positive, negative)
    return X.copy(), y.copy()
