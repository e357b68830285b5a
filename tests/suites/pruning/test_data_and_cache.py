"""Offline data generation, seeded splits and the dense-model cache."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from theorybench.datasets.digits import load_digits_splits
from theorybench.datasets.mnist1d_data import NetworkAccessError, generate_mnist1d, load_mnist1d_splits
from theorybench.suites.pruning.cache import load_or_build
from theorybench.suites.pruning.dense import DenseRecipe, dense_model

MLP_SPEC = {"kind": "mlp", "in_features": 64, "hidden": [16], "n_classes": 10}


def test_mnist1d_generates_offline_and_keeps_global_rng():
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    x, y = generate_mnist1d.__wrapped__(42, 500)
    assert np.random.rand() == expected_next
    assert x.shape == (500, 40)
    assert x.dtype == np.float32
    assert sorted(np.unique(y).tolist()) == list(range(10))


def test_mnist1d_network_access_fails_clearly(monkeypatch):
    import mnist1d.data

    def downloading_generator(args):
        socket.create_connection(("127.0.0.1", 9))

    monkeypatch.setattr(mnist1d.data, "make_dataset", downloading_generator)
    saved = socket.create_connection
    with pytest.raises(NetworkAccessError, match="generates the data offline only"):
        generate_mnist1d.__wrapped__(7, 100)
    # The block is lifted afterwards.
    assert socket.create_connection is saved


def test_splits_are_fixed_by_seed_and_disjoint():
    first = load_digits_splits(5)
    again = load_digits_splits(5)
    other = load_digits_splits(6)
    assert first.content_hash() == again.content_hash()
    assert first.content_hash() != other.content_hash()
    assert first.x_train.shape[0] + first.x_val.shape[0] + first.x_test.shape[0] == 1797
    rows = {row.tobytes() for row in first.x_test}
    assert not any(row.tobytes() in rows for row in first.x_val)
    mnist = load_mnist1d_splits(5)
    assert (mnist.x_train.shape[0], mnist.x_val.shape[0], mnist.x_test.shape[0]) == (3000, 1000, 1000)


def test_dense_model_is_cached_and_deterministic(private_cache: Path):
    splits = load_digits_splits(1)
    recipe = DenseRecipe(epochs=2)
    first = dense_model(MLP_SPEC, splits, recipe, seed=11)
    second = dense_model(MLP_SPEC, splits, recipe, seed=11)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), name
    # A fresh training run (no cache) gives the very same weights.
    for path in private_cache.glob("dense-*.pt"):
        path.unlink()
    retrained = dense_model(MLP_SPEC, splits, recipe, seed=11)
    assert not retrained.cache_hit
    for (name, a), (_, b) in zip(first.model.state_dict().items(), retrained.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_cache_key_covers_seed_recipe_and_data():
    splits = load_digits_splits(1)
    base = dense_model(MLP_SPEC, splits, DenseRecipe(epochs=1), seed=3).key_payload
    assert dense_model(MLP_SPEC, splits, DenseRecipe(epochs=1), seed=4).key_payload["seed"] != base["seed"]
    other_data = dense_model(MLP_SPEC, load_digits_splits(2), DenseRecipe(epochs=1), seed=3).key_payload
    assert other_data["data"] != base["data"]
    assert set(base["versions"]) == {"python", "torch", "numpy", "scikit-learn", "mnist1d"}


def test_unreadable_cache_entry_is_rebuilt(private_cache: Path):
    entry, hit = load_or_build("unit", {"value": 1}, lambda: {"x": torch.ones(2)})
    assert not hit
    path = next(private_cache.glob("unit-*.pt"))
    path.write_bytes(b"truncated")
    entry, hit = load_or_build("unit", {"value": 1}, lambda: {"x": torch.full((2,), 5.0)})
    assert not hit
    assert torch.equal(entry["x"], torch.full((2,), 5.0))


def _build_slowly(log_path: str) -> dict:
    with open(log_path, "a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(0.5)
    return {"weights": torch.arange(1000.0)}


def _worker(folder: str, log_path: str, queue) -> None:
    entry, hit = load_or_build("race", {"key": 1}, lambda: _build_slowly(log_path), folder=Path(folder))
    queue.put((hit, float(entry["weights"].sum())))


def test_concurrent_workers_build_once_and_read_whole_files(tmp_path: Path):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    log_path = tmp_path / "builds.log"
    processes = [context.Process(target=_worker, args=(str(tmp_path), str(log_path), queue)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    results = [queue.get(timeout=5) for _ in processes]
    assert len(log_path.read_text().splitlines()) == 1
    assert sorted(hit for hit, _ in results) == [False, True, True]
    assert all(total == float(torch.arange(1000.0).sum()) for _, total in results)
    assert not list(tmp_path.glob("*.tmp"))
