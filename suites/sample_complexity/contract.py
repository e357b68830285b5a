"""The contract of a sample-complexity learner and the problem objects the harness hands it.

A learner implements `learn(problem)` and returns an estimate; the harness scores it. The
problem is one of three kinds, and the harness owns the count of the resource in each:

- `SampleSet` (passive tasks): up to `budget` samples from the task's distribution. Reading a
  sample index twice is charged once.
- `QueryOracle` (active tasks): query access to a hidden vector (a signal, a label column).
  Each distinct index is charged once; a query past `budget` distinct indices raises
  `BudgetExceeded` and the cell fails with that reason.
- `EnsembleProblem`: a fixed training set; the resource is the number of ensemble members the
  learner returns (an `Ensemble`), at most `budget`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from theorybench.contracts import Implementation
from theorybench.errors import BudgetExceeded
from theorybench.oracles import UniqueCounter


class Problem:
    """One trial at one budget: the public parameters, the budget and the learner's seed.

    `info` contains what the learner may know about the instance (dimensions, sparsity, noise
    level, target error); hidden quantities stay with the harness.
    """

    kind = ""

    def __init__(self, task: str, info: Mapping[str, Any], budget: int, seed: int):
        self.task = task
        self.info = dict(info)
        self.budget = int(budget)
        self.seed = int(seed)

    def rng(self) -> np.random.Generator:
        """Return a generator for the learner's own randomness (same seed, same stream)."""
        return np.random.default_rng(self.seed)


class SampleSet(Problem):
    """Passive access to `budget` samples (x_i, y_i) drawn i.i.d. from the task's distribution."""

    kind = "passive"

    def __init__(self, task: str, info: Mapping[str, Any], features: np.ndarray, targets: np.ndarray, seed: int):
        if len(features) != len(targets):
            raise ValueError(f"{len(features)} feature rows but {len(targets)} targets")
        super().__init__(task, info, len(features), seed)
        self._features = np.asarray(features)
        self._targets = np.asarray(targets)
        self._counter = UniqueCounter(budget=len(features))

    def samples(self, indices: Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return copies of (features, targets) for `indices` (every sample when None)."""
        if indices is None:
            indices = np.arange(self.budget)
        indices = _checked_indices(indices, self.budget)
        self._counter.charge(indices.tolist())
        return self._features[indices].copy(), self._targets[indices].copy()

    @property
    def samples_used(self) -> int:
        """Distinct samples read so far (counted by the harness)."""
        return self._counter.count


class QueryOracle(Problem):
    """Query access to a hidden vector of length `size`; at most `budget` distinct indices.

    A repeated index returns the same value (its noise is drawn once) and costs nothing more.
    `info` may carry public side information, such as the design matrix of an active
    regression task, under task-specific keys.
    """

    kind = "active"

    def __init__(self, task: str, info: Mapping[str, Any], values: np.ndarray, budget: int, seed: int):
        super().__init__(task, info, budget, seed)
        self._values = np.asarray(values)
        self._counter = UniqueCounter(budget=budget)

    @property
    def size(self) -> int:
        return int(self._values.shape[0])

    def query(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the values at `indices`; raise BudgetExceeded past `budget` distinct indices."""
        indices = _checked_indices(indices, self.size)
        try:
            self._counter.charge(indices.tolist())
        except BudgetExceeded as error:
            raise BudgetExceeded(f"query budget of {self.budget} distinct indices exceeded: {error}") from None
        return self._values[indices].copy()

    @property
    def queries_used(self) -> int:
        """Distinct indices queried so far (counted by the harness)."""
        return self._counter.count


@dataclasses.dataclass
class Ensemble:
    """An ensemble of trained members and the rounding of their mean output to bits.

    Each member maps inputs (m, k) to real outputs (m, k). The harness averages the members'
    outputs and calls `rounding(inputs, mean_outputs)`, which returns (m, k) bits in {0, 1}.
    """

    members: Sequence[Callable[[np.ndarray], np.ndarray]]
    rounding: Callable[[np.ndarray, np.ndarray], np.ndarray]


class EnsembleProblem(Problem):
    """A fixed training set (inputs, outputs); the learner returns an `Ensemble` of at most `budget` members."""

    kind = "ensemble"

    def __init__(self, task: str, info: Mapping[str, Any], inputs: np.ndarray, outputs: np.ndarray, budget: int, seed: int):
        super().__init__(task, info, budget, seed)
        self._inputs = np.asarray(inputs)
        self._outputs = np.asarray(outputs)

    def training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """Return copies of the training (inputs, outputs)."""
        return self._inputs.copy(), self._outputs.copy()


class Learner(Implementation):
    """Base of every sample-complexity implementation.

    `learn` receives a `SampleSet`, a `QueryOracle` or an `EnsembleProblem` (see each task's
    summary for the estimate it expects) and returns the estimate. Draw randomness only from
    `problem.rng()` or `problem.seed`, so that a trial is reproducible.
    """

    def learn(self, problem: Problem) -> Any:
        raise NotImplementedError


def _checked_indices(indices: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    array = np.asarray(indices)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D integer array, got dtype {array.dtype} and shape {array.shape}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise IndexError(f"indices must lie in [0, {size}), got values from {array.min()} to {array.max()}")
    return array
