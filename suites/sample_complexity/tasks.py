"""The list of the suite's tasks."""

from __future__ import annotations

from theorybench.suites.sample_complexity.base import SampleComplexityTask


def all_tasks() -> list[SampleComplexityTask]:
    from theorybench.suites.sample_complexity.hierarchical_task import HierarchicalPolynomialTask
    from theorybench.suites.sample_complexity.lp_task import LpRegressionTask
    from theorybench.suites.sample_complexity.permutation_task import PermutationTask
    from theorybench.suites.sample_complexity.regression_task import SparseRegressionTask
    from theorybench.suites.sample_complexity.walsh_task import SparseWalshTask

    return [SparseWalshTask(), SparseRegressionTask(), LpRegressionTask(), HierarchicalPolynomialTask(), PermutationTask()]
