"""The canonical sparsity of the suite, the checks on masks, and the FLOP and PQ-index measures.

The prunable set is the `weight` tensor of every Linear and Conv layer. Biases and normalization
layers are not prunable. Canonical sparsity is s = 1 - (unmasked weights) / (weights of the
dense model's prunable set), so a pruner that shrinks a layer is still counted against the dense
layer's size.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from theorybench.errors import InvalidOutput

PRUNABLE_TYPES = (nn.Linear, _ConvNd)


def prunable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Return the prunable layers keyed by the name of their weight (`"0.weight"`), in model order."""
    return {
        f"{name}.weight" if name else "weight": module
        for name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES)
    }


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return the weight tensor of every prunable layer, keyed like `prunable_layers`."""
    return {name: module.weight for name, module in prunable_layers(model).items()}


def dense_counts(model: nn.Module) -> dict[str, int]:
    """Return the number of entries of every prunable weight."""
    return {name: int(weight.numel()) for name, weight in prunable_weights(model).items()}


def validate_masks(model: nn.Module, masks: object) -> dict[str, torch.Tensor]:
    """Check a pruner's masks against the model and return them as boolean tensors.

    A mask must exist for every prunable weight and only for those, have the weight's shape,
    and hold only 0 and 1 (or False and True). Raises InvalidOutput naming the first bad mask.
    """
    if not isinstance(masks, Mapping):
        raise InvalidOutput(f"prune() must return a dict of masks, got {type(masks).__name__}")
    weights = prunable_weights(model)
    missing = [name for name in weights if name not in masks]
    if missing:
        raise InvalidOutput(f"no mask for prunable weight(s) {', '.join(missing)}; return one mask per weight")
    unknown = [str(name) for name in masks if name not in weights]
    if unknown:
        raise InvalidOutput(
            f"mask(s) for {', '.join(unknown)}, which are not prunable weights "
            f"(prunable: {', '.join(weights)})"
        )

    checked: dict[str, torch.Tensor] = {}
    for name, weight in weights.items():
        mask = masks[name]
        if not isinstance(mask, torch.Tensor):
            raise InvalidOutput(f"mask of {name} is a {type(mask).__name__}, not a torch.Tensor")
        if tuple(mask.shape) != tuple(weight.shape):
            raise InvalidOutput(f"mask of {name} has shape {tuple(mask.shape)}, the weight has {tuple(weight.shape)}")
        mask = mask.detach().to("cpu")
        if mask.dtype != torch.bool:
            if not torch.all((mask == 0) | (mask == 1)):
                bad = mask[~((mask == 0) | (mask == 1))].flatten()[0].item()
                raise InvalidOutput(f"mask of {name} contains {bad!r}; masks must contain only 0 and 1")
            mask = mask != 0
        checked[name] = mask
    return checked


def check_masks_match_zeros(model: nn.Module, masks: Mapping[str, torch.Tensor], when: str) -> None:
    """Raise InvalidOutput when a weight the mask prunes is not zero in the model.

    The message names the layer, the unmasked count from the mask and the nonzero count of the
    weight. Weights that the mask keeps may be zero; they count as unmasked.
    """
    for name, weight in prunable_weights(model).items():
        values = weight.detach().to("cpu")
        mask = masks[name]
        if not torch.isfinite(values).all():
            raise InvalidOutput(f"{when}: weight {name} contains NaN or infinite values")
        revived = int(torch.count_nonzero(values[~mask]))
        if revived:
            raise InvalidOutput(
                f"{when}: masks and weights disagree on {name}: the mask keeps {int(mask.sum())} of "
                f"{mask.numel()} weights but {int(torch.count_nonzero(values))} are nonzero "
                f"({revived} pruned weights are not zero)"
            )


@dataclasses.dataclass(frozen=True)
class SparsityReport:
    """The figures the harness measures on one pruned model."""

    sparsity: float
    unmasked: int
    total: int
    layer_density: dict[str, float]
    collapsed_layers: tuple[str, ...]
    live_bias_units: dict[str, int]


def measure_sparsity(
    model: nn.Module, masks: Mapping[str, torch.Tensor], reference_counts: Mapping[str, int]
) -> SparsityReport:
    """Measure canonical sparsity, per-layer density (against the dense size) and collapsed layers.

    `live_bias_units` counts, per layer, the output units (rows of a Linear weight, output
    channels of a Conv weight) whose every incoming weight is pruned but whose bias is nonzero:
    such a unit still emits a constant, so it is not removed from the network.
    """
    layers = prunable_layers(model)
    total = int(sum(reference_counts.values()))
    unmasked = 0
    layer_density: dict[str, float] = {}
    collapsed: list[str] = []
    live_bias: dict[str, int] = {}
    for name, module in layers.items():
        kept = int(masks[name].sum())
        unmasked += kept
        layer_density[name] = kept / reference_counts[name]
        if kept == 0:
            collapsed.append(name)
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.Tensor):
            dead_rows = ~masks[name].reshape(masks[name].shape[0], -1).any(dim=1)
            live = int((dead_rows & (bias.detach().to("cpu") != 0)).sum())
            if live:
                live_bias[name] = live
    return SparsityReport(
        sparsity=1.0 - unmasked / total,
        unmasked=unmasked,
        total=total,
        layer_density=layer_density,
        collapsed_layers=tuple(collapsed),
        live_bias_units=live_bias,
    )


def count_nonzero_weights(model: nn.Module) -> dict[str, int]:
    """Return the number of nonzero entries of every prunable weight."""
    return {name: int(torch.count_nonzero(weight.detach())) for name, weight in prunable_weights(model).items()}


# ---------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------


def _conv_padding(module: _ConvNd) -> tuple[int, ...]:
    """Return the left padding of each spatial dimension, resolving the 'valid' and 'same' strings."""
    if isinstance(module.padding, str):
        if module.padding == "valid":
            return tuple(0 for _ in module.kernel_size)
        # PyTorch pads 'same' with dilation * (kernel - 1) in total, the smaller half on the left.
        return tuple(d * (k - 1) // 2 for d, k in zip(module.dilation, module.kernel_size))
    return tuple(int(p) for p in module.padding)


def conv_tap_uses(
    input_length: int, output_length: int, kernel: int, stride: int, padding: int, dilation: int, zero_padding: bool
) -> np.ndarray:
    """Return, for each kernel tap k, the number of output positions whose input index is real.

    Output position o reads input index o * stride - padding + k * dilation; with zero padding,
    a tap that lands in the padding multiplies a zero and is not counted. Shape (kernel,).
    """
    positions = np.arange(output_length)[:, None] * stride - padding + np.arange(kernel)[None, :] * dilation
    if not zero_padding:
        return np.full(kernel, output_length, dtype=np.int64)
    return ((positions >= 0) & (positions < input_length)).sum(axis=0).astype(np.int64)


def weight_use_counts(model: nn.Module, example_input: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return, per prunable weight, how many multiply-accumulates each entry does for one sample.

    Runs one forward pass on `example_input` (one sample, with its batch dimension) to record
    the input and output shapes of every layer. A Linear weight entry is used once per position
    of any extra leading dimensions; a Conv weight entry once per output position whose input
    index is real (taps on zero padding are not counted). Each tensor has the weight's shape.
    """
    layers = prunable_layers(model)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    handles = []
    for name, module in layers.items():

        def record(module: nn.Module, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
            shapes[name] = (tuple(inputs[0].shape), tuple(output.shape))

        handles.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model.eval()
            model(example_input[:1])
    finally:
        for handle in handles:
            handle.remove()

    uses: dict[str, torch.Tensor] = {}
    for name, module in layers.items():
        if name not in shapes:
            raise InvalidOutput(f"layer {name} is not used in the forward pass, so its FLOPs are undefined")
        input_shape, output_shape = shapes[name]
        weight_shape = tuple(module.weight.shape)
        if isinstance(module, nn.Linear):
            repeats = math.prod(input_shape[1:-1]) if len(input_shape) > 2 else 1
            uses[name] = torch.full(weight_shape, float(repeats), dtype=torch.float64)
            continue
        padding = _conv_padding(module)
        zero_padding = module.padding_mode == "zeros"
        per_dim = [
            conv_tap_uses(
                input_shape[2 + dim],
                output_shape[2 + dim],
                module.kernel_size[dim],
                module.stride[dim],
                padding[dim],
                module.dilation[dim],
                zero_padding,
            )
            for dim in range(len(module.kernel_size))
        ]
        taps = per_dim[0].astype(np.float64)
        for counts in per_dim[1:]:
            taps = np.multiply.outer(taps, counts)
        uses[name] = torch.from_numpy(np.broadcast_to(taps, weight_shape).copy())
    return uses


def count_flops(uses: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor] | None = None) -> float:
    """Return 2 x the multiply-accumulates of the prunable layers for one sample (biases excluded).

    `uses` comes from `weight_use_counts`; with `masks`, pruned entries do no work.
    """
    total = 0.0
    for name, use in uses.items():
        if masks is None:
            total += float(use.sum())
        else:
            total += float(use[masks[name]].sum())
    return 2.0 * total


# ---------------------------------------------------------------------------------------------
# PQ index
# ---------------------------------------------------------------------------------------------


def pq_index(weights: np.ndarray | torch.Tensor, p: float, q: float) -> float:
    """Return the PQ index PQI = 1 - d^(1/q - 1/p) * ||w||_p / ||w||_q of a weight vector.

    0 < p < q; d is the number of entries. PQI lies in [0, 1 - d^(1/q - 1/p)]; it is 0 when every
    |w_i| is equal and grows as the mass concentrates on fewer entries (a sparser vector).
    An empty or all-zero vector returns NaN.
    """
    if not 0 < p < q:
        raise ValueError(f"the PQ index needs 0 < p < q, got p={p}, q={q}")
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().to("cpu", torch.float64).numpy()
    magnitudes = np.abs(np.asarray(weights, dtype=np.float64).ravel())
    d = magnitudes.size
    if d == 0:
        return math.nan
    scale = magnitudes.max()
    if scale == 0:
        return math.nan
    # Both norms are homogeneous of degree 1, so dividing by the max changes nothing but overflow.
    magnitudes = magnitudes / scale
    norm_p = np.sum(magnitudes**p) ** (1.0 / p)
    norm_q = np.sum(magnitudes**q) ** (1.0 / q)
    return float(1.0 - d ** (1.0 / q - 1.0 / p) * norm_p / norm_q)


def sap_keep_count(d: int, pqi: float, p: float, q: float, eta: float) -> int:
    """Return r = ceil(d (1 + eta)^(-q/(q-p)) (1 - PQI)^(qp/(q-p))), the weights to keep of d.

    This is the retained count of sparsity-informed adaptive pruning (Diao et al., "Pruning Deep
    Neural Networks from a Sparsity Perspective", ICLR 2023, arXiv:2302.05601), clipped to [0, d].
    """
    exponent_eta = -q / (q - p)
    exponent_pqi = q * p / (q - p)
    value = d * (1.0 + eta) ** exponent_eta * (1.0 - pqi) ** exponent_pqi
    # Round away the float error of an exact integer before the ceiling (d * 0.9 = 1.8000000000000003).
    return int(min(d, max(0, math.ceil(round(value, 9)))))


def sap_prune_count(d: int, r: int, gamma: float, beta: float) -> int:
    """Return floor(d * clamp(gamma * (1 - r / d), 0, beta)), the weights SAP prunes this round."""
    if d == 0:
        return 0
    fraction = min(max(gamma * (1.0 - r / d), 0.0), beta)
    return int(math.floor(round(d * fraction, 9)))
