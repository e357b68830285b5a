"""One-shot pruners that rank weights by a score: random, layer-wise magnitude, global magnitude."""

from __future__ import annotations

import math

import torch

from theorybench.suites.pruning import PruneRequest, Pruner, prunable_weights


def prune_count(total: int, sparsity: float) -> int:
    """Return ceil(sparsity * total), rounding away float error first, so the target is reached."""
    return min(total, math.ceil(round(sparsity * total, 9)))


def masks_from_global_scores(scores: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """Return masks that prune the ceil(sparsity * N) lowest scores over all layers together."""
    flat = torch.cat([score.flatten() for score in scores.values()])
    n_pruned = prune_count(flat.numel(), sparsity)
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if n_pruned:
        order = torch.argsort(flat, stable=True)
        keep[order[:n_pruned]] = False
    masks, start = {}, 0
    for name, score in scores.items():
        masks[name] = keep[start : start + score.numel()].reshape(score.shape)
        start += score.numel()
    return masks


def masks_from_layer_scores(scores: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """Return masks that prune the ceil(sparsity * n) lowest scores of each layer of n weights."""
    masks = {}
    for name, score in scores.items():
        flat = score.flatten()
        keep = torch.ones(flat.numel(), dtype=torch.bool)
        n_pruned = prune_count(flat.numel(), sparsity)
        if n_pruned:
            keep[torch.argsort(flat, stable=True)[:n_pruned]] = False
        masks[name] = keep.reshape(score.shape)
    return masks


def apply_masks(model: torch.nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned weights of `model` in place."""
    with torch.no_grad():
        for name, weight in prunable_weights(model).items():
            weight.mul_(masks[name].to(weight.dtype))


class RandomPruner(Pruner):
    """Prunes a uniformly random subset of the prunable weights (all layers together)."""

    name = "random"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = "Blalock, Gonzalez Ortiz, Frankle, Guttag. What is the state of neural network pruning? MLSys 2020 (random pruning as the sanity baseline)"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        weights = prunable_weights(request.model)
        scores = {name: torch.rand(weight.shape, generator=request.generator) for name, weight in weights.items()}
        masks = masks_from_global_scores(scores, request.target_sparsity)
        apply_masks(request.model, masks)
        return masks


class LayerwiseMagnitudePruner(Pruner):
    """Prunes the same fraction of each layer, smallest |w| first."""

    name = "magnitude-layerwise"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = "Han et al., Learning both Weights and Connections for Efficient Neural Networks, NeurIPS 2015"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        scores = {name: weight.detach().abs() for name, weight in prunable_weights(request.model).items()}
        masks = masks_from_layer_scores(scores, request.target_sparsity)
        apply_masks(request.model, masks)
        return masks


class GlobalMagnitudePruner(Pruner):
    """Prunes the smallest |w| over all prunable layers together."""

    name = "magnitude-global"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = "global magnitude pruning as compared in Blalock et al., What is the State of Neural Network Pruning?, MLSys 2020"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        scores = {name: weight.detach().abs() for name, weight in prunable_weights(request.model).items()}
        masks = masks_from_global_scores(scores, request.target_sparsity)
        apply_masks(request.model, masks)
        return masks
