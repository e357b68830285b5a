"""OBS-style second-order pruning with an empirical-Fisher inverse applied by the Woodbury identity.

The Hessian of the loss over the surviving prunable weights is approximated by the damped
empirical Fisher F = lambda I + (1/m) G^T G, G the (m, d) matrix of per-sample gradients. Its
inverse is never formed: by the Woodbury identity

    F^-1 = (1/lambda) (I - G^T B^-1 G),    B = m lambda I + G G^T   (m x m),

so the diagonal of F^-1 and products with it cost O(m^2 d). Removing a set Q of weights with the
optimal compensating update of the others (Optimal Brain Surgeon) needs (F^-1)_QQ^-1 w_Q; a
second Woodbury step gives

    (F^-1)_QQ^-1 = lambda (I + G_Q^T C^-1 G_Q),    C = B - G_Q G_Q^T = m lambda I + G_R G_R^T,

with R the surviving weights outside Q, again an m x m solve. The update is
dw = -F^-1 E_Q (F^-1)_QQ^-1 w_Q, which sets every weight of Q to zero exactly.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch.func import functional_call, grad, vmap

from theorybench.suites.pruning import PruneRequest, Pruner, prunable_weights


def woodbury_fisher_diagonal(gradients: torch.Tensor, damping: float) -> torch.Tensor:
    """Return diag(F^-1) for F = damping I + (1/m) G^T G; gradients: (m, d) float64."""
    m = gradients.shape[0]
    b_matrix = m * damping * torch.eye(m, dtype=gradients.dtype) + gradients @ gradients.T
    solved = torch.linalg.solve(b_matrix, gradients)
    return (1.0 - (gradients * solved).sum(dim=0)) / damping


def obs_update(gradients: torch.Tensor, damping: float, weights: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """Return the OBS update dw (shape (d,)) that zeroes weights[removed] at least quadratic cost.

    gradients: (m, d) float64; weights: (d,); removed: (d,) boolean. Uses two m x m solves.
    """
    m = gradients.shape[0]
    eye = torch.eye(m, dtype=gradients.dtype)
    gradients_q = gradients[:, removed]
    weights_q = weights[removed]
    b_matrix = m * damping * eye + gradients @ gradients.T
    c_matrix = b_matrix - gradients_q @ gradients_q.T
    # v = (F^-1)_QQ^-1 w_Q = lambda (w_Q + G_Q^T C^-1 G_Q w_Q)
    v = damping * (weights_q + gradients_q.T @ torch.linalg.solve(c_matrix, gradients_q @ weights_q))
    # F^-1 E_Q v = (1/lambda) (E_Q v - G^T B^-1 G_Q v)
    embedded = torch.zeros_like(weights)
    embedded[removed] = v
    product = (embedded - gradients.T @ torch.linalg.solve(b_matrix, gradients_q @ v)) / damping
    return -product


class ObsFisherPruner(Pruner):
    """Gradual one-shot OBS: a few steps toward the target, each with a fresh empirical Fisher.

    Step k prunes to s_k = 1 - (1 - s)^(k / steps): it draws `n_gradients` per-sample gradients
    from the calibration data, scores each surviving weight by w^2 / (2 [F^-1]_qq), removes the
    lowest and applies the OBS update to the survivors. Biases are not updated. The damping is
    `relative_damping` times the mean diagonal of (1/m) G^T G. No fine-tuning: the harness
    spends the whole budget afterwards.
    """

    name = "obs-fisher"
    version = "1.0"
    authors = ("TheoryBench",)
    reference = (
        "Hassibi and Stork, Optimal Brain Surgeon, NeurIPS 1992; Frantar et al., M-FAC: Efficient "
        "Matrix-Free Approximations of Second-Order Information, NeurIPS 2021"
    )
    steps: ClassVar[int] = 4
    n_gradients: ClassVar[int] = 128
    relative_damping: ClassVar[float] = 1e-2

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        model = request.model
        names = list(prunable_weights(model))
        total = sum(weight.numel() for weight in prunable_weights(model).values())
        masks = {name: torch.ones(weight.shape, dtype=torch.bool) for name, weight in prunable_weights(model).items()}
        inputs, labels = self._calibration_samples(request)

        for step in range(1, self.steps + 1):
            sparsity = 1.0 - (1.0 - request.target_sparsity) ** (step / self.steps)
            if step == self.steps:
                sparsity = request.target_sparsity
            n_pruned_total = min(total, math.ceil(round(sparsity * total, 9)))
            already = total - sum(int(mask.sum()) for mask in masks.values())
            count = n_pruned_total - already
            if count <= 0:
                continue
            masks = self._step(request, names, masks, inputs, labels, count)
        return masks

    def _calibration_samples(self, request: PruneRequest) -> tuple[torch.Tensor, torch.Tensor]:
        batches = list(request.calibration)
        inputs = torch.cat([x for x, _ in batches])
        labels = torch.cat([y for _, y in batches])
        if inputs.shape[0] > self.n_gradients:
            index = torch.randperm(inputs.shape[0], generator=request.generator)[: self.n_gradients]
            inputs, labels = inputs[index], labels[index]
        return inputs, labels

    def _per_sample_gradients(
        self, request: PruneRequest, names: list[str], inputs: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        model = request.model
        model.eval()
        parameters = {name: parameter.detach() for name, parameter in model.named_parameters()}

        def loss_of(weights: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            merged = {**parameters, **weights}
            return request.loss(functional_call(model, merged, (x.unsqueeze(0),)), y.unsqueeze(0))

        weights = {name: parameters[name] for name in names}
        return vmap(grad(loss_of), in_dims=(None, 0, 0))(weights, inputs, labels)

    def _step(
        self,
        request: PruneRequest,
        names: list[str],
        masks: dict[str, torch.Tensor],
        inputs: torch.Tensor,
        labels: torch.Tensor,
        count: int,
    ) -> dict[str, torch.Tensor]:
        per_sample = self._per_sample_gradients(request, names, inputs, labels)
        alive = torch.cat([masks[name].flatten() for name in names])
        gradients = torch.cat([per_sample[name].reshape(inputs.shape[0], -1) for name in names], dim=1)
        gradients = gradients[:, alive].to(torch.float64)
        weights_all = torch.cat([prunable_weights(request.model)[name].detach().flatten() for name in names])
        weights = weights_all[alive].to(torch.float64)

        m = gradients.shape[0]
        fisher_diagonal_mean = float((gradients**2).sum() / (m * gradients.shape[1]))
        damping = self.relative_damping * fisher_diagonal_mean if fisher_diagonal_mean > 0 else self.relative_damping
        inverse_diagonal = woodbury_fisher_diagonal(gradients, damping).clamp_min(1e-30)
        saliency = weights**2 / (2.0 * inverse_diagonal)
        removed = torch.zeros(weights.numel(), dtype=torch.bool)
        removed[torch.argsort(saliency, stable=True)[:count]] = True

        updated = weights + obs_update(gradients, damping, weights, removed)
        updated[removed] = 0.0
        new_all = torch.zeros_like(weights_all)
        new_all[alive] = updated.to(weights_all.dtype)
        keep_all = alive.clone()
        keep_all[alive.nonzero().flatten()[removed]] = False

        new_masks, start = {}, 0
        with torch.no_grad():
            for name, weight in prunable_weights(request.model).items():
                size = weight.numel()
                new_masks[name] = keep_all[start : start + size].reshape(weight.shape)
                weight.copy_(new_all[start : start + size].reshape(weight.shape))
                start += size
        return new_masks
