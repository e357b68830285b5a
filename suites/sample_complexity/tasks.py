"""The list of the suite's tasks."""

from __future__ import annotations

from theorybench.suites.sample_complexity.base import SampleComplexityTask


def all_tasks() -> list[SampleComplexityTask]:
    from theorybench.suites.sample_complexity.regression_task import SparseRegressionTask

    return [SparseRegressionTask()]
