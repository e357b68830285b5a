"""The harness of one pruning cell: one (task instance, pruner, seed) sweeping every target sparsity.

For each target sparsity the pruner gets a fresh copy of the dense model and a fresh fine-tuning
budget. The harness then checks the masks against the weights and measures the achieved
sparsity. It fine-tunes the masked model with the remaining budget, and validation accuracy
picks the checkpoint. Last, it checks that sparsity survives a `state_dict` round trip and
evaluates test accuracy once per reported model.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import logging
import math
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.utils.prune
from torch import nn

from theorybench.contracts import CellContext
from theorybench.datasets.digits import Splits
from theorybench.errors import InvalidOutput
from theorybench.suites.pruning.contract import (
    CalibrationLoader,
    FineTuneHandle,
    FineTuneRecipe,
    Pruner,
    PruneRequest,
)
from theorybench.suites.pruning.dense import DenseModel
from theorybench.suites.pruning.models import accuracy, predict_logits
from theorybench.suites.pruning.sparsity import (
    check_masks_match_zeros,
    count_flops,
    count_nonzero_weights,
    dense_counts,
    measure_sparsity,
    pq_index,
    prunable_layers,
    prunable_weights,
    validate_masks,
    weight_use_counts,
)

logger = logging.getLogger(__name__)

#: Canonical sparsity may fall short of the request by at most this much (rounding per layer).
SPARSITY_TOLERANCE = 2e-3


@dataclasses.dataclass(frozen=True)
class CellSettings:
    """The per-instance settings of the harness."""

    sparsities: tuple[float, ...]
    finetune_steps: int
    eval_every: int
    calibration_batches: int
    recipe: FineTuneRecipe


@dataclasses.dataclass
class SparsityOutcome:
    """Measurements of one target sparsity."""

    requested: float
    achieved: float
    accuracy_before: float
    accuracy_after: float
    val_accuracy_before: float
    val_accuracy_after: float
    selected_step: int
    speedup: float
    pqi_05_1: float
    pqi_1_2: float
    layer_density: dict[str, float]
    collapsed_layers: tuple[str, ...]
    live_bias_units: dict[str, int]
    pruner_steps: int
    prune_seconds: float
    finetune_seconds: float


def sparsity_label(sparsity: float) -> str:
    """Return the metric suffix of a sparsity: 0.9 -> "s90", 0.975 -> "s97.5"."""
    return "s" + f"{100 * sparsity:.4g}"


def _remove_reparametrization(model: nn.Module) -> None:
    """Fold `torch.nn.utils.prune` masks into plain weights so the checks read real tensors."""
    for module in prunable_layers(model).values():
        if hasattr(module, "weight_orig"):
            torch.nn.utils.prune.remove(module, "weight")


def _check_layers(model: nn.Module, reference_counts: Mapping[str, int]) -> None:
    """Reject a pruned model whose prunable layers differ in name from the dense model's or grew."""
    counts = dense_counts(model)
    missing = [name for name in reference_counts if name not in counts]
    if missing:
        raise InvalidOutput(f"the pruned model lost prunable layer(s) {', '.join(missing)}")
    added = [name for name in counts if name not in reference_counts]
    if added:
        raise InvalidOutput(f"the pruned model added prunable layer(s) {', '.join(added)}; prune the dense layers in place")
    for name, count in counts.items():
        if count > reference_counts[name]:
            raise InvalidOutput(f"layer {name} grew from {reference_counts[name]} to {count} weights; pruning may only remove weights")


def _check_outputs(model: nn.Module, x: torch.Tensor, n_classes: int) -> None:
    logits = predict_logits(model, x[:8])
    if tuple(logits.shape) != (min(8, x.shape[0]), n_classes):
        raise InvalidOutput(f"the pruned model outputs shape {tuple(logits.shape)}, expected ({min(8, x.shape[0])}, {n_classes})")
    if not torch.isfinite(logits).all():
        raise InvalidOutput("the pruned model outputs NaN or infinite values")


def _check_round_trip(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Save the state_dict, load it into a copy whose weights are all ones, and recount nonzeros."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in restored.parameters():
            parameter.fill_(1.0)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    expected = count_nonzero_weights(model)
    found = count_nonzero_weights(restored)
    for name, count in expected.items():
        if found[name] != count:
            raise InvalidOutput(
                f"sparsity did not survive a state_dict round trip on {name}: "
                f"{count} nonzero weights saved, {found[name]} after loading"
            )
    check_masks_match_zeros(restored, masks, "after a state_dict round trip")


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copy every parameter and buffer by name (not through state_dict, which modules can hook)."""
    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    return {name: tensor.detach().clone() for name, tensor in tensors.items()}


def _restore(model: nn.Module, snapshot: Mapping[str, torch.Tensor]) -> None:
    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    with torch.no_grad():
        for name, tensor in tensors.items():
            tensor.copy_(snapshot[name])


def _calibration(context: CellContext, splits: Splits, settings: CellSettings) -> CalibrationLoader:
    rng = context.rng("calibration")
    size = settings.recipe.batch_size
    n_batches = settings.calibration_batches
    index = rng.choice(splits.x_train.shape[0], size=min(size * n_batches, splits.x_train.shape[0]), replace=False)
    x = torch.from_numpy(splits.x_train[index])
    y = torch.from_numpy(splits.y_train[index])
    return CalibrationLoader([(x[i : i + size], y[i : i + size]) for i in range(0, x.shape[0], size)])


def _unmasked_weights(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([weight.detach()[masks[name]].flatten() for name, weight in prunable_weights(model).items()])


def _finetune_selecting_on_validation(
    model: nn.Module,
    masks: Mapping[str, torch.Tensor],
    handle: FineTuneHandle,
    tensors: Mapping[str, torch.Tensor],
    eval_every: int,
) -> tuple[float, dict[str, Any]]:
    """Spend the handle's remaining steps and leave `model` at its best validation checkpoint.

    The pruned model itself (step 0) is a candidate, and a later checkpoint replaces it only
    with strictly higher validation accuracy. Returns the validation accuracy before
    fine-tuning and the selected checkpoint's `val` and `step`.
    """
    val_accuracy_before = accuracy(model, tensors["x_val"], tensors["y_val"])
    best: dict[str, Any] = {"val": val_accuracy_before, "step": 0, "state": _snapshot(model)}

    def checkpoint(step: int) -> None:
        val = accuracy(model, tensors["x_val"], tensors["y_val"])
        if val > best["val"]:
            best.update(val=val, step=step, state=_snapshot(model))

    handle._run(masks, handle.steps_left, every=eval_every, on_checkpoint=checkpoint)
    _restore(model, best["state"])
    return val_accuracy_before, best


def prune_at(
    context: CellContext,
    pruner: Pruner,
    dense: DenseModel,
    splits: Splits,
    tensors: Mapping[str, torch.Tensor],
    settings: CellSettings,
    sparsity: float,
    reference: Mapping[str, Any],
) -> SparsityOutcome:
    """Run the pruner at one target sparsity, fine-tune and measure; raise InvalidOutput on a broken rule."""
    model = copy.deepcopy(dense.model)
    tag = sparsity_label(sparsity)
    handle = FineTuneHandle(
        model,
        tensors["x_train"],
        tensors["y_train"],
        settings.recipe,
        settings.finetune_steps,
        torch.Generator().manual_seed(context.child_seed(f"finetune-{tag}")),
    )
    request = PruneRequest(
        model=model,
        target_sparsity=float(sparsity),
        calibration=reference["calibration"],
        finetune=handle,
        rng=context.rng(f"pruner-{tag}"),
        generator=torch.Generator().manual_seed(context.child_seed(f"pruner-torch-{tag}")),
        rewind_state={name: tensor.clone() for name, tensor in dense.rewind_state.items()},
        n_classes=splits.n_classes,
    )

    started = time.perf_counter()
    returned = pruner.prune(request)
    prune_seconds = time.perf_counter() - started - handle.seconds
    pruner_steps = handle.steps_used

    _remove_reparametrization(model)
    _check_layers(model, reference["counts"])
    masks = validate_masks(model, returned)
    check_masks_match_zeros(model, masks, f"after pruning to {sparsity:g}")
    _check_outputs(model, tensors["x_val"], splits.n_classes)

    report = measure_sparsity(model, masks, reference["counts"])
    if report.sparsity < sparsity - SPARSITY_TOLERANCE:
        max_kept = math.floor(round((1.0 - sparsity) * report.total, 9))
        raise InvalidOutput(
            f"requested sparsity {sparsity:g}, achieved {report.sparsity:.4f} "
            f"({report.unmasked} of {report.total} weights unmasked); keep at most {max_kept} weights"
        )
    for name in report.collapsed_layers:
        logger.info("pruner %s collapsed layer %s at sparsity %g", pruner.name, name, sparsity)
    for name, units in report.live_bias_units.items():
        logger.info("pruner %s left %d pruned units of %s with a live bias at sparsity %g", pruner.name, units, name, sparsity)

    uses = weight_use_counts(model, tensors["x_val"])
    remaining_flops = count_flops(uses, masks)
    speedup = reference["dense_flops"] / remaining_flops if remaining_flops > 0 else math.inf
    kept = _unmasked_weights(model, masks)
    pqi_05_1 = pq_index(kept, 0.5, 1.0) if kept.numel() else math.nan
    pqi_1_2 = pq_index(kept, 1.0, 2.0) if kept.numel() else math.nan
    accuracy_before = accuracy(model, tensors["x_test"], tensors["y_test"])

    val_accuracy_before, best = _finetune_selecting_on_validation(model, masks, handle, tensors, settings.eval_every)
    check_masks_match_zeros(model, masks, f"after fine-tuning at {sparsity:g}")
    _check_round_trip(model, masks)
    accuracy_after = accuracy(model, tensors["x_test"], tensors["y_test"])

    return SparsityOutcome(
        requested=float(sparsity),
        achieved=report.sparsity,
        accuracy_before=accuracy_before,
        accuracy_after=accuracy_after,
        val_accuracy_before=val_accuracy_before,
        val_accuracy_after=float(best["val"]),
        selected_step=int(best["step"]),
        speedup=speedup,
        pqi_05_1=pqi_05_1,
        pqi_1_2=pqi_1_2,
        layer_density=report.layer_density,
        collapsed_layers=report.collapsed_layers,
        live_bias_units=report.live_bias_units,
        pruner_steps=pruner_steps,
        prune_seconds=prune_seconds,
        finetune_seconds=handle.seconds,
    )


def run_sweep(
    context: CellContext, pruner: Pruner, dense: DenseModel, splits: Splits, settings: CellSettings
) -> tuple[float, list[SparsityOutcome]]:
    """Return the dense test accuracy and the outcome at every target sparsity, in increasing order."""
    tensors = {
        name: torch.from_numpy(getattr(splits, name))
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    }
    dense_uses = weight_use_counts(dense.model, tensors["x_val"])
    reference = {
        "counts": dense_counts(dense.model),
        "dense_flops": count_flops(dense_uses),
        "calibration": _calibration(context, splits, settings),
    }
    dense_accuracy = accuracy(dense.model, tensors["x_test"], tensors["y_test"])
    outcomes = [
        prune_at(context, pruner, dense, splits, tensors, settings, sparsity, reference)
        for sparsity in sorted(settings.sparsities)
    ]
    return dense_accuracy, outcomes


def is_monotone(achieved: Sequence[float]) -> bool:
    """Return whether achieved sparsity never falls as the requested sparsity rises."""
    return all(later >= earlier for earlier, later in zip(achieved, achieved[1:]))


def dense_pqi(model: nn.Module, p: float, q: float) -> float:
    """Return the PQ index of every prunable weight of a dense model, concatenated."""
    weights = torch.cat([weight.detach().flatten() for weight in prunable_weights(model).values()])
    return pq_index(weights, p, q)


def layer_table(outcomes: Sequence[SparsityOutcome]) -> dict[str, Any]:
    """Return per-sparsity layer densities, collapsed layers and live-bias units for the cell's info."""
    return {
        sparsity_label(outcome.requested): {
            "achieved": outcome.achieved,
            "layer_density": outcome.layer_density,
            "collapsed_layers": list(outcome.collapsed_layers),
            "live_bias_units": outcome.live_bias_units,
            "selected_step": outcome.selected_step,
            "val_accuracy_before": outcome.val_accuracy_before,
            "val_accuracy_selected": outcome.val_accuracy_after,
            "pruner_steps": outcome.pruner_steps,
        }
        for outcome in outcomes
    }


def log2_compression(sparsity: float | np.ndarray) -> np.ndarray:
    """Return log2 of the compression ratio 1 / (1 - sparsity)."""
    return -np.log2(1.0 - np.asarray(sparsity, dtype=float))
