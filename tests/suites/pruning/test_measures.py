"""Hand-computed values of the PQ index, the SAP rule, FLOP counts and the sparsity checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from theorybench import stats
from theorybench.errors import InvalidOutput
from theorybench.suites.pruning.sparsity import (
    check_masks_match_zeros,
    conv_tap_uses,
    count_flops,
    dense_counts,
    measure_sparsity,
    pq_index,
    sap_keep_count,
    sap_prune_count,
    validate_masks,
    weight_use_counts,
)


# --- PQ index -------------------------------------------------------------------------------


def test_pq_index_two_entries_by_hand():
    # ||w||_0.5 = (1 + 2)^2 = 9, ||w||_1 = 5, d = 2: PQI = 1 - 2^(1 - 2) * 9 / 5 = 0.1.
    assert pq_index(np.array([1.0, -4.0]), 0.5, 1.0) == pytest.approx(0.1)
    # ||w||_1 = 5, ||w||_2 = sqrt(17): PQI = 1 - 2^(-1/2) * 5 / sqrt(17) = 1 - 5 / sqrt(34).
    assert pq_index(np.array([1.0, -4.0]), 1.0, 2.0) == pytest.approx(1 - 5 / math.sqrt(34))


def test_pq_index_extremes():
    assert pq_index(np.full(7, 3.0), 0.5, 1.0) == pytest.approx(0.0, abs=1e-12)
    one_hot = np.array([0.0, 0.0, 2.0, 0.0])
    assert pq_index(one_hot, 0.5, 1.0) == pytest.approx(1 - 4 ** (1 - 2))
    assert pq_index(one_hot, 1.0, 2.0) == pytest.approx(1 - 4 ** (0.5 - 1))


def test_pq_index_scale_invariant_and_torch_input():
    weights = np.array([0.3, -1.2, 5e-3, 2.0])
    assert pq_index(weights * 1e6, 0.5, 1.0) == pytest.approx(pq_index(weights, 0.5, 1.0))
    assert pq_index(torch.tensor(weights), 1.0, 2.0) == pytest.approx(pq_index(weights, 1.0, 2.0))


def test_pq_index_rejects_bad_orders_and_empty():
    with pytest.raises(ValueError, match="0 < p < q"):
        pq_index(np.ones(3), 1.0, 1.0)
    assert math.isnan(pq_index(np.zeros(3), 0.5, 1.0))
    assert math.isnan(pq_index(np.zeros(0), 0.5, 1.0))


# --- SAP rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "pqi", "eta", "expected_r"),
    [
        (10, 0.3, 0.0, 7),  # ceil(10 * 0.7)
        (10, 0.3, 0.1, 6),  # ceil(10 * 1.1^-2 * 0.7) = ceil(5.785...)
        (10, 0.95, 0.0, 1),  # ceil(0.5)
        (1000, 0.0, 0.0, 1000),
        (3, 0.5, 0.0, 2),  # ceil(1.5)
    ],
)
def test_sap_keep_count_by_hand(d, pqi, eta, expected_r):
    assert sap_keep_count(d, pqi, 0.5, 1.0, eta) == expected_r


def test_sap_keep_count_other_orders():
    # p = 1, q = 2: r = ceil(d (1 + eta)^-2 (1 - PQI)^2) = ceil(100 * 0.25) = 25.
    assert sap_keep_count(100, 0.5, 1.0, 2.0, 0.0) == 25


@pytest.mark.parametrize(
    ("d", "r", "gamma", "beta", "expected"),
    [
        (10, 7, 1.0, 0.9, 3),  # floor(10 * 0.3)
        (10, 1, 1.0, 0.9, 9),  # 0.9 is clamped to beta = 0.9
        (10, 1, 1.0, 0.5, 5),  # clamped to beta = 0.5
        (10, 7, 2.0, 0.9, 6),  # gamma doubles the fraction
        (10, 10, 1.0, 0.9, 0),
        (7, 5, 1.0, 0.9, 2),  # floor(7 * 2/7)
        (0, 0, 1.0, 0.9, 0),
    ],
)
def test_sap_prune_count_by_hand(d, r, gamma, beta, expected):
    assert sap_prune_count(d, r, gamma, beta) == expected


# --- FLOPs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "kernel", "stride", "padding", "dilation", "expected"),
    [
        (5, 3, 1, 1, 1, [4, 5, 4]),  # the first and last taps hit padding once each
        (5, 3, 2, 1, 1, [2, 3, 2]),  # outputs 0..2 read 2o-1+k
        (5, 3, 1, 0, 1, [3, 3, 3]),
        (5, 3, 1, 2, 2, [3, 5, 3]),  # dilation 2 with padding 2
        (6, 2, 2, 0, 1, [3, 3]),
    ],
)
def test_conv_tap_uses_by_hand(length, kernel, stride, padding, dilation, expected):
    out = (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    uses = conv_tap_uses(length, out, kernel, stride, padding, dilation, zero_padding=True)
    assert uses.tolist() == expected


def test_linear_flops_by_hand():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    uses = weight_use_counts(model, torch.zeros(1, 3))
    assert count_flops(uses) == 2 * (3 * 4 + 4 * 2)
    masks = {"0.weight": torch.zeros(4, 3, dtype=torch.bool), "2.weight": torch.ones(2, 4, dtype=torch.bool)}
    masks["0.weight"][0, :2] = True
    assert count_flops(uses, masks) == 2 * (2 + 8)


def test_conv1d_flops_by_hand():
    # Conv1d(2 -> 3, k=3, s=2, p=1) on length 5: taps [2, 3, 2] per (out, in) pair.
    model = nn.Sequential(nn.Conv1d(2, 3, 3, stride=2, padding=1))
    uses = weight_use_counts(model, torch.zeros(1, 2, 5))
    assert uses["0.weight"][0, 0].tolist() == [2, 3, 2]
    assert count_flops(uses) == 2 * (3 * 2 * 7)


@pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
def test_conv_same_padding_asymmetric():
    # 'same' with k=4: 3 padding in total, 1 on the left, so taps are [4, 5, 4, 3] on length 5.
    model = nn.Sequential(nn.Conv1d(1, 1, 4, padding="same"))
    uses = weight_use_counts(model, torch.zeros(1, 1, 5))
    assert uses["0.weight"][0, 0].tolist() == [4, 5, 4, 3]


def test_conv2d_flops_by_hand():
    # 3x3 kernel, padding 1, on 4x4: taps per dimension [3, 4, 3], so 10 x 10 = 100 per channel pair.
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
    uses = weight_use_counts(model, torch.zeros(1, 1, 4, 4))
    assert float(uses["0.weight"].sum()) == 2 * 100
    assert uses["0.weight"][0, 0].tolist() == [[9, 12, 9], [12, 16, 12], [9, 12, 9]]


def test_circular_padding_counts_every_tap():
    model = nn.Sequential(nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular"))
    uses = weight_use_counts(model, torch.zeros(1, 1, 5))
    assert uses["0.weight"][0, 0].tolist() == [5, 5, 5]


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "length"),
    [(3, 1, 1, 1, 9), (5, 2, 2, 1, 11), (3, 3, 0, 1, 10), (3, 1, 2, 2, 8), (4, 2, 3, 1, 7), (1, 1, 0, 1, 4)],
)
def test_conv_flops_match_convolution_of_ones(kernel, stride, padding, dilation, length):
    # Convolving an all-ones input with an all-ones kernel counts, at each output, the real taps.
    conv = nn.Conv1d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        real_taps = float(conv(torch.ones(1, 1, length)).sum())
    uses = weight_use_counts(nn.Sequential(conv), torch.ones(1, 1, length))
    assert count_flops(uses) == 2 * real_taps


# --- masks and sparsity ---------------------------------------------------------------------


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.LayerNorm(2))


def test_prunable_set_is_linear_and_conv_weights():
    counts = dense_counts(_model())
    assert counts == {"0.weight": 12, "2.weight": 6}


def test_validate_masks_rejects_bad_masks():
    model = _model()
    good = {"0.weight": torch.ones(3, 4), "2.weight": torch.ones(2, 3, dtype=torch.bool)}
    assert validate_masks(model, good)["0.weight"].dtype == torch.bool
    with pytest.raises(InvalidOutput, match="no mask for prunable weight"):
        validate_masks(model, {"0.weight": torch.ones(3, 4)})
    with pytest.raises(InvalidOutput, match="not prunable weights"):
        validate_masks(model, {**good, "0.bias": torch.ones(3)})
    with pytest.raises(InvalidOutput, match="has shape"):
        validate_masks(model, {**good, "2.weight": torch.ones(3, 2)})
    with pytest.raises(InvalidOutput, match="only 0 and 1"):
        validate_masks(model, {**good, "2.weight": torch.full((2, 3), 0.5)})
    with pytest.raises(InvalidOutput, match="dict of masks"):
        validate_masks(model, [torch.ones(3, 4)])


def test_masks_against_zeros_names_layer_and_counts():
    model = _model()
    masks = {"0.weight": torch.ones(3, 4, dtype=torch.bool), "2.weight": torch.ones(2, 3, dtype=torch.bool)}
    masks["2.weight"][0] = False
    with pytest.raises(InvalidOutput, match=r"2\.weight: the mask keeps 3 of 6 weights but 6 are nonzero"):
        check_masks_match_zeros(model, masks, "after pruning")
    with torch.no_grad():
        model[2].weight[0] = 0.0
    check_masks_match_zeros(model, masks, "after pruning")


def test_sparsity_against_dense_size():
    model = _model()
    reference = dense_counts(model)
    # Shrink the first layer to 2 of its 3 units (and the next layer's inputs) as a structured pruner would.
    with torch.no_grad():
        shrunk_first = nn.Linear(4, 2)
        shrunk_second = nn.Linear(2, 2)
        shrunk_second.bias.copy_(model[2].bias)
    model[0], model[2] = shrunk_first, shrunk_second
    masks = {"0.weight": torch.ones(2, 4, dtype=torch.bool), "2.weight": torch.ones(2, 2, dtype=torch.bool)}
    masks["2.weight"][1] = False  # output unit 1 loses every input but keeps its bias
    report = measure_sparsity(model, masks, reference)
    assert report.total == 18
    assert report.unmasked == 8 + 2
    assert report.sparsity == pytest.approx(1 - 10 / 18)
    assert report.layer_density == {"0.weight": pytest.approx(8 / 12), "2.weight": pytest.approx(2 / 6)}
    assert report.live_bias_units == {"2.weight": 1}
    assert report.collapsed_layers == ()


def test_collapsed_layer_is_reported():
    model = _model()
    masks = {"0.weight": torch.ones(3, 4, dtype=torch.bool), "2.weight": torch.zeros(2, 3, dtype=torch.bool)}
    report = measure_sparsity(model, masks, dense_counts(model))
    assert report.collapsed_layers == ("2.weight",)


# --- statistics -----------------------------------------------------------------------------


def test_normalized_trapezoid_area_by_hand():
    # Trapezoids over [0, 1] and [1, 3]: (1 + 0.5) / 2 + 2 * (0.5 + 0) / 2 = 1.25, width 3.
    assert stats.normalized_trapezoid_area([0, 1, 3], [1.0, 0.5, 0.0]) == pytest.approx(1.25 / 3)
    assert stats.normalized_trapezoid_area([0, 2], [0.7, 0.7]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="increasing"):
        stats.normalized_trapezoid_area([0, 0], [1, 1])


def test_largest_sparsity_within_one_point():
    sparsities = [0.5, 0.75, 0.9, 0.95]
    assert stats.largest_sparsity_within(sparsities, [0.95, 0.93, 0.945, 0.90], 0.95, 0.01) == 0.9
    assert stats.largest_sparsity_within(sparsities, [0.5, 0.5, 0.5, 0.5], 0.95, 0.01) == 0.0


def test_mean_confidence_interval_by_hand():
    mean, low, high = stats.mean_confidence_interval([1.0, 2.0, 3.0])
    # sem = 1 / sqrt(3); t(0.975, 2) = 4.302652729...
    half = 4.302652729749464 / math.sqrt(3)
    assert (mean, low, high) == (pytest.approx(2.0), pytest.approx(2.0 - half), pytest.approx(2.0 + half))
    assert stats.mean_confidence_interval([0.4]) == (0.4, 0.4, 0.4)
    assert all(math.isnan(v) for v in stats.mean_confidence_interval([float("nan")]))
