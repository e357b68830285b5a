"""The attention_io suite: I/O complexity and speed of exact softmax attention.

Two measurements. The `io_*` tasks run an implementation's program in the two-level memory model
(fast memory of M words, slow memory of unlimited size) on an executor the harness owns, and
score the words moved against the lower bound of Saha and Ye (ICML 2024). The `runtime_*` tasks
time an implementation's torch function on the CPU or a CUDA GPU and check it against float64.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from theorybench.contracts import CellContext, CellOutput, Limits, Suite, Task
from theorybench.suites.attention_io.contract import AttentionImplementation, AttentionProblem, CapacityTooSmall
from theorybench.suites.attention_io.executor import CapacityExceeded, MemoryModelViolation, NotInFastMemory, TwoLevelMemory
from theorybench.suites.attention_io.reference import io_regime
from theorybench.suites.attention_io.tasks import ALL_TASKS, IOTask, RuntimeTask

__all__ = [
    "AttentionIOSuite",
    "AttentionImplementation",
    "AttentionProblem",
    "CapacityExceeded",
    "CapacityTooSmall",
    "MemoryModelViolation",
    "NotInFastMemory",
    "TwoLevelMemory",
]


class AttentionIOSuite(Suite):
    name = "attention_io"
    summary = "exact attention: words moved in the two-level memory model against the I/O bound, and real CPU/GPU speed"
    contract = AttentionImplementation
    # I/O counts do not depend on the data, and each runtime cell already times many repeats,
    # so extra trials only re-check correctness on other seeds.
    trials_per_tier = {"quick": 1, "standard": 2, "large": 1}
    limits_per_tier = {
        "quick": Limits(timeout_s=120, memory_mb=4096),
        "standard": Limits(timeout_s=1800, memory_mb=16384),
        "large": Limits(timeout_s=7200, memory_mb=65536),
    }
    preload = ("torch", "numpy")

    def tasks(self) -> list[Task]:
        return [task_class() for task_class in ALL_TASKS]

    def smoke_instances(self, task: Task) -> list[dict[str, Any]]:
        """Return one tiny instance per task, with enough fast memory for every baseline program."""
        if isinstance(task, IOTask):
            return [{"N": 64, "d": 16, "M": 4096, "causal": True, "scaled": True}]
        if isinstance(task, RuntimeTask):
            dtype = "float16" if task.name == "runtime_cuda" else "float32"
            return [{"batch": 1, "heads": 2, "N": 64, "d": 16, "dtype": dtype, "causal": True, "threads": 1}]
        return super().smoke_instances(task)

    def run_cell(self, context: CellContext, implementation: AttentionImplementation) -> CellOutput:
        from theorybench.suites.attention_io.io_harness import run_io_cell
        from theorybench.suites.attention_io.runtime_harness import run_runtime_cell, runtime_timer

        task = self.task(context.cell.task)
        if isinstance(task, IOTask):
            return run_io_cell(context, implementation, task.value_mode_max_n)
        if isinstance(task, RuntimeTask):
            return run_runtime_cell(context, implementation, runtime_timer(context.tier))
        raise TypeError(f"task {task.name!r} is neither an I/O task nor a runtime task")

    def summarize(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        summary = super().summarize(task, params, results)
        if isinstance(task, IOTask):
            summary["regime"] = io_regime(int(params["d"]), int(params["M"]))
        failures = [row for row in results if row["status"] != "ok"]
        if failures and not any(row["status"] == "ok" for row in results):
            summary["reason"] = failures[0].get("reason", "")
        return summary


