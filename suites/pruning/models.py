"""The models the suite prunes, built from JSON-ready specs, and accuracy evaluation.

A spec is a dict (part of a task instance's parameters), so the dense-model cache can hash it.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn


def build_model(spec: Mapping[str, Any]) -> nn.Sequential:
    """Build the model a spec describes; the weights come from torch's global generator."""
    kind = spec.get("kind")
    if kind == "mlp":
        return _build_mlp(spec)
    if kind == "cnn1d":
        return _build_cnn1d(spec)
    raise ValueError(f"unknown model kind {kind!r}; expected 'mlp' or 'cnn1d'")


def _build_mlp(spec: Mapping[str, Any]) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = int(spec["in_features"])
    for hidden in spec["hidden"]:
        layers += [nn.Linear(width, int(hidden)), nn.ReLU()]
        width = int(hidden)
    layers.append(nn.Linear(width, int(spec["n_classes"])))
    return nn.Sequential(*layers)


def _build_cnn1d(spec: Mapping[str, Any]) -> nn.Sequential:
    """A 1-D CNN: input (n, length), Conv1d + ReLU blocks, then flatten and one Linear layer."""
    length = int(spec["length"])
    channels = [int(c) for c in spec["channels"]]
    kernels = [int(k) for k in spec["kernels"]]
    strides = [int(s) for s in spec["strides"]]
    paddings = [int(p) for p in spec["paddings"]]
    if not len(channels) == len(kernels) == len(strides) == len(paddings):
        raise ValueError("cnn1d spec: channels, kernels, strides and paddings must have the same length")

    layers: list[nn.Module] = [nn.Unflatten(1, (1, length))]
    in_channels = 1
    for out_channels, kernel, stride, padding in zip(channels, kernels, strides, paddings):
        layers += [nn.Conv1d(in_channels, out_channels, kernel, stride=stride, padding=padding), nn.ReLU()]
        in_channels = out_channels
        length = (length + 2 * padding - kernel) // stride + 1
        if length < 1:
            raise ValueError(f"cnn1d spec: the sequence length falls below 1 at a kernel of size {kernel}")
    layers += [nn.Flatten(), nn.Linear(in_channels * length, int(spec["n_classes"]))]
    return nn.Sequential(*layers)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Return the model's outputs on `x` in evaluation mode, computed in batches."""
    was_training = model.training
    model.eval()
    try:
        outputs = [model(x[start : start + batch_size]) for start in range(0, x.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outputs)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Return the fraction of samples whose arg-max output equals the label."""
    logits = predict_logits(model, x)
    return float((logits.argmax(dim=1) == y).float().mean())
