"""The pruning suite: test accuracy against a canonical, enforced sparsity.

A pruner (`Pruner`) receives a copy of a trained dense model, a target sparsity, calibration
batches and a fine-tuning budget it may spend through the harness, and it returns masks. One
cell is one (task instance, pruner, seed) and sweeps every target sparsity, so each cell yields
an accuracy-against-sparsity curve. One problem of the performance profile is one (instance,
target sparsity) pair, costed by the test error after fine-tuning (median over seeds).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from theorybench import stats
from theorybench.contracts import CellContext, CellOutput, Curve, Limits, Suite, Task
from theorybench.suites.pruning.contract import CalibrationLoader, FineTuneHandle, FineTuneRecipe, Pruner, PruneRequest
from theorybench.suites.pruning.dense import dense_model
from theorybench.suites.pruning.harness import (
    dense_pqi,
    is_monotone,
    layer_table,
    log2_compression,
    run_sweep,
    sparsity_label,
)
from theorybench.suites.pruning.sparsity import (
    pq_index,
    prunable_layers,
    prunable_weights,
    sap_keep_count,
    sap_prune_count,
)
from theorybench.suites.pruning.tasks import ONE_POINT, SPARSITIES, TASKS, PruningTask

__all__ = [
    "CalibrationLoader",
    "FineTuneHandle",
    "FineTuneRecipe",
    "PruneRequest",
    "Pruner",
    "PruningSuite",
    "pq_index",
    "prunable_layers",
    "prunable_weights",
    "sap_keep_count",
    "sap_prune_count",
]

logger = logging.getLogger(__name__)

#: Metrics whose mean over seeds gets a 95% Student-t interval in the leaderboard summary.
INTERVAL_PREFIXES = ("acc_", "drop_", "auc_log2_compression", "max_sparsity_within_1pt")


class PruningSuite(Suite):
    name = "pruning"
    summary = "accuracy against canonical sparsity (masks checked against zeros) on an MLP and a 1-D CNN, before and after a fixed fine-tuning budget"
    contract = Pruner
    trials_per_tier = {"quick": 2, "standard": 3, "large": 3}
    limits_per_tier = {
        "quick": Limits(timeout_s=300, memory_mb=2048),
        "standard": Limits(timeout_s=1800, memory_mb=4096),
        "large": Limits(timeout_s=7200, memory_mb=8192),
    }
    preload = ("torch", "sklearn.datasets", "sklearn.model_selection", "mnist1d.data")

    def tasks(self) -> list[Task]:
        return [task_class() for task_class in TASKS]

    def smoke_instances(self, task: Task) -> list[dict[str, Any]]:
        """Return one small instance per model, so `theorybench validate` trains its dense model in seconds."""
        if task.name == "mlp_digits":
            return [{"hidden": 32, "layers": 2, "epochs": 5, "ft_steps": 10}]
        if task.name == "cnn_mnist1d":
            return [{"channels": 8, "epochs": 5, "ft_steps": 10}]
        return super().smoke_instances(task)

    def run_cell(self, context: CellContext, implementation: Pruner) -> CellOutput:
        task = self.task(context.cell.task)
        assert isinstance(task, PruningTask)
        params = context.params
        threads = torch.get_num_threads()
        # One thread per cell: two workers share two cores, and reductions stay deterministic.
        torch.set_num_threads(1)
        try:
            splits = task.load_splits(params, context.child_seed("split"))
            dense = dense_model(task.model_spec(params), splits, task.dense_recipe(params), context.child_seed("dense"))
            dense_accuracy, outcomes = run_sweep(context, implementation, dense, splits, task.settings(params))
        finally:
            torch.set_num_threads(threads)
        return self._output(dense, dense_accuracy, outcomes)

    def _output(self, dense: Any, dense_accuracy: float, outcomes: Sequence[Any]) -> CellOutput:
        metrics: dict[str, Any] = {"dense_acc": dense_accuracy}
        for outcome in outcomes:
            tag = sparsity_label(outcome.requested)
            metrics[f"acc_{tag}"] = outcome.accuracy_after
            metrics[f"acc_before_{tag}"] = outcome.accuracy_before
            metrics[f"drop_{tag}"] = dense_accuracy - outcome.accuracy_after
            metrics[f"achieved_{tag}"] = outcome.achieved
            metrics[f"speedup_{tag}"] = outcome.speedup
            metrics[f"pqi_05_1_{tag}"] = outcome.pqi_05_1
            metrics[f"pqi_1_2_{tag}"] = outcome.pqi_1_2

        requested = [outcome.requested for outcome in outcomes]
        after = [outcome.accuracy_after for outcome in outcomes]
        x = np.concatenate([[0.0], log2_compression(requested)])
        metrics["auc_log2_compression"] = stats.normalized_trapezoid_area(x, [dense_accuracy, *after])
        metrics["max_sparsity_within_1pt"] = stats.largest_sparsity_within(requested, after, dense_accuracy, ONE_POINT)
        pqi = dense_pqi(dense.model, 0.5, 1.0)
        d = sum(int(weight.numel()) for weight in prunable_weights(dense.model).values())
        metrics["dense_pqi_05_1"] = pqi
        metrics["pqi_bound_sparsity"] = 1.0 - sap_keep_count(d, pqi, 0.5, 1.0, 0.0) / d
        metrics["monotone_sparsity"] = int(is_monotone([outcome.achieved for outcome in outcomes]))
        metrics["collapsed_layers"] = sum(len(outcome.collapsed_layers) for outcome in outcomes)
        metrics["live_bias_units"] = sum(sum(outcome.live_bias_units.values()) for outcome in outcomes)
        metrics["prune_time_s"] = sum(outcome.prune_seconds for outcome in outcomes)
        metrics["finetune_time_s"] = sum(outcome.finetune_seconds for outcome in outcomes)

        curves = [
            Curve("accuracy_after", "requested sparsity", "test accuracy", requested, after),
            Curve("accuracy_before", "requested sparsity", "test accuracy", requested, [o.accuracy_before for o in outcomes]),
            Curve("accuracy_vs_log2_compression", "log2 compression ratio", "test accuracy", list(x), [dense_accuracy, *after]),
            Curve("achieved_sparsity", "requested sparsity", "achieved sparsity", requested, [o.achieved for o in outcomes]),
        ]
        # Whether the dense model came from the cache depends on earlier runs, so it is info, not a metric.
        info = {"sparsities": layer_table(outcomes), "dense_val_accuracy": dense.val_accuracy, "dense_cache_hit": int(dense.cache_hit)}
        return CellOutput(metrics=metrics, curves=curves, info=info)

    def problem_costs(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Return one problem per target sparsity, costed by the median test error after fine-tuning."""
        ok = [row["metrics"] for row in results if row["status"] == "ok"]
        costs: dict[str, float] = {}
        for sparsity in SPARSITIES:
            tag = sparsity_label(sparsity)
            values = [m.get(f"acc_{tag}") for m in ok]
            values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
            costs[f"s={sparsity:g}"] = 1.0 - float(np.median(values)) if values else math.inf
        return costs

    def summarize(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Return the mean over seeds of every numeric metric, with 95% intervals on the accuracies."""
        ok = [row["metrics"] for row in results if row["status"] == "ok"]
        names = sorted({name for metrics in ok for name, value in metrics.items() if _is_number(value)})
        summary: dict[str, Any] = {}
        for name in names:
            values = [float(metrics[name]) for metrics in ok if _is_number(metrics.get(name))]
            mean, low, high = stats.mean_confidence_interval(values)
            summary[name] = mean if values else None
            if name.startswith(INTERVAL_PREFIXES) and values:
                summary[f"{name}_ci_low"] = low
                summary[f"{name}_ci_high"] = high
        if ok:
            summary["monotone_sparsity"] = float(min(float(m.get("monotone_sparsity", 0)) for m in ok))
        summary["seeds"] = len(ok)
        return summary


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
