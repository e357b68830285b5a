"""scikit-learn's bundled 8x8 digits, split into train, validation and test sets from a seed.

The 1,797 images ship with scikit-learn, so loading needs no network. Pixels (0 to 16) are
scaled to [0, 1] and flattened to 64 features.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


@dataclasses.dataclass(frozen=True)
class Splits:
    """Features (float32) and integer labels of the three splits of one data set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    def content_hash(self) -> str:
        """Return a SHA-256 digest of every array, so a cache keyed on it changes with the data."""
        digest = hashlib.sha256()
        for field in dataclasses.fields(self):
            array = np.ascontiguousarray(getattr(self, field.name))
            digest.update(field.name.encode())
            digest.update(str(array.dtype).encode())
            digest.update(str(array.shape).encode())
            digest.update(array.tobytes())
        return digest.hexdigest()


def stratified_splits(
    x: np.ndarray, y: np.ndarray, seed: int, val_fraction: float, test_fraction: float
) -> Splits:
    """Split (x, y) into stratified train, validation and test sets, drawn from `seed`.

    The fractions are of the whole set; the train set gets the rest.
    """
    if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in (0, 1) "
            "and sum to less than 1"
        )
    rng = np.random.default_rng(seed)
    first_state, second_state = (int(value) for value in rng.integers(0, 2**31 - 1, size=2))
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=first_state
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1.0 - test_fraction), stratify=y_rest, random_state=second_state
    )
    return Splits(
        x_train=np.ascontiguousarray(x_train, dtype=np.float32),
        y_train=np.ascontiguousarray(y_train, dtype=np.int64),
        x_val=np.ascontiguousarray(x_val, dtype=np.float32),
        y_val=np.ascontiguousarray(y_val, dtype=np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.float32),
        y_test=np.ascontiguousarray(y_test, dtype=np.int64),
    )


def load_digits_splits(seed: int, val_fraction: float = 0.2, test_fraction: float = 0.2) -> Splits:
    """Return the digits set (features in [0, 1], shape (n, 64)) split from `seed`."""
    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    return stratified_splits(x, y, seed, val_fraction, test_fraction)
