"""The sample_complexity suite: certified n*(eps, delta) of learners against the theory's bound.

n*(eps, delta) is the smallest sample (or query, or ensemble) size n with
P[error_n <= eps] >= 1 - delta over data, noise and the learner's seed. Each cell runs a full
n* search (see `protocol`) on one hidden instance and reports n* with its interval, the error
curve, the fitted error exponent and n* divided by the task's bound. A lower n*/bound ranks
higher.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from theorybench.contracts import CellContext, CellOutput, Limits, Suite, Task
from theorybench.datasets.walsh import fast_walsh_hadamard, walsh_rows
from theorybench.suites.sample_complexity.contract import (
    Ensemble,
    EnsembleProblem,
    Learner,
    Problem,
    QueryOracle,
    SampleSet,
)
from theorybench.suites.sample_complexity.lp_solver import lp_cost, solve_lp_regression

__all__ = [
    "Ensemble",
    "EnsembleProblem",
    "Learner",
    "Problem",
    "QueryOracle",
    "SampleComplexitySuite",
    "SampleSet",
    "fast_walsh_hadamard",
    "lp_cost",
    "solve_lp_regression",
    "walsh_rows",
]


class SampleComplexitySuite(Suite):
    """How many samples, queries or ensemble members a learner needs to reach a target."""

    name = "sample_complexity"
    summary = "Certified n*(eps, delta) of learners against the sample-complexity bound the theory proves."
    contract = Learner
    trials_per_tier = {"quick": 1, "standard": 3, "large": 5}
    limits_per_tier = {
        "quick": Limits(timeout_s=120, memory_mb=4096),
        "standard": Limits(timeout_s=1800, memory_mb=8192),
        "large": Limits(timeout_s=7200, memory_mb=16384),
    }
    preload = ("numpy", "scipy.stats", "sklearn.linear_model", "torch")

    def tasks(self) -> list[Task]:
        from theorybench.suites.sample_complexity.tasks import all_tasks

        return all_tasks()

    def run_cell(self, context: CellContext, implementation: Learner) -> CellOutput:
        from theorybench.suites.sample_complexity.base import run_sample_complexity_cell, single_threaded

        task = self.task(context.cell.task)
        # The executor runs one cell per core. A multi-threaded BLAS or torch inside each cell
        # oversubscribes the cores, which slowed this suite's small solves over tenfold (measured).
        with single_threaded():
            return run_sample_complexity_cell(context, task, implementation)

    def problem_costs(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Return the median score metric over the successful trials, as the task's cost; inf without one.

        A censored search (n* above n_max) has no n*/bound, so a cell with only censored trials
        costs inf.
        """
        import math

        import numpy as np

        values = [row["metrics"].get(task.score_metric) for row in results if row["status"] == "ok"]
        values = [float(value) for value in values if value is not None and math.isfinite(float(value))]
        if not values:
            return {"": math.inf}
        return {"": float(task.score_cost(float(np.median(values))))}

    def summarize(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        from theorybench.suites.sample_complexity.base import summarize_trials

        return summarize_trials(task, results)
