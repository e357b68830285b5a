"""The seven baseline pruners: each passes every harness rule on both models, and their own math."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from theorybench.impls.pruning.lottery import ImpRewindPruner
from theorybench.impls.pruning.magnitude import (
    GlobalMagnitudePruner,
    LayerwiseMagnitudePruner,
    RandomPruner,
    masks_from_global_scores,
    masks_from_layer_scores,
)
from theorybench.impls.pruning.sap import SapPqiPruner
from theorybench.impls.pruning.second_order import ObsFisherPruner, obs_update, woodbury_fisher_diagonal
from theorybench.impls.pruning.snip import SnipPruner
from theorybench.testing import run_in_process

BASELINES = [
    RandomPruner,
    LayerwiseMagnitudePruner,
    GlobalMagnitudePruner,
    ImpRewindPruner,
    SapPqiPruner,
    ObsFisherPruner,
    SnipPruner,
]
TAGS = ("s50", "s75", "s90", "s95", "s98")


def test_baseline_names_are_unique():
    names = [pruner.name for pruner in BASELINES]
    assert len(set(names)) == len(names) == 7


@pytest.mark.parametrize("pruner", BASELINES, ids=lambda pruner: pruner.name)
def test_baseline_passes_harness_on_mlp(pruner, small_mlp):
    result = run_in_process("pruning", "mlp_digits", small_mlp, pruner)
    assert result.status == "ok", result.reason
    for tag in TAGS:
        requested = float(tag[1:]) / 100
        assert requested - 2e-3 <= result.metrics[f"achieved_{tag}"] <= requested + 2e-3
    assert result.metrics["monotone_sparsity"] == 1
    assert 0.0 < result.metrics["auc_log2_compression"] <= 1.0


@pytest.mark.parametrize("pruner", [GlobalMagnitudePruner, ImpRewindPruner, SapPqiPruner, ObsFisherPruner])
def test_baseline_passes_harness_on_cnn(pruner, small_cnn):
    result = run_in_process("pruning", "cnn_mnist1d", small_cnn, pruner)
    assert result.status == "ok", result.reason
    assert result.metrics["achieved_s98"] >= 0.98 - 2e-3


def test_magnitude_pruner_beats_random_on_mlp(small_mlp):
    magnitude = run_in_process("pruning", "mlp_digits", small_mlp, GlobalMagnitudePruner)
    random = run_in_process("pruning", "mlp_digits", small_mlp, RandomPruner)
    assert magnitude.metrics["acc_before_s75"] > random.metrics["acc_before_s75"]


def test_score_masks_prune_exact_counts():
    scores = {"a": torch.arange(10.0).reshape(2, 5), "b": torch.arange(10.0, 16.0)}
    global_masks = masks_from_global_scores(scores, 0.5)
    # ceil(0.5 * 16) = 8 lowest scores go, all in a: a keeps 8 and 9, b keeps all six.
    assert int(global_masks["a"].sum()) == 2
    assert int(global_masks["b"].sum()) == 6
    layer_masks = masks_from_layer_scores(scores, 0.5)
    assert int(layer_masks["a"].sum()) == 5
    assert int(layer_masks["b"].sum()) == 3
    # ceil(0.25 * 6) = 2 pruned in b: the two smallest scores.
    assert masks_from_layer_scores(scores, 0.25)["b"].tolist() == [False, False, True, True, True, True]


# --- second-order pruner: Woodbury identities against explicit inverses ---------------------


def _fisher(gradients: np.ndarray, damping: float) -> np.ndarray:
    m, d = gradients.shape
    return damping * np.eye(d) + gradients.T @ gradients / m


def test_woodbury_diagonal_matches_explicit_inverse():
    rng = np.random.default_rng(0)
    gradients = rng.standard_normal((5, 9))
    damping = 0.3
    explicit = np.diag(np.linalg.inv(_fisher(gradients, damping)))
    computed = woodbury_fisher_diagonal(torch.tensor(gradients), damping).numpy()
    np.testing.assert_allclose(computed, explicit, rtol=1e-10)


def test_obs_update_matches_explicit_formula():
    rng = np.random.default_rng(1)
    gradients = rng.standard_normal((6, 10))
    weights = rng.standard_normal(10)
    removed = np.zeros(10, dtype=bool)
    removed[[1, 4, 7]] = True
    damping = 0.2
    inverse = np.linalg.inv(_fisher(gradients, damping))
    q = np.flatnonzero(removed)
    explicit = -inverse[:, q] @ np.linalg.solve(inverse[np.ix_(q, q)], weights[q])
    computed = obs_update(torch.tensor(gradients), damping, torch.tensor(weights), torch.tensor(removed)).numpy()
    np.testing.assert_allclose(computed, explicit, rtol=1e-8, atol=1e-10)
    # The update zeroes the removed weights exactly (up to rounding).
    np.testing.assert_allclose((weights + computed)[removed], 0.0, atol=1e-10)


def test_obs_update_minimizes_quadratic_cost():
    rng = np.random.default_rng(2)
    gradients = rng.standard_normal((4, 7))
    weights = rng.standard_normal(7)
    removed = np.zeros(7, dtype=bool)
    removed[[0, 3]] = True
    fisher = _fisher(gradients, 0.5)
    best = obs_update(torch.tensor(gradients), 0.5, torch.tensor(weights), torch.tensor(removed)).numpy()
    cost = best @ fisher @ best
    for _ in range(20):
        other = best + rng.standard_normal(7) * 0.1
        other[removed] = -weights[removed]
        assert other @ fisher @ other >= cost - 1e-12


# --- SAP: the round rule on a hand-made model -----------------------------------------------


def test_sap_first_round_follows_the_rule():
    from theorybench.suites.pruning import pq_index, sap_keep_count, sap_prune_count

    weights = torch.tensor([1.0, 4.0, 0.5, 0.25, 2.0, 8.0])
    pqi = pq_index(weights, 0.5, 1.0)
    keep = sap_keep_count(6, pqi, 0.5, 1.0, 0.0)
    # By hand: ||w||_0.5 = (1 + 2 + 0.7071 + 0.5 + 1.4142 + 2.8284)^2 = 71.398, ||w||_1 = 15.75,
    # so PQI = 1 - 71.398 / (6 * 15.75) = 0.2445 and r = ceil(6 * 0.7555) = ceil(4.53) = 5.
    assert pqi == pytest.approx(1 - 71.3979 / (6 * 15.75), abs=1e-4)
    assert keep == 5
    assert sap_prune_count(6, keep, 1.0, 0.9) == 1


# --- iterative pruners, driven directly with a hand-built request ---------------------------


def _request(model: nn.Module, sparsity: float, rewind_state: dict, steps: int = 40):
    from theorybench.suites.pruning import CalibrationLoader, FineTuneHandle, FineTuneRecipe, PruneRequest

    x = torch.randn(128, model[0].in_features, generator=torch.Generator().manual_seed(3))
    y = torch.randint(0, 3, (128,), generator=torch.Generator().manual_seed(4))
    handle = FineTuneHandle(model, x, y, FineTuneRecipe(lr=0.05, batch_size=32), steps, torch.Generator().manual_seed(5))
    return PruneRequest(
        model=model,
        target_sparsity=sparsity,
        calibration=CalibrationLoader([(x[:64], y[:64]), (x[64:], y[64:])]),
        finetune=handle,
        rng=np.random.default_rng(6),
        generator=torch.Generator().manual_seed(7),
        rewind_state=rewind_state,
        n_classes=3,
    )


def _tiny_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 3))


def test_sap_rounds_follow_the_rule():
    from theorybench.suites.pruning import pq_index, prunable_weights, sap_keep_count, sap_prune_count

    counts: list[int] = []

    class Recording(SapPqiPruner):
        @staticmethod
        def _prune_smallest(weights, masks, count):
            counts.append(count)
            return SapPqiPruner._prune_smallest(weights, masks, count)

    model = _tiny_model()
    dense = torch.cat([w.detach().flatten() for w in prunable_weights(model).values()])
    d = dense.numel()
    expected_first = sap_prune_count(d, sap_keep_count(d, pq_index(dense, 0.5, 1.0), 0.5, 1.0, 0.0), 1.0, 0.9)
    request = _request(model, 0.9, {k: v.clone() for k, v in model.state_dict().items()})
    masks = Recording().prune(request)
    assert counts[0] == expected_first
    assert sum(counts) == math.ceil(0.9 * d)
    assert sum(int(m.sum()) for m in masks.values()) == d - math.ceil(0.9 * d)
    # Training between rounds spent part of the budget, never more than half of it.
    assert 0 < request.finetune.steps_used <= request.finetune.budget // 2


def test_imp_rewinds_survivors_to_early_weights():
    from theorybench.suites.pruning import prunable_weights

    model = _tiny_model()
    torch.manual_seed(1)
    early = {name: torch.randn_like(tensor) for name, tensor in model.state_dict().items()}
    request = _request(model, 0.75, early)
    masks = ImpRewindPruner().prune(request)
    for name, weight in prunable_weights(model).items():
        torch.testing.assert_close(weight.detach()[masks[name]], early[name][masks[name]])
        assert torch.count_nonzero(weight.detach()[~masks[name]]) == 0
    # Two of the three rounds trained; the last round's share is left for the harness.
    assert request.finetune.steps_used == 2 * (40 // 3)


def test_obs_pruner_zeroes_and_updates_survivors():
    from theorybench.suites.pruning import prunable_weights

    model = _tiny_model()
    before = {name: w.detach().clone() for name, w in prunable_weights(model).items()}
    masks = ObsFisherPruner().prune(_request(model, 0.5, {}))
    changed = 0
    for name, weight in prunable_weights(model).items():
        assert torch.count_nonzero(weight.detach()[~masks[name]]) == 0
        changed += int((weight.detach()[masks[name]] != before[name][masks[name]]).sum())
    assert changed > 0  # the OBS update moved surviving weights
    assert sum(int(m.sum()) for m in masks.values()) == 8 * 12 + 12 * 3 - math.ceil(0.5 * (8 * 12 + 12 * 3))
