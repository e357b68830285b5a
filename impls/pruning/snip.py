"""SNIP: connection sensitivity |w * dL/dw| on calibration data, pruned globally in one shot."""

from __future__ import annotations

import math

import torch

from theorybench.suites.pruning import PruneRequest, Pruner, prunable_weights


class SnipPruner(Pruner):
    """Scores each weight by |w * g|, g the gradient of the calibration loss, and prunes the lowest.

    SNIP was proposed for pruning at initialization; here it scores the trained dense model.
    """

    name = "snip"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = "Lee et al., SNIP: Single-shot Network Pruning based on Connection Sensitivity, ICLR 2019"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        model = request.model
        weights = prunable_weights(model)
        model.zero_grad(set_to_none=True)
        model.eval()
        for inputs, labels in request.calibration:
            loss = request.loss(model(inputs), labels) * labels.shape[0] / request.calibration.n_samples
            loss.backward()
        names = list(weights)
        scores = torch.cat([(weights[name].detach() * weights[name].grad).abs().flatten() for name in names])
        model.zero_grad(set_to_none=True)

        n_pruned = min(scores.numel(), math.ceil(round(request.target_sparsity * scores.numel(), 9)))
        keep = torch.ones(scores.numel(), dtype=torch.bool)
        keep[torch.argsort(scores, stable=True)[:n_pruned]] = False
        masks, start = {}, 0
        with torch.no_grad():
            for name in names:
                size = weights[name].numel()
                masks[name] = keep[start : start + size].reshape(weights[name].shape)
                weights[name].mul_(masks[name].to(weights[name].dtype))
                start += size
        return masks
