"""The harness loop: drive an optimizer's generator, time it, evaluate each iterate, stop it.

Only the optimizer's own work between two yields is timed (its oracle calls included). The
progress measure and the extra curves are evaluated on every yielded iterate outside the
timed region and outside the counters. The run ends in any of these cases:
- the generator returns;
- an oracle raises BudgetExceeded, which is a normal end because the budget is spent;
- the counter shows the budget spent after a yield;
- the last target is reached;
- `max_iterations` iterates were yielded, which stops an optimizer that yields without
  calling oracles.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Iterator

import numpy as np

from theorybench.errors import BudgetExceeded, InvalidOutput
from theorybench.oracles import CallCounter
from theorybench.suites.optimization.contract import Optimizer, Problem
from theorybench.suites.optimization.tasks import Instance

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Trace:
    """Per-iterate records of one run; index 0 is the starting point."""

    calls: list[float]
    iterations: list[int]
    times: list[float]
    measures: list[float]
    extras: dict[str, list[float]]
    #: target label -> index into the lists of the first iterate that reached it
    first_reached: dict[str, int]
    end_reason: str = ""

    def __len__(self) -> int:
        return len(self.calls)


def check_iterate(x: Any, shape: tuple[int, ...], iteration: int) -> np.ndarray:
    """Return the iterate as float64, or raise InvalidOutput naming the iteration and the value."""
    if not isinstance(x, np.ndarray):
        raise InvalidOutput(
            f"iterate {iteration} is a {type(x).__name__}, expected a numpy float64 array of shape {shape}"
        )
    if x.shape != shape:
        raise InvalidOutput(f"iterate {iteration} has shape {x.shape}, expected {shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InvalidOutput(f"iterate {iteration} has dtype {x.dtype}, expected float64")
    x = x.astype(np.float64, copy=True)
    finite = np.isfinite(x)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise InvalidOutput(f"iterate {iteration} has a non-finite entry: x[{index}] = {x[index]}")
    return x


def run_optimizer(
    optimizer: Optimizer,
    problem: Problem,
    instance: Instance,
    counter: CallCounter,
    x0: np.ndarray,
    max_iterations: int,
) -> Trace:
    """Run `optimizer` on `problem` from `x0` and return the trace; see the module docstring."""
    targets = list(instance.targets)
    trace = Trace(calls=[], iterations=[], times=[], measures=[], extras={name: [] for name in instance.extra_curves}, first_reached={})
    _record(trace, instance, x0, x0, calls=0.0, iteration=0, elapsed=0.0, targets=targets)

    generator: Iterator[np.ndarray] = optimizer.run(problem, x0.copy())
    elapsed = 0.0
    iteration = 0
    try:
        while True:
            start = time.perf_counter()
            try:
                x = next(generator)
            except StopIteration:
                counter.verify_intact()
                trace.end_reason = "optimizer returned"
                break
            except BudgetExceeded:
                counter.verify_intact()
                trace.end_reason = "budget spent"
                break
            finally:
                elapsed += time.perf_counter() - start
            iteration += 1
            counter.verify_intact()
            x = check_iterate(x, problem.shape, iteration)
            _record(trace, instance, x, x0, calls=round(counter.total, 9), iteration=iteration, elapsed=elapsed, targets=targets)
            if len(trace.first_reached) == len(targets):
                trace.end_reason = "last target reached"
                break
            if counter.remaining() <= 0:
                trace.end_reason = "budget spent"
                break
            if iteration >= max_iterations:
                trace.end_reason = f"iteration cap of {max_iterations} reached"
                break
    finally:
        try:
            generator.close()
        except BudgetExceeded:
            pass
    return trace


def _record(trace: Trace, instance: Instance, x: np.ndarray, x0: np.ndarray, calls: float, iteration: int, elapsed: float, targets) -> None:
    measure = float(instance.measure(x, x0))
    index = len(trace.calls)
    trace.calls.append(float(calls))
    trace.iterations.append(iteration)
    trace.times.append(elapsed)
    trace.measures.append(measure)
    for name, function in instance.extra_curves.items():
        trace.extras[name].append(float(function(x)))
    for label, threshold in targets:
        if label not in trace.first_reached and measure <= threshold:
            trace.first_reached[label] = index


def downsample_indices(length: int, max_points: int = 400) -> np.ndarray:
    """Return at most about `max_points` sorted indices, log-spaced so early iterates stay dense."""
    if length <= max_points:
        return np.arange(length)
    spaced = np.unique(np.geomspace(1, length, max_points).astype(int) - 1)
    return np.unique(np.concatenate([[0], spaced, [length - 1]]))


def rate_window(measures: np.ndarray, floor: float = 1e-13, start: float = 1e-1) -> np.ndarray:
    """Return the indices used to fit a linear rate.

    The fit skips the transient above `start` and the rounding floor below `floor`. When fewer
    than 3 points remain, it uses every point above the floor.
    """
    finite = np.isfinite(measures) & (measures > floor)
    window = np.flatnonzero(finite & (measures <= start))
    if window.size < 3:
        window = np.flatnonzero(finite)
    if window.size > 300:
        window = window[np.linspace(0, window.size - 1, 300).astype(int)]
    return window


def nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)
