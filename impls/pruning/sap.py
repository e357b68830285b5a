"""Sparsity-informed adaptive pruning (SAP): the PQ index sets how much each round prunes."""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from theorybench.suites.pruning import PruneRequest, Pruner, pq_index, prunable_weights, sap_keep_count, sap_prune_count


class SapPqiPruner(Pruner):
    """Adaptive magnitude pruning whose per-round amount comes from the PQ index of the survivors.

    Each round computes PQI (p = 0.5, q = 1) over the d surviving weights of all layers, keeps
    r = ceil(d (1 + eta)^(-q/(q-p)) (1 - PQI)^(qp/(q-p))) of them and prunes the
    floor(d * clamp(gamma (1 - r/d), 0, beta)) smallest, never past the target. Between rounds
    it trains for budget / (2 * max_rounds) steps, so half the budget stays for the harness.
    The last round, or one where the rule prunes nothing, prunes the rest of the way to the
    target by magnitude.
    """

    name = "sap-pqi"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = "Diao et al., Pruning Deep Neural Networks from a Sparsity Perspective, ICLR 2023 (arXiv:2302.05601)"
    iterative = True
    p: ClassVar[float] = 0.5
    q: ClassVar[float] = 1.0
    eta: ClassVar[float] = 0.0
    gamma: ClassVar[float] = 1.0
    beta: ClassVar[float] = 0.9
    max_rounds: ClassVar[int] = 8

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        model = request.model
        names = list(prunable_weights(model))
        total = sum(weight.numel() for weight in prunable_weights(model).values())
        target_pruned = min(total, math.ceil(round(request.target_sparsity * total, 9)))
        masks = {name: torch.ones(weight.shape, dtype=torch.bool) for name, weight in prunable_weights(model).items()}
        steps_per_round = request.finetune.steps_left // (2 * self.max_rounds)

        for round_index in range(1, self.max_rounds + 1):
            weights = prunable_weights(model)
            pruned = total - sum(int(mask.sum()) for mask in masks.values())
            needed = target_pruned - pruned
            if needed <= 0:
                break
            survivors = torch.cat([weights[name].detach()[masks[name]] for name in names])
            d = survivors.numel()
            pqi = pq_index(survivors, self.p, self.q)
            r = sap_keep_count(d, pqi, self.p, self.q, self.eta)
            count = min(sap_prune_count(d, r, self.gamma, self.beta), needed)
            if round_index == self.max_rounds or count == 0:
                count = needed
            masks = self._prune_smallest(weights, masks, count)
            with torch.no_grad():
                for name, weight in weights.items():
                    weight.mul_(masks[name].to(weight.dtype))
            if count < needed and steps_per_round:
                request.finetune.train(masks, steps_per_round)
        return masks

    @staticmethod
    def _prune_smallest(
        weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], count: int
    ) -> dict[str, torch.Tensor]:
        names = list(weights)
        scores = torch.cat(
            [torch.where(masks[name], weights[name].detach().abs(), torch.tensor(math.inf)).flatten() for name in names]
        )
        keep = torch.cat([masks[name].flatten() for name in names]).clone()
        keep[torch.argsort(scores, stable=True)[:count]] = False
        new_masks, start = {}, 0
        for name in names:
            size = weights[name].numel()
            new_masks[name] = keep[start : start + size].reshape(weights[name].shape)
            start += size
        return new_masks
