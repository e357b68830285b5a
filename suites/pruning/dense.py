"""Deterministic training of the dense models, cached on disk by a content hash.

The key hashes the model spec, the data (a SHA-256 of every split array), the training recipe,
the seed and the versions of Python, torch, numpy, scikit-learn and mnist1d, so any change to
one of them trains a new model. Training uses one thread, seeded initialization and a seeded
minibatch order, so the same key always yields the same weights on one machine.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.metadata
import logging
import platform
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from theorybench.datasets.digits import Splits
from theorybench.suites.pruning.cache import load_or_build
from theorybench.suites.pruning.models import accuracy, build_model

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DenseRecipe:
    """The dense training recipe: Adam for a fixed number of epochs, keeping the best validation epoch."""

    epochs: int
    lr: float = 3e-3
    batch_size: int = 64
    weight_decay: float = 0.0
    #: The step whose weights lottery-ticket rewinding returns to, as a fraction of all steps.
    rewind_fraction: float = 0.05


@dataclasses.dataclass
class DenseModel:
    """A trained dense model with its early-training weights and validation accuracy."""

    model: nn.Module
    rewind_state: dict[str, torch.Tensor]
    val_accuracy: float
    cache_hit: bool
    key_payload: dict[str, Any]


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries that change the trained weights."""
    versions = {"python": platform.python_version()}
    for package in ("torch", "numpy", "scikit-learn", "mnist1d"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


def _tensors(splits: Splits) -> tuple[torch.Tensor, ...]:
    return tuple(
        torch.from_numpy(array)
        for array in (splits.x_train, splits.y_train, splits.x_val, splits.y_val)
    )


def train_dense(spec: Mapping[str, Any], splits: Splits, recipe: DenseRecipe, seed: int) -> dict[str, Any]:
    """Train the model `spec` describes from `seed` and return its cache entry.

    The entry contains the state of the epoch with the best validation accuracy (the earliest on a
    tie), the state at the rewind step, and that validation accuracy.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
    generator = torch.Generator().manual_seed(seed + 1)
    x_train, y_train, x_val, y_val = _tensors(splits)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)

    steps_per_epoch = -(-x_train.shape[0] // recipe.batch_size)
    rewind_step = max(1, round(recipe.rewind_fraction * recipe.epochs * steps_per_epoch))
    rewind_state = None
    best_accuracy, best_state = -1.0, None
    step = 0
    for _ in range(recipe.epochs):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=generator)
        for start in range(0, x_train.shape[0], recipe.batch_size):
            index = order[start : start + recipe.batch_size]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x_train[index]), y_train[index]).backward()
            optimizer.step()
            step += 1
            if step == rewind_step:
                rewind_state = copy.deepcopy(model.state_dict())
        val_accuracy = accuracy(model, x_val, y_val)
        if val_accuracy > best_accuracy:
            best_accuracy, best_state = val_accuracy, copy.deepcopy(model.state_dict())
    assert best_state is not None and rewind_state is not None
    return {"state": best_state, "rewind_state": rewind_state, "val_accuracy": best_accuracy, "steps": step}


def dense_model(spec: Mapping[str, Any], splits: Splits, recipe: DenseRecipe, seed: int) -> DenseModel:
    """Return the trained dense model for (spec, data, recipe, seed), from the cache when present."""
    payload = {
        "architecture": dict(spec),
        "data": splits.content_hash(),
        "recipe": dataclasses.asdict(recipe),
        "seed": int(seed),
        "versions": library_versions(),
    }
    entry, hit = load_or_build("dense", payload, lambda: train_dense(spec, splits, recipe, seed))
    with torch.random.fork_rng(devices=[]):
        model = build_model(spec)
    model.load_state_dict(entry["state"])
    model.eval()
    logger.debug("dense model %s (validation accuracy %.4f)", "from cache" if hit else "trained", entry["val_accuracy"])
    return DenseModel(
        model=model,
        rewind_state={name: tensor.clone() for name, tensor in entry["rewind_state"].items()},
        val_accuracy=float(entry["val_accuracy"]),
        cache_hit=hit,
        key_payload=payload,
    )

