"""The pruning tasks: an MLP on scikit-learn's digits and a 1-D CNN on MNIST-1D.

An instance's parameters fix the model spec, the dense training recipe and the fine-tuning
budget. The trial index varies the data split, the dense model's initialization and the
pruner's random streams.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from theorybench.contracts import Metric, Task
from theorybench.datasets.digits import Splits, load_digits_splits
from theorybench.datasets.mnist1d_data import load_mnist1d_splits
from theorybench.suites.pruning.contract import FineTuneRecipe
from theorybench.suites.pruning.dense import DenseRecipe
from theorybench.suites.pruning.harness import CellSettings, sparsity_label

#: The target sparsities every cell sweeps.
SPARSITIES = (0.5, 0.75, 0.9, 0.95, 0.98)

#: Accuracy may fall this far below the dense model's and still count as "within one point".
ONE_POINT = 0.01


def _per_sparsity_metrics() -> tuple[Metric, ...]:
    metrics: list[Metric] = []
    for sparsity in SPARSITIES:
        tag = sparsity_label(sparsity)
        metrics += [
            Metric(f"acc_{tag}", "fraction", "max", "value", f"test accuracy at sparsity {sparsity:g} after fine-tuning (validation-selected checkpoint)"),
            Metric(f"acc_before_{tag}", "fraction", "max", "value", f"test accuracy at sparsity {sparsity:g} before the harness fine-tunes"),
            Metric(f"drop_{tag}", "fraction", "min", "value", f"dense test accuracy minus acc_{tag}"),
            Metric(f"achieved_{tag}", "fraction", "none", "value", f"canonical sparsity achieved when {sparsity:g} is requested"),
            Metric(f"speedup_{tag}", "ratio", "max", "value", f"dense FLOPs over remaining FLOPs of Linear and Conv layers at sparsity {sparsity:g}"),
            Metric(f"pqi_05_1_{tag}", "", "none", "value", f"PQ index (p=0.5, q=1) of the unmasked weights at sparsity {sparsity:g}"),
            Metric(f"pqi_1_2_{tag}", "", "none", "value", f"PQ index (p=1, q=2) of the unmasked weights at sparsity {sparsity:g}"),
        ]
    return tuple(metrics)


COMMON_METRICS = (
    Metric("auc_log2_compression", "fraction", "max", "value",
           "area under test accuracy against log2 compression ratio 1/(1-s), from the dense model to s=0.98, divided by the width (a mean accuracy)"),
    Metric("max_sparsity_within_1pt", "fraction", "max", "value", "largest target sparsity whose accuracy is within one point of dense"),
    Metric("dense_acc", "fraction", "none", "value", "test accuracy of the dense model"),
    Metric("dense_pqi_05_1", "", "none", "value", "PQ index (p=0.5, q=1) of the dense model's prunable weights"),
    Metric("pqi_bound_sparsity", "fraction", "none", "value",
           "1 - r/d with r = ceil(d (1 - PQI)) weights the PQ-index bound keeps at eta = 0 (p=0.5, q=1), on the dense weights"),
    Metric("monotone_sparsity", "flag", "max", "value", "1 when achieved sparsity never falls as the request rises, else 0"),
    Metric("collapsed_layers", "count", "min", "count", "fully pruned layers, summed over the target sparsities"),
    Metric("live_bias_units", "count", "none", "count", "pruned units whose bias is still nonzero, summed over the target sparsities"),
    Metric("prune_time_s", "s", "min", "time", "wall time inside prune(), fine-tuning steps excluded, summed over the sparsities"),
    Metric("finetune_time_s", "s", "min", "time", "wall time of all fine-tuning steps (the pruner's and the harness's), summed over the sparsities"),
)

BOUND = (
    "PQ-index bound (Diao et al., ICLR 2023): keep r = ceil(d (1+eta)^(-q/(q-p)) (1-PQI)^(qp/(q-p))) "
    "of d weights; speedup at sparsity s is 1/(1-s) when every weight does the same work"
)


class PruningTask(Task):
    """A (model, data) pair the pruners compress; subclasses set the data, the model and the tiers.

    Every instance has `epochs` (dense training) and `ft_steps` (the fine-tuning budget per
    target sparsity); the subclasses add the model's size.
    """

    metrics = _per_sparsity_metrics() + COMMON_METRICS
    score_metric = "auc_log2_compression"
    bound = BOUND
    leaderboard_metrics = (
        *(f"acc_{sparsity_label(s)}" for s in SPARSITIES),
        "auc_log2_compression",
        "max_sparsity_within_1pt",
        f"speedup_{sparsity_label(0.9)}",
        f"pqi_05_1_{sparsity_label(0.9)}",
    )
    devices = ("cpu",)
    sparsities: ClassVar[tuple[float, ...]] = SPARSITIES
    dense_lr: ClassVar[float] = 3e-3

    def load_splits(self, params: Mapping[str, Any], seed: int) -> Splits:
        raise NotImplementedError

    def model_spec(self, params: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def dense_recipe(self, params: Mapping[str, Any]) -> DenseRecipe:
        return DenseRecipe(epochs=int(params["epochs"]), lr=self.dense_lr, batch_size=64)

    def settings(self, params: Mapping[str, Any]) -> CellSettings:
        steps = int(params["ft_steps"])
        return CellSettings(
            sparsities=self.sparsities,
            finetune_steps=steps,
            eval_every=max(1, steps // 4),
            calibration_batches=4,
            recipe=FineTuneRecipe(lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=64),
        )


class MlpDigits(PruningTask):
    name = "mlp_digits"
    summary = "ReLU multilayer perceptron on scikit-learn's 8x8 digits (1,797 images, 60/20/20 split)"
    tiers = {
        "quick": [{"hidden": 128, "layers": 2, "epochs": 40, "ft_steps": 200}],
        "standard": [{"hidden": 256, "layers": 2, "epochs": 60, "ft_steps": 800}],
        "large": [{"hidden": 512, "layers": 3, "epochs": 100, "ft_steps": 2000}],
    }

    def model_spec(self, params: Mapping[str, Any]) -> dict[str, Any]:
        hidden = [int(params["hidden"])] * int(params["layers"])
        return {"kind": "mlp", "in_features": 64, "hidden": hidden, "n_classes": 10}

    def load_splits(self, params: Mapping[str, Any], seed: int) -> Splits:
        return load_digits_splits(seed)


class CnnMnist1d(PruningTask):
    name = "cnn_mnist1d"
    summary = (
        "1-D CNN (Conv1d k=5 s=1 p=2, two Conv1d k=3 s=2 p=1, then Linear) on MNIST-1D generated "
        "locally (5,000 sequences of length 40, 60/20/20 split)"
    )
    tiers = {
        "quick": [{"channels": 32, "epochs": 60, "ft_steps": 200}],
        "standard": [{"channels": 64, "epochs": 80, "ft_steps": 800}],
        "large": [{"channels": 128, "epochs": 120, "ft_steps": 2000}],
    }

    def model_spec(self, params: Mapping[str, Any]) -> dict[str, Any]:
        channels = int(params["channels"])
        return {
            "kind": "cnn1d",
            "length": 40,
            "channels": [channels] * 3,
            "kernels": [5, 3, 3],
            "strides": [1, 2, 2],
            "paddings": [2, 1, 1],
            "n_classes": 10,
        }

    def load_splits(self, params: Mapping[str, Any], seed: int) -> Splits:
        return load_mnist1d_splits(seed)


TASKS = (MlpDigits, CnnMnist1d)
