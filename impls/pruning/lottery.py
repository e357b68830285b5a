"""Iterative magnitude pruning with weight rewinding (lottery-ticket style)."""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from theorybench.suites.pruning import PruneRequest, Pruner, prunable_weights


def _global_magnitude_masks(
    weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], n_pruned_total: int
) -> dict[str, torch.Tensor]:
    """Extend `masks` so that exactly `n_pruned_total` weights are pruned, smallest |w| first.

    Already-pruned weights stay pruned: their score is -inf.
    """
    names = list(weights)
    scores = torch.cat(
        [torch.where(masks[name], weights[name].detach().abs(), torch.tensor(-math.inf)).flatten() for name in names]
    )
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    if n_pruned_total:
        keep[torch.argsort(scores, stable=True)[:n_pruned_total]] = False
    new_masks, start = {}, 0
    for name in names:
        size = weights[name].numel()
        new_masks[name] = keep[start : start + size].reshape(weights[name].shape)
        start += size
    return new_masks


class ImpRewindPruner(Pruner):
    """Iterative magnitude pruning, rewinding the surviving weights to early training each round.

    The sparsity follows s_k = 1 - (1 - s)^(k / rounds). Round k prunes the smallest surviving
    weights globally to s_k, rewinds every weight to the dense model's early-training state
    (masked), and, except after the last round, trains for budget / rounds steps. The harness
    trains the final ticket with what is left (about one round's worth).
    """

    name = "imp-rewind"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = (
        "Frankle et al., Linear Mode Connectivity and the Lottery Ticket Hypothesis, ICML 2020 "
        "(iterative magnitude pruning with rewinding)"
    )
    iterative = True
    rounds: ClassVar[int] = 3

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        model = request.model
        weights = prunable_weights(model)
        total = sum(weight.numel() for weight in weights.values())
        masks = {name: torch.ones(weight.shape, dtype=torch.bool) for name, weight in weights.items()}
        steps_per_round = request.finetune.steps_left // self.rounds

        for round_index in range(1, self.rounds + 1):
            sparsity = 1.0 - (1.0 - request.target_sparsity) ** (round_index / self.rounds)
            if round_index == self.rounds:
                sparsity = request.target_sparsity
            n_pruned = min(total, math.ceil(round(sparsity * total, 9)))
            masks = _global_magnitude_masks(prunable_weights(model), masks, n_pruned)
            model.load_state_dict(request.rewind_state)
            with torch.no_grad():
                for name, weight in prunable_weights(model).items():
                    weight.mul_(masks[name].to(weight.dtype))
            if round_index < self.rounds and steps_per_round:
                request.finetune.train(masks, steps_per_round)
        return masks
