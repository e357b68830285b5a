"""Pure statistical functions shared by every suite, the CLI and the app.

Every function here takes arrays and returns numbers or arrays; none reads the store or prints.
The derivations are in docs/statistics.md.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

# ---------------------------------------------------------------------------------------------
# Performance profiles and ratios to the best
# ---------------------------------------------------------------------------------------------

PROFILE_R_MAX = 4.0


def ratios_to_best(costs: np.ndarray) -> np.ndarray:
    """Return r[s, w] = costs[s, w] / min over s of costs[s, w].

    costs: (n_implementations, n_problems), lower is better, `inf` for a failure. A problem that
    every implementation failed gives `inf` for all of them; a zero minimum cost gives a ratio
    of 1 to every implementation with cost zero and `inf` to the others.
    """
    costs = np.asarray(costs, dtype=float)
    best = np.min(costs, axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = costs / best
    ratios = np.where(costs == best, 1.0, ratios)
    ratios = np.where(np.isfinite(best), ratios, np.inf)
    return ratios


def performance_profile(ratios: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Return rho[s, t] = fraction of problems with ratios[s, w] <= taus[t].

    ratios: (n_implementations, n_problems); taus: (n_taus,).
    """
    ratios = np.asarray(ratios, dtype=float)
    taus = np.asarray(taus, dtype=float)
    if ratios.shape[1] == 0:
        return np.zeros((ratios.shape[0], taus.size))
    return (ratios[:, :, None] <= taus[None, None, :]).mean(axis=1)


def profile_score(ratios: np.ndarray, r_max: float = PROFILE_R_MAX) -> np.ndarray:
    """Return the area under each performance profile on [1, r_max], divided by (r_max - 1).

    ratios: (n_implementations, n_problems). rho is a step function, so the area is exact:
    a problem solved with ratio r contributes (r_max - r) / (r_max - 1) when r < r_max.
    Result: (n_implementations,) in [0, 1]; 1 means best on every problem.
    """
    ratios = np.asarray(ratios, dtype=float)
    if ratios.shape[1] == 0:
        return np.zeros(ratios.shape[0])
    contribution = np.clip((r_max - ratios) / (r_max - 1.0), 0.0, 1.0)
    contribution = np.where(np.isfinite(ratios), contribution, 0.0)
    return contribution.mean(axis=1)


def geometric_mean_ratio(ratios: np.ndarray) -> np.ndarray:
    """Return the geometric mean of each implementation's ratios to the best.

    ratios: (n_implementations, n_problems). Any infinite ratio makes the mean infinite.
    """
    ratios = np.asarray(ratios, dtype=float)
    if ratios.shape[1] == 0:
        return np.full(ratios.shape[0], np.nan)
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(ratios), axis=1))


# ---------------------------------------------------------------------------------------------
# Runtime to target and expected runtime (optimization)
# ---------------------------------------------------------------------------------------------


def expected_runtime(costs: Sequence[float], successes: Sequence[bool]) -> float:
    """Return ERT = (sum of costs of all runs) / (number of successful runs); inf without success.

    costs: (n_runs,) the budget each run spent, to its target when it succeeded and in full
    when it did not; successes: (n_runs,).
    """
    costs = np.asarray(costs, dtype=float)
    successes = np.asarray(successes, dtype=bool)
    if costs.shape != successes.shape:
        raise ValueError(f"costs {costs.shape} and successes {successes.shape} differ in shape")
    n_success = int(successes.sum())
    if n_success == 0:
        return math.inf
    return float(costs.sum() / n_success)
