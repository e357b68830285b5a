"""The optimizer contract and the counted problem an optimizer receives.

An optimizer is a generator: `run(problem, x0)` yields iterates, and the harness evaluates the
task's progress measure on each one without timing or counting it. Every oracle on `Problem`
is charged to a counter the harness keeps in a private attribute; the cost unit is one full
gradient evaluation ("oracle call"). A mini-batch gradient over k of n samples costs k / n, a
block of k of d partial derivatives costs k / d, a prox costs nothing (it is O(d)) but is
recorded. When the budget is spent the next oracle raises `BudgetExceeded`, and the harness
ends the run there.

A minimal optimizer, gradient descent with step 1/L on the tasks without an L1 term:

    from theorybench.suites.optimization import Optimizer

    class MyGradientDescent(Optimizer):
        name = "my-gd"
        reference = "Cauchy (1847)"
        tasks = ("least_squares", "logistic_l2", "separable_logistic")

        def run(self, problem, x0):
            x = x0
            while True:
                x = x - problem.gradient(x) / problem.smoothness
                yield x
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from theorybench.contracts import Implementation
from theorybench.oracles import CallCounter
from theorybench.suites.optimization.objectives import LinearModelObjective

#: Weight of each oracle kind in "oracle calls" (units of one full gradient evaluation).
ORACLE_WEIGHTS = {
    "value": 1.0,
    "gradient": 1.0,
    "value_and_gradient": 1.0,
    "hessian_vector": 1.0,
    "perceptron": 1.0,
    "stochastic_gradient": 1.0,  # charged as a fraction k / n
    "partial_gradient": 1.0,  # charged as a fraction k / d
    "prox": 0.0,
}


class Problem:
    """An optimization problem seen through counted oracles.

    Facts an optimizer may use:
    - `dimension` and `shape` of x, and `n_samples` of the finite sum;
    - `kind`: "quadratic", "logistic", "separable_logistic" or "lasso";
    - `smoothness` (L of the smooth part) and `coordinate_smoothness` ((d,) array of L_j);
    - `strong_convexity` (mu; 0.0 when the problem is not strongly convex);
    - `has_prox`: whether a nonsmooth L1 term is present (only through `prox`);
    - `seed` and `rng` for the optimizer's own random draws. Every random choice must come
      from them, so that a cell is reproducible.
    """

    def __init__(
        self,
        objective: LinearModelObjective,
        kind: str,
        strong_convexity: float,
        counter: CallCounter,
        seed: int,
    ):
        self._objective = objective
        self._counter = counter
        self.kind = kind
        self.dimension = objective.d
        self.shape = (objective.d,)
        self.n_samples = objective.n
        self.smoothness = objective.smoothness
        self.strong_convexity = float(strong_convexity)
        self.coordinate_smoothness = objective.coordinate_smoothness.copy()
        self.has_prox = objective.l1 > 0
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    @property
    def condition_number(self) -> float:
        """L / mu, infinite when the problem is not strongly convex."""
        if self.strong_convexity <= 0:
            return math.inf
        return self.smoothness / self.strong_convexity

    @property
    def oracle_calls(self) -> float:
        """Oracle calls spent so far, in units of full gradients (read-only)."""
        return self._counter.total

    def _point(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        if type(x) is not np.ndarray or x.dtype != np.float64:
            x = np.asarray(x, dtype=np.float64)
        if x.shape != self.shape:
            raise ValueError(f"{name} must have shape {self.shape}, got {x.shape}")
        return x

    # -- full oracles ----------------------------------------------------------------------

    def value(self, x: np.ndarray) -> float:
        """Return f(x), the full objective (L1 term included on lasso). Costs 1."""
        x = self._point(x)
        self._counter.charge("value")
        return self._objective.value(x, self._objective.linear(x))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Return the gradient of the smooth part at x. Costs 1."""
        x = self._point(x)
        self._counter.charge("gradient")
        return self._objective.gradient(x, self._objective.linear(x))

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Return (f(x), gradient of the smooth part) from one pass over the data. Costs 1."""
        x = self._point(x)
        self._counter.charge("value_and_gradient")
        z = self._objective.linear(x)
        return self._objective.value(x, z), self._objective.gradient(x, z)

    def hessian_vector_product(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Return the Hessian of the smooth part at x applied to v. Costs 1.

        On quadratics the Hessian is constant, so this is the counted matrix-vector product
        that conjugate gradient uses.
        """
        x = self._point(x)
        v = self._point(v, "v")
        self._counter.charge("hessian_vector")
        return self._objective.hessian_vector(x, v)

    # -- partial oracles -------------------------------------------------------------------

    def stochastic_gradient(self, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Return the gradient of the mean loss over samples `indices` (plus the ridge term).

        Costs len(indices) / n_samples. Indices may repeat (sampling with replacement).
        """
        x = self._point(x)
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError("indices must be a non-empty 1-D array of integer sample indices")
        if indices.min() < 0 or indices.max() >= self.n_samples:
            raise ValueError(f"sample indices must lie in [0, {self.n_samples}), got {indices.min()}..{indices.max()}")
        self._counter.charge("stochastic_gradient", indices.size / self.n_samples)
        return self._objective.stochastic_gradient(x, indices)

    def partial_gradient(self, x: np.ndarray, coordinates: np.ndarray | int) -> np.ndarray:
        """Return the partial derivatives of the smooth part along `coordinates`.

        Costs len(coordinates) / dimension. Returns an array of len(coordinates).
        """
        x = self._point(x)
        if isinstance(coordinates, (int, np.integer)):
            # Fast path for the single-coordinate steps of coordinate descent.
            if not 0 <= coordinates < self.dimension:
                raise ValueError(f"coordinate {coordinates} is outside [0, {self.dimension})")
            coordinates = np.array([coordinates])
        else:
            coordinates = np.asarray(coordinates)
            if coordinates.ndim != 1 or coordinates.size == 0 or not np.issubdtype(coordinates.dtype, np.integer):
                raise ValueError("coordinates must be an integer or a non-empty 1-D array of integers")
            if coordinates.min() < 0 or coordinates.max() >= self.dimension:
                raise ValueError(f"coordinates must lie in [0, {self.dimension})")
        self._counter.charge("partial_gradient", coordinates.size / self.dimension)
        return self._objective.partial_gradient(x, coordinates)

    def prox(self, x: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """Return the proximal point of the nonsmooth part (identity when there is none).

        `step` is a positive scalar or a (d,) array of per-coordinate steps. Recorded, costs 0.
        """
        x = self._point(x)
        step = np.asarray(step, dtype=np.float64)
        if step.shape not in ((), self.shape) or np.any(step <= 0):
            raise ValueError(f"step must be a positive scalar or a positive array of shape {self.shape}")
        self._counter.charge("prox")
        return self._objective.prox(x, step)

    def perceptron_direction(self, x: np.ndarray) -> np.ndarray:
        """Return the gradient of mean_i max(0, -y_i a_i . x); classification tasks only. Costs 1."""
        if self._objective.loss != "logistic":
            raise NotImplementedError(f"the perceptron loss is defined for classification tasks, not {self.kind!r}")
        x = self._point(x)
        self._counter.charge("perceptron")
        return self._objective.perceptron_direction(x)


class Optimizer(Implementation):
    """Contract of the optimization suite: a generator of iterates.

    Subclasses implement `run`, which receives the counted problem and a starting point (a
    float64 array the optimizer may modify) and yields float64 arrays of the same shape.
    Arrays of another real dtype are converted to float64. Anything else, a wrong shape or a
    non-finite entry makes the cell invalid. The harness stops the generator when the budget is spent or the last target is reached, so
    `run` may loop forever. `theoretical_rate` returns the factor per iteration by which the
    method's theory guarantees the progress measure shrinks on this problem, or None.
    `theoretical_order` returns p of an O(k^-p) guarantee for sublinear methods, or None.
    """

    def run(self, problem: Problem, x0: np.ndarray) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def theoretical_rate(self, problem: Problem) -> float | None:
        return None

    def theoretical_order(self, problem: Problem) -> float | None:
        return None
