"""The optimization suite: convergence of optimizers on counted oracles, against rates from theory.

An optimizer (`Optimizer`) yields iterates. The harness counts every oracle call in units of
full gradients, times only the optimizer's work and records the task's progress measure on each
iterate. One problem of the performance profile is one (instance, target) pair, costed by the
expected runtime (ERT) over trials in oracle calls.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from theorybench import stats
from theorybench.contracts import CellContext, CellOutput, Curve, Limits, Suite, Task
from theorybench.oracles import CallCounter
from theorybench.suites.optimization.contract import ORACLE_WEIGHTS, Optimizer, Problem
from theorybench.suites.optimization.harness import downsample_indices, nan_if_none, rate_window, run_optimizer
from theorybench.suites.optimization.tasks import TASKS, OptimizationTask, lower_bound_iterations, lower_bound_rate

__all__ = ["OptimizationSuite", "Optimizer", "Problem"]

logger = logging.getLogger(__name__)

#: Yields allowed per oracle call of budget before the harness stops an optimizer.
ITERATIONS_PER_CALL = 20


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the block when torch is loaded, then restore it."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class OptimizationSuite(Suite):
    name = "optimization"
    summary = "convergence rates of first-order and coordinate methods, in oracle calls to log-spaced targets"
    contract = Optimizer
    trials_per_tier = {"quick": 2, "standard": 5, "large": 5}
    limits_per_tier = {
        "quick": Limits(timeout_s=60, memory_mb=2048),
        "standard": Limits(timeout_s=900, memory_mb=4096),
        "large": Limits(timeout_s=3600, memory_mb=16384),
    }
    # torch.optim imports torch._dynamo on the first optimizer step (about 3 s on a 2-core
    # EPYC), so a warm worker imports it up front instead of inside the first timed cell.
    preload = ("torch", "torch._dynamo", "torch.optim", "scipy.optimize", "sklearn.linear_model")

    def tasks(self) -> list[Task]:
        return [task_class() for task_class in TASKS]

    def run_cell(self, context: CellContext, implementation: Optimizer) -> CellOutput:
        # One BLAS and one torch thread per cell: two workers on two cores with more threads each
        # oversubscribe the cores, which made a 2000 x 500 matrix-vector product 60x slower.
        with threadpool_limits(limits=1), _torch_threads(1):
            return self._run_cell(context, implementation)

    def _run_cell(self, context: CellContext, implementation: Optimizer) -> CellOutput:
        task = self.task(context.cell.task)
        assert isinstance(task, OptimizationTask)
        params = context.params
        instance = task.build(params, context.child_seed("data"))
        dimension = instance.objective.d
        x0 = context.rng("x0").standard_normal(dimension) / math.sqrt(dimension)
        budget = task.budget(params)
        counter = CallCounter(weights=ORACLE_WEIGHTS, total_budget=budget)
        problem = Problem(instance.objective, instance.kind, instance.strong_convexity, counter, context.child_seed("optimizer"))

        trace = run_optimizer(implementation, problem, instance, counter, x0, max_iterations=int(ITERATIONS_PER_CALL * budget) + 100)
        logger.debug("%s on %s ended after %d iterates: %s", implementation.name, task.name, len(trace) - 1, trace.end_reason)

        kappa = instance.condition_number
        metrics = self._target_metrics(instance, trace)
        metrics.update(self._rate_metrics(trace, context.child_seed("bootstrap")))
        last_target = instance.targets[-1][1]
        metrics.update(
            calls_total=trace.calls[-1],
            iterations_total=trace.iterations[-1],
            time_total_s=trace.times[-1],
            targets_reached=len(trace.first_reached),
            final_measure=trace.measures[-1],
            best_measure=float(np.min(trace.measures)),
            theoretical_rate=nan_if_none(implementation.theoretical_rate(problem)),
            theoretical_order=nan_if_none(implementation.theoretical_order(problem)),
            lower_bound_rate=nan_if_none(lower_bound_rate(kappa)),
            lower_bound_iterations=nan_if_none(lower_bound_iterations(kappa, last_target)),
            kappa=kappa if math.isfinite(kappa) else math.nan,
        )
        if "training_error" in trace.extras:
            metrics["final_training_error"] = trace.extras["training_error"][-1]
            metrics["final_normalized_margin"] = trace.extras["normalized_margin"][-1]
            metrics["max_margin"] = instance.info["max_margin"]
            metrics["perceptron_bound"] = instance.info["perceptron_bound"]

        info = dict(instance.info)
        info.update(end_reason=trace.end_reason, budget=budget, oracle_counts=counter.snapshot(), threads=1)
        return CellOutput(metrics=metrics, curves=self._curves(instance, trace), info=info)

    @staticmethod
    def _target_metrics(instance, trace) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for label, _ in instance.targets:
            index = trace.first_reached.get(label)
            reached = index is not None
            metrics[f"calls_to_{label}"] = trace.calls[index] if reached else math.nan
            metrics[f"iterations_to_{label}"] = trace.iterations[index] if reached else math.nan
            metrics[f"time_to_{label}"] = trace.times[index] if reached else math.nan
            metrics[f"reached_{label}"] = 1 if reached else 0
        return metrics

    @staticmethod
    def _rate_metrics(trace, seed: int) -> dict[str, float]:
        measures = np.asarray(trace.measures)
        window = rate_window(measures)
        iterations = np.asarray(trace.iterations, dtype=float)[window]
        calls = np.asarray(trace.calls, dtype=float)[window]
        rate, low, high = stats.linear_rate(iterations, measures[window], seed=seed)
        rate_per_call = math.nan
        if np.unique(calls).size >= 3:
            rate_per_call = math.exp(np.polyfit(calls, np.log(measures[window]), 1)[0])
        # The sublinear order uses every iterate above the rounding floor, because an O(k^-p)
        # guarantee applies from the first iteration on, unlike a linear rate's asymptotic regime.
        # Log-spaced points weigh every decade of iterations alike in the log-log fit.
        floor = np.flatnonzero(np.isfinite(measures) & (measures > 1e-13))
        floor = floor[downsample_indices(floor.size, max_points=300)]
        order, order_low, order_high = stats.sublinear_order(np.asarray(trace.iterations, dtype=float)[floor], measures[floor], seed=seed)
        return {
            "rate": rate, "rate_low": low, "rate_high": high, "rate_per_call": rate_per_call,
            "order": order, "order_low": order_low, "order_high": order_high,
        }

    @staticmethod
    def _curves(instance, trace) -> list[Curve]:
        keep = downsample_indices(len(trace))
        calls = [trace.calls[i] for i in keep]
        times = [trace.times[i] for i in keep]
        measures = [trace.measures[i] for i in keep]
        name = instance.measure_name
        curves = [
            Curve("measure_vs_calls", "oracle calls", name, calls, measures),
            Curve("measure_vs_time", "optimizer wall time (s)", name, times, measures),
        ]
        for extra, values in trace.extras.items():
            curves.append(Curve(f"{extra}_vs_calls", "oracle calls", extra.replace("_", " "), calls, [values[i] for i in keep]))
        return curves

    # -- scoring ---------------------------------------------------------------------------

    def _trial_costs(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]], label: str):
        """Return (costs, successes) of every trial for one target, failed trials at the full budget."""
        budget = float(params.get("budget", math.inf))
        costs, successes = [], []
        for row in results:
            metrics = row.get("metrics") or {}
            if row["status"] == "ok" and metrics.get(f"reached_{label}") == 1:
                costs.append(float(metrics[f"calls_to_{label}"]))
                successes.append(True)
            else:
                spent = metrics.get("calls_total") if row["status"] == "ok" else None
                costs.append(float(spent) if spent is not None else budget)
                successes.append(False)
        return costs, successes

    def problem_costs(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Return one cost per target: the ERT over trials in oracle calls, inf when no trial reached it."""
        assert isinstance(task, OptimizationTask)
        costs = {}
        for label, _ in task.targets:
            trial_costs, successes = self._trial_costs(task, params, results, label)
            costs[f"target={label}"] = stats.expected_runtime(trial_costs, successes) if trial_costs else math.inf
        return costs

    def summarize(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Return the ERT and success fraction per target, and medians of the rate, its interval and the bounds."""
        assert isinstance(task, OptimizationTask)
        summary: dict[str, Any] = {}
        for label, _ in task.targets:
            trial_costs, successes = self._trial_costs(task, params, results, label)
            summary[f"ert_{label}"] = stats.expected_runtime(trial_costs, successes) if trial_costs else math.inf
            summary[f"success_{label}"] = float(np.mean(successes)) if successes else 0.0
        ok = [row.get("metrics") or {} for row in results if row["status"] == "ok"]
        for name in ("rate", "rate_low", "rate_high", "rate_per_call", "theoretical_rate", "lower_bound_rate",
                     "order", "order_low", "order_high", "theoretical_order",
                     "lower_bound_iterations", "final_measure", "calls_total", "time_total_s", "kappa",
                     "final_training_error", "final_normalized_margin"):
            values = [float(m[name]) for m in ok if m.get(name) is not None and math.isfinite(float(m[name]))]
            if values:
                summary[name] = float(np.median(values))
        return summary
