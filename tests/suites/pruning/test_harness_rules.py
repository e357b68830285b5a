"""Each harness rule, checked with a deliberately bad (or unusual) pruner run through a real cell."""

from __future__ import annotations

import copy
import math
import re

import pytest
import torch
import torch.nn.utils.prune
from torch import nn

from theorybench.errors import InvalidOutput
from theorybench.suites.pruning import FineTuneHandle, FineTuneRecipe, PruneRequest, Pruner, prunable_weights
from theorybench.suites.pruning.harness import _check_round_trip
from theorybench.testing import run_in_process


def magnitude_masks(model: nn.Module, sparsity: float, zero: bool = True) -> dict[str, torch.Tensor]:
    """Global magnitude masks reaching `sparsity` over the model's current weights."""
    weights = prunable_weights(model)
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    n_pruned = math.ceil(round(sparsity * flat.numel(), 9))
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.argsort(flat, stable=True)[:n_pruned]] = False
    masks, start = {}, 0
    for name, weight in weights.items():
        masks[name] = keep[start : start + weight.numel()].reshape(weight.shape)
        start += weight.numel()
        if zero:
            with torch.no_grad():
                weight.mul_(masks[name].to(weight.dtype))
    return masks


class MagnitudeForTests(Pruner):
    name = "test-magnitude"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        return magnitude_masks(request.model, request.target_sparsity)


class MasksWithoutZeros(Pruner):
    name = "test-no-zeros"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        return magnitude_masks(request.model, request.target_sparsity, zero=False)


class MissesTheRequest(Pruner):
    name = "test-misses-request"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        return magnitude_masks(request.model, request.target_sparsity - 0.1)


class OverPrunesFirst(Pruner):
    """Prunes 0.96 when 0.5 is requested, then exactly what is requested: achieved sparsity falls."""

    name = "test-over-prunes"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        sparsity = 0.96 if request.target_sparsity == 0.5 else request.target_sparsity
        return magnitude_masks(request.model, sparsity)


class ShrinksFirstLayer(Pruner):
    """Removes half the units of the first hidden layer, then masks to the target by magnitude.

    The masks are computed against the shrunk model, so the canonical sparsity (against the dense
    count) is higher than the sparsity over the shrunk model's own weights.
    """

    name = "test-shrinks-layer"
    kept_weights: list[int] = []

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        model = request.model
        first, second = model[0], model[2]
        keep_units = first.out_features // 2
        new_first = nn.Linear(first.in_features, keep_units)
        new_second = nn.Linear(keep_units, second.out_features)
        with torch.no_grad():
            new_first.weight.copy_(first.weight[:keep_units])
            new_first.bias.copy_(first.bias[:keep_units])
            new_second.weight.copy_(second.weight[:, :keep_units])
            new_second.bias.copy_(second.bias)
        model[0], model[2] = new_first, new_second
        shrunk_total = sum(w.numel() for w in prunable_weights(model).values())
        removed = first.weight.numel() + second.weight.numel() - new_first.weight.numel() - new_second.weight.numel()
        # Prune only what is still needed against the dense count.
        needed = max(0.0, (request.target_sparsity * (shrunk_total + removed) - removed) / shrunk_total)
        masks = magnitude_masks(model, needed)
        ShrinksFirstLayer.kept_weights.append(int(sum(int(m.sum()) for m in masks.values())))
        return masks


class DeadUnitsWithBias(Pruner):
    """Prunes every input of the first four hidden units, whose biases stay nonzero."""

    name = "test-live-bias"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            request.model[0].weight[:4] = 0.0
            request.model[0].bias[:4] = 1.0
        return magnitude_masks(request.model, request.target_sparsity)


class CollapsesOutputLayer(Pruner):
    """Prunes the whole output layer on top of the magnitude masks."""

    name = "test-collapse"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        masks = magnitude_masks(request.model, request.target_sparsity)
        last = list(masks)[-1]
        masks[last] = torch.zeros_like(masks[last])
        with torch.no_grad():
            prunable_weights(request.model)[last].zero_()
        return masks


class RestoresDenseOnSave(nn.Linear):
    """A Linear layer whose state_dict carries its dense weights, so pruning is lost on reload."""

    def __init__(self, source: nn.Linear):
        super().__init__(source.in_features, source.out_features)
        with torch.no_grad():
            self.weight.copy_(source.weight)
            self.bias.copy_(source.bias)
        self.register_buffer("dense_copy", source.weight.detach().clone(), persistent=False)
        self._register_state_dict_hook(RestoresDenseOnSave._put_dense)

    @staticmethod
    def _put_dense(module, state_dict, prefix, local_metadata):
        state_dict[prefix + "weight"] = module.dense_copy.clone()
        return state_dict


class LosesSparsityOnReload(Pruner):
    name = "test-state-dict"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        request.model[0] = RestoresDenseOnSave(request.model[0])
        return magnitude_masks(request.model, request.target_sparsity)


class PruneUtilityReparametrization(Pruner):
    """Uses torch.nn.utils.prune, which keeps weight_orig and weight_mask instead of zeroed weights."""

    name = "test-torch-prune"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        masks = magnitude_masks(request.model, request.target_sparsity, zero=False)
        for name, module in request.model.named_modules():
            if f"{name}.weight" in masks:
                torch.nn.utils.prune.custom_from_mask(module, "weight", masks[f"{name}.weight"])
        return masks


class GrowsFirstLayer(Pruner):
    """Replaces the first layer with a wider one: more weights than the dense model had."""

    name = "test-grows-layer"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        first, second = request.model[0], request.model[2]
        request.model[0] = nn.Linear(first.in_features, 2 * first.out_features)
        request.model[2] = nn.Linear(2 * first.out_features, second.out_features)
        return magnitude_masks(request.model, 0.99)


class AddsLayer(Pruner):
    """Appends an extra Linear layer after the output."""

    name = "test-adds-layer"

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        request.model.append(nn.Linear(request.n_classes, request.n_classes))
        return magnitude_masks(request.model, request.target_sparsity)


def run(small_mlp, implementation):
    return run_in_process("pruning", "mlp_digits", small_mlp, implementation)


def test_reference_pruner_passes_every_rule(small_mlp):
    result = run(small_mlp, MagnitudeForTests)
    assert result.status == "ok", result.reason
    for tag in ("s50", "s75", "s90", "s95", "s98"):
        assert result.metrics[f"achieved_{tag}"] >= float(tag[1:]) / 100 - 1e-9
        assert 0.0 <= result.metrics[f"acc_{tag}"] <= 1.0
        assert result.metrics[f"speedup_{tag}"] > 1.0
    assert result.metrics["monotone_sparsity"] == 1
    assert result.metrics["collapsed_layers"] == 0


def test_checkpoint_selected_on_validation(small_mlp):
    result = run(small_mlp, MagnitudeForTests)
    assert result.status == "ok", result.reason
    for tag, row in result.info["sparsities"].items():
        # Step 0 (the pruned model before fine-tuning) is a candidate, so validation never drops.
        assert row["val_accuracy_selected"] >= row["val_accuracy_before"], tag
        assert row["selected_step"] in {0, 5, 10, 15, 20}, tag


def test_masks_without_zeros_are_rejected(small_mlp):
    result = run(small_mlp, MasksWithoutZeros)
    assert result.status == "invalid"
    assert "masks and weights disagree on 0.weight" in result.reason
    # The message carries both counts: 0.weight has 64 x 32 = 2048 weights, all still nonzero.
    match = re.search(r"the mask keeps (\d+) of 2048 weights but 2048 are nonzero \((\d+) pruned", result.reason)
    assert match is not None, result.reason
    assert int(match.group(1)) + int(match.group(2)) == 2048


def test_missed_request_is_rejected(small_mlp):
    result = run(small_mlp, MissesTheRequest)
    assert result.status == "invalid"
    assert "requested sparsity 0.5, achieved 0.4" in result.reason
    # The dense model has 64 x 32 + 32 x 32 + 32 x 10 = 3392 prunable weights.
    assert "of 3392 weights unmasked); keep at most 1696 weights" in result.reason


def test_falling_sparsity_is_flagged(small_mlp):
    result = run(small_mlp, OverPrunesFirst)
    assert result.status == "ok", result.reason
    assert result.metrics["achieved_s50"] > result.metrics["achieved_s75"]
    assert result.metrics["monotone_sparsity"] == 0


def test_shrunk_layer_counts_against_dense_size(small_mlp):
    ShrinksFirstLayer.kept_weights.clear()
    result = run(small_mlp, ShrinksFirstLayer)
    assert result.status == "ok", result.reason
    dense_total = 64 * 32 + 32 * 32 + 32 * 10
    tags = ["s50", "s75", "s90", "s95", "s98"]
    for tag, kept in zip(tags, ShrinksFirstLayer.kept_weights):
        assert result.metrics[f"achieved_{tag}"] == pytest.approx(1 - kept / dense_total)
    density = result.info["sparsities"]["s50"]["layer_density"]["0.weight"]
    assert density <= 0.5  # at most 16 of the 32 dense rows survive
    # The smaller layer also saves FLOPs: the speedup at s=0.5 is above 1.
    assert result.metrics["speedup_s50"] > 1.5


def test_pruned_units_with_live_bias_are_reported(small_mlp):
    result = run(small_mlp, DeadUnitsWithBias)
    assert result.status == "ok", result.reason
    assert result.info["sparsities"]["s50"]["live_bias_units"]["0.weight"] >= 4
    assert result.metrics["live_bias_units"] >= 4 * 5


def test_collapsed_layer_is_flagged(small_mlp):
    result = run(small_mlp, CollapsesOutputLayer)
    assert result.status == "ok", result.reason
    assert result.metrics["collapsed_layers"] == 5
    assert result.info["sparsities"]["s98"]["collapsed_layers"] == ["4.weight"]


def test_grown_layer_is_rejected(small_mlp):
    result = run(small_mlp, GrowsFirstLayer)
    assert result.status == "invalid"
    assert "layer 0.weight grew from 2048 to 4096 weights" in result.reason


def test_added_layer_is_rejected(small_mlp):
    result = run(small_mlp, AddsLayer)
    assert result.status == "invalid"
    assert "added prunable layer(s) 5.weight" in result.reason


def test_sparsity_lost_on_reload_is_rejected(small_mlp):
    result = run(small_mlp, LosesSparsityOnReload)
    assert result.status == "invalid"
    assert "did not survive a state_dict round trip on 0.weight" in result.reason


def test_torch_prune_reparametrization_is_folded(small_mlp):
    result = run(small_mlp, PruneUtilityReparametrization)
    assert result.status == "ok", result.reason
    assert result.metrics["achieved_s90"] >= 0.9


def test_cells_are_deterministic(small_mlp):
    first = run(small_mlp, MagnitudeForTests)
    second = run(small_mlp, MagnitudeForTests)
    timing = {"prune_time_s", "finetune_time_s"}
    assert {k: v for k, v in first.metrics.items() if k not in timing} == {
        k: v for k, v in second.metrics.items() if k not in timing
    }
    assert second.info["dense_cache_hit"] == 1


# --- fine-tuning handle ---------------------------------------------------------------------


def _handle_setup(steps: int = 30):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x = torch.randn(256, 6)
    y = torch.randint(0, 3, (256,))
    masks = {name: torch.rand(w.shape) > 0.5 for name, w in prunable_weights(model).items()}
    recipe = FineTuneRecipe(lr=0.1, momentum=0.9, weight_decay=1e-2, batch_size=32)
    handle = FineTuneHandle(model, x, y, recipe, steps, torch.Generator().manual_seed(1))
    return model, x, y, masks, recipe, handle


def test_momentum_and_weight_decay_cannot_revive_weights():
    model, _, _, masks, _, handle = _handle_setup()
    handle.train(masks, 30)
    for name, weight in prunable_weights(model).items():
        assert torch.count_nonzero(weight.detach()[~masks[name]]) == 0, name
        assert torch.count_nonzero(weight.detach()[masks[name]]) == int(masks[name].sum()), name


def test_plain_sgd_would_revive_weights():
    # The control: the same optimizer without re-applied masks turns pruned weights nonzero.
    model, x, y, masks, recipe, _ = _handle_setup()
    with torch.no_grad():
        for name, weight in prunable_weights(model).items():
            weight.mul_(masks[name])
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    for start in range(0, 256, 32):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[start : start + 32]), y[start : start + 32]).backward()
        optimizer.step()
    revived = sum(int(torch.count_nonzero(w.detach()[~masks[n]])) for n, w in prunable_weights(model).items())
    assert revived > 0


def test_handle_counts_steps_against_budget():
    from theorybench.errors import BudgetExceeded

    _, _, _, masks, _, handle = _handle_setup(steps=10)
    handle.train(masks, 4)
    assert (handle.steps_used, handle.steps_left, handle.budget) == (4, 6, 10)
    with pytest.raises(BudgetExceeded, match="7 fine-tuning steps requested, 6 of 10 left"):
        handle.train(masks, 7)
    assert handle.steps_used == 4


def test_round_trip_check_passes_a_plain_pruned_model():
    model, _, _, masks, _, handle = _handle_setup()
    handle.train(masks, 5)
    _check_round_trip(model, masks)


def test_round_trip_check_catches_dense_state_dict():
    model, _, _, masks, _, _ = _handle_setup()
    model[0] = RestoresDenseOnSave(model[0])
    with torch.no_grad():
        for name, weight in prunable_weights(model).items():
            weight.mul_(masks[name])
    with pytest.raises(InvalidOutput, match="round trip on 0.weight"):
        _check_round_trip(copy.deepcopy(model), masks)
