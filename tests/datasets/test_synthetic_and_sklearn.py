"""Tests of the seeded synthetic generators and the standardized scikit-learn loaders."""

import numpy as np
import pytest

from theorybench.datasets import sklearn_sets, synthetic


def test_conditioned_least_squares_has_requested_kappa():
    A, b = synthetic.conditioned_least_squares(np.random.default_rng(0), n=120, d=30, kappa=1e4)
    eigenvalues = np.linalg.eigvalsh(A.T @ A / A.shape[0])
    assert A.shape == (120, 30)
    assert b.shape == (120,)
    assert eigenvalues[-1] == pytest.approx(1.0, rel=1e-10)
    assert eigenvalues[-1] / eigenvalues[0] == pytest.approx(1e4, rel=1e-8)


def test_conditioned_least_squares_rejects_wide_design():
    with pytest.raises(ValueError, match="n >= d"):
        synthetic.conditioned_least_squares(np.random.default_rng(0), n=10, d=20, kappa=10)


def test_generators_reproducible_under_seed():
    first = synthetic.sparse_regression(np.random.default_rng(5), 40, 60, 5)
    second = synthetic.sparse_regression(np.random.default_rng(5), 40, 60, 5)
    third = synthetic.sparse_regression(np.random.default_rng(6), 40, 60, 5)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], third[0])


def test_separable_classification_keeps_margin():
    from theorybench.suites.optimization.tasks import max_margin

    X, y = synthetic.separable_classification(np.random.default_rng(1), n=300, d=10, margin=0.3)
    lower, upper, _ = max_margin(y[:, None] * X)
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert lower >= 0.3 - 1e-9
    assert upper >= lower


def test_sparse_regression_toeplitz_correlation():
    A, b = synthetic.sparse_regression(np.random.default_rng(2), n=4000, d=5, n_nonzero=2, correlation=0.5)
    correlation = np.corrcoef(A.T)
    assert A.shape == (4000, 5)
    assert b.shape == (4000,)
    np.testing.assert_allclose(A.std(axis=0), 1.0, atol=0.05)
    assert correlation[0, 1] == pytest.approx(0.5, abs=0.05)
    assert correlation[0, 2] == pytest.approx(0.25, abs=0.05)


def test_sparse_regression_rejects_bad_sparsity():
    with pytest.raises(ValueError, match="n_nonzero"):
        synthetic.sparse_regression(np.random.default_rng(0), 10, 5, n_nonzero=6)


@pytest.mark.parametrize("loader", [sklearn_sets.diabetes, sklearn_sets.breast_cancer])
def test_loaders_standardize_columns(loader):
    X, y = loader()
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=1e-12)
    assert X.shape[0] == y.shape[0]


def test_loaders_return_copies():
    X, _ = sklearn_sets.diabetes()
    X[:] = 0.0
    fresh, _ = sklearn_sets.diabetes()
    assert np.abs(fresh).sum() > 0


def test_digits_pair_labels_and_columns():
    X, y = sklearn_sets.digits_pair(3, 8)
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert X.shape[0] == y.shape[0]
    assert np.all(X.std(axis=0) > 0)


def test_digits_pair_rejects_same_class():
    with pytest.raises(ValueError, match="two different digits"):
        sklearn_sets.digits_pair(4, 4)
