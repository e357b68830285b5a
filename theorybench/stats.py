"""Pure statistical functions shared by every suite, the CLI and the app.

Every function here takes arrays and returns numbers or arrays; none reads the store or prints.
The derivations are in docs/statistics.md.
"""

from __future__ import annotations

import math
import warnings
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
    every implementation failed gives `inf` for all of them. A zero minimum cost gives a ratio
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


# ---------------------------------------------------------------------------------------------
# Sample complexity: Clopper-Pearson certification and power-law exponent fits
# ---------------------------------------------------------------------------------------------


def clopper_pearson_bounds(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Return the one-sided Clopper-Pearson (lower, upper) bounds on a success probability.

    Each bound holds on its own at level `confidence`: P[p >= lower] >= confidence and
    P[p <= upper] >= confidence. The bounds are beta quantiles (scipy.stats.beta.ppf), so
    lower = 0 when successes = 0 and upper = 1 when successes = trials.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"invalid counts: {successes} successes in {trials} trials")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if trials == 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    lower = 0.0 if successes == 0 else float(scipy_stats.beta.ppf(alpha, successes, trials - successes + 1))
    upper = 1.0 if successes == trials else float(scipy_stats.beta.ppf(confidence, successes + 1, trials - successes))
    return lower, upper


def classify_probe(successes: int, trials: int, delta: float, confidence: float) -> str:
    """Return "pass", "fail" or "undecided" for a probe with `successes` out of `trials`.

    Pass: the lower Clopper-Pearson bound on the success probability is at least 1 - delta.
    Fail: the upper bound is below 1 - delta. Undecided: neither.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in (0, 1), got {delta}")
    lower, upper = clopper_pearson_bounds(successes, trials, confidence)
    target = 1.0 - delta
    if lower >= target:
        return "pass"
    if upper < target:
        return "fail"
    return "undecided"


def min_trials_to_certify(delta: float, confidence: float) -> int:
    """Return the fewest trials whose all-success outcome certifies success probability 1 - delta.

    With k = T successes the lower bound is (1 - confidence)^(1 / T), so T is the smallest
    integer with that at least 1 - delta (29 for delta = 0.1 at confidence 0.95).
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in (0, 1), got {delta}")
    trials = math.ceil(math.log(1.0 - confidence) / math.log(1.0 - delta))
    # Guard against rounding at the boundary: step until the bound really certifies.
    while clopper_pearson_bounds(trials, trials, confidence)[0] < 1.0 - delta:
        trials += 1
    while trials > 1 and clopper_pearson_bounds(trials - 1, trials - 1, confidence)[0] >= 1.0 - delta:
        trials -= 1
    return trials


def min_successes_to_certify(trials: int, delta: float, confidence: float) -> int | None:
    """Return the smallest k whose k out of `trials` successes pass, or None when none does."""
    for successes in range(trials + 1):
        if clopper_pearson_bounds(successes, trials, confidence)[0] >= 1.0 - delta:
            return successes
    return None


def fit_power_law(n: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Fit values ~ C * n^slope by weighted least squares on (log n, log values).

    n, values, weights: (m,), m >= 2 distinct n, values > 0. Returns (slope, log C).
    """
    n = np.asarray(n, dtype=float)
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(n) if weights is None else np.asarray(weights, dtype=float)
    if not (n.shape == values.shape == weights.shape) or n.ndim != 1:
        raise ValueError(f"n {n.shape}, values {values.shape} and weights {weights.shape} must be equal 1-D shapes")
    if np.unique(n).size < 2:
        raise ValueError("a power-law fit needs at least two distinct n")
    if np.any(values <= 0) or np.any(n <= 0):
        raise ValueError("a power-law fit needs positive n and positive values")
    # np.polyfit weights multiply residuals, so sqrt(weights) gives weighted least squares.
    slope, intercept = np.polyfit(np.log(n), np.log(values), 1, w=np.sqrt(weights))
    return float(slope), float(intercept)


def power_law_exponent_interval(
    n: Sequence[float],
    samples: Sequence[np.ndarray],
    floor: float = 0.0,
    confidence: float = 0.9,
    n_resamples: int = 999,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Return the exponent of mean excess error against n with a bootstrap interval.

    n: (m,) distinct sizes; samples[i]: (T_i,) errors of the trials at n[i]. The excess error
    at n[i] is mean(samples[i]) - floor; the fit is weighted least squares with weights T_i.
    The bootstrap (scipy.stats.bootstrap, percentile method) resamples the trials within each
    n independently; in a resample, a size whose mean excess error is not positive drops out of
    the fit. Returns (exponent, low, high); the ends are NaN when some resample keeps fewer than
    two sizes, or when a size has fewer than two trials.
    """
    n_array = np.asarray(n, dtype=float)
    data = tuple(np.asarray(sample, dtype=float) for sample in samples)
    if len(data) != n_array.size:
        raise ValueError(f"{n_array.size} sizes but {len(data)} samples")
    weights = np.array([sample.size for sample in data], dtype=float)
    means = np.array([sample.mean() for sample in data]) - floor
    exponent, _ = fit_power_law(n_array, means, weights)

    def statistic(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        excess = np.stack([np.mean(sample, axis=axis) for sample in resampled], axis=-1) - floor
        # A size whose resampled mean excess error is not positive has no log: it gets weight 0
        # in that resample, and a resample with fewer than two positive sizes becomes NaN.
        positive = excess > 0
        logs = np.log(np.where(positive, excess, 1.0))
        x = np.log(n_array)
        w = np.where(positive, weights, 0.0)
        total = np.sum(w, axis=-1, keepdims=True)
        w = w / np.where(total > 0, total, 1.0)
        x_mean = np.sum(w * x, axis=-1, keepdims=True)
        y_mean = np.sum(w * logs, axis=-1, keepdims=True)
        spread = np.sum(w * (x - x_mean) ** 2, axis=-1)
        covariance = np.sum(w * (x - x_mean) * (logs - y_mean), axis=-1)
        enough = np.sum(positive, axis=-1) >= 2
        return np.where(enough, covariance / np.where(spread > 0, spread, 1.0), np.nan)

    if any(sample.size < 2 for sample in data):
        return exponent, math.nan, math.nan
    with warnings.catch_warnings():
        # scipy warns about NaN resamples; the NaN ends returned below carry that information.
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)
        result = scipy_stats.bootstrap(
            data,
            statistic,
            vectorized=True,
            paired=False,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return exponent, low, high


def log_log_slope_range(
    x: Sequence[float], values: Sequence[float], lows: Sequence[float], highs: Sequence[float]
) -> tuple[float, float, float]:
    """Return the least-squares slope of log values against log x, and its range over intervals.

    x, values, lows, highs: (m,), m >= 2, with lows <= values <= highs. The range is the smallest
    and largest slope over every choice of an interval end per point (2^m fits). A least-squares
    slope is linear in the log values, so its extremes over the box of intervals sit at corners:
    the range contains the slope of every choice of points inside the intervals.
    """
    x = np.log(np.asarray(x, dtype=float))
    values = np.log(np.asarray(values, dtype=float))
    lows = np.log(np.asarray(lows, dtype=float))
    highs = np.log(np.asarray(highs, dtype=float))
    if x.size < 2 or not (x.shape == values.shape == lows.shape == highs.shape):
        raise ValueError("a slope needs at least two points with matching values, low and high ends")
    slope = float(np.polyfit(x, values, 1)[0])
    corners = np.array(np.meshgrid(*[[0, 1]] * x.size, indexing="ij")).reshape(x.size, -1).T
    slopes = [float(np.polyfit(x, np.where(choice == 1, highs, lows), 1)[0]) for choice in corners]
    return slope, min(slopes), max(slopes)



# ---------------------------------------------------------------------------------------------
# Regressions over commits: timing comparisons, false discovery control, change points
# ---------------------------------------------------------------------------------------------

#: A timing change is significant when its Benjamini-Hochberg adjusted p-value is below this.
TIMING_ALPHA = 0.002
#: A timing change must also move the median by at least this factor.
TIMING_FACTOR = 1.1


#: Largest sample size for which `mann_whitney_p` uses the exact distribution.
EXACT_MANN_WHITNEY_MAX = 50


def mann_whitney_p(before: Sequence[float], after: Sequence[float]) -> float:
    """Return the two-sided Mann-Whitney U p-value that `before` and `after` share a distribution.

    before: (n,), after: (m,), non-finite values dropped. Returns 1.0 when either side has fewer
    than two values or every value is identical (the test has no information then).
    """
    x = np.asarray(before, dtype=float)
    y = np.asarray(after, dtype=float)
    x = x[np.isfinite(x)]
    y = y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return 1.0
    if np.all(x == x[0]) and np.all(y == x[0]):
        return 1.0
    # The exact null distribution is cheap for small untied samples, where the normal
    # approximation overstates the smallest p-values by an order of magnitude (n = m = 10).
    ties = np.unique(np.concatenate([x, y])).size < x.size + y.size
    method = "exact" if not ties and max(x.size, y.size) <= EXACT_MANN_WHITNEY_MAX else "asymptotic"
    return float(scipy_stats.mannwhitneyu(x, y, alternative="two-sided", method=method).pvalue)


def median_ratio(before: Sequence[float], after: Sequence[float]) -> float:
    """Return median(after) / median(before) over finite values; nan when a side is empty.

    Infinite when the median before is zero and the median after is positive.
    """
    x = np.asarray(before, dtype=float)
    y = np.asarray(after, dtype=float)
    x = x[np.isfinite(x)]
    y = y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return math.nan
    low, high = float(np.median(x)), float(np.median(y))
    if low == 0.0:
        return 1.0 if high == 0.0 else math.inf
    return high / low


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Return Benjamini-Hochberg adjusted p-values (scipy.stats.false_discovery_control).

    p_values: (n,) in [0, 1]; result: (n,). An empty input gives an empty array.
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    return np.asarray(scipy_stats.false_discovery_control(p, method="bh"), dtype=float)


def timing_changes(
    pairs: Sequence[tuple[Sequence[float], Sequence[float]]],
    factor: float = TIMING_FACTOR,
    alpha: float = TIMING_ALPHA,
) -> list[dict[str, float | str]]:
    """Classify each (before, after) sample pair as "slower", "faster" or "unchanged".

    pairs: n pairs of 1-D samples where lower is better (times, memory). A pair is "slower" when
    its Benjamini-Hochberg adjusted Mann-Whitney p-value (adjusted over all n pairs) is below
    `alpha` and median(after) / median(before) >= `factor`; "faster" when the adjusted p-value is
    below `alpha` and the ratio is at most 1 / `factor`. Returns one dict per pair with keys
    `p`, `p_adjusted`, `ratio` and `change`.
    """
    if factor < 1.0:
        raise ValueError(f"factor must be at least 1, got {factor}")
    raw = [mann_whitney_p(before, after) for before, after in pairs]
    adjusted = benjamini_hochberg(raw)
    changes = []
    for (before, after), p, p_adjusted in zip(pairs, raw, adjusted):
        ratio = median_ratio(before, after)
        change = "unchanged"
        if p_adjusted < alpha and ratio >= factor:
            change = "slower"
        elif p_adjusted < alpha and ratio <= 1.0 / factor:
            change = "faster"
        changes.append({"p": p, "p_adjusted": float(p_adjusted), "ratio": ratio, "change": change})
    return changes


#: Multiplier of sigma^2 ln(n) in the default change-point penalty.
CHANGE_POINT_PENALTY = 4.0


def noise_scale(values: Sequence[float]) -> float:
    """Return a robust noise estimate of a series: median |first difference| / (0.6745 sqrt(2)).

    values: (n,). A difference of two independent N(mu, sigma^2) values has median absolute
    value 0.6745 sqrt(2) sigma. The differences cancel a piecewise-constant mean except at its
    steps, so a few steps barely move the median. Returns 0.0 for fewer than 3 values.
    """
    y = np.asarray(values, dtype=float)
    if y.size < 3:
        return 0.0
    return float(np.median(np.abs(np.diff(y)))) / (0.6745 * math.sqrt(2.0))


def change_points(values: Sequence[float], penalty: float | None = None, min_size: int = 2) -> list[int]:
    """Return the indices where the mean of a series shifts (PELT with an L2 cost, ruptures).

    values: (n,) in order (one value per commit). An index i means the new level starts at
    values[i]. The default penalty is 4 sigma^2 ln(n) with sigma from `noise_scale`: twice the
    BIC-style 2 sigma^2 ln(n), which found a false change point in 20% of 300 simulated series
    of 40 Gaussian values, against 2.7% with 4 (a 6-sigma step was then found exactly in 99%).
    A noiseless series (sigma = 0, exact counts) returns every index whose value differs from
    its predecessor. Non-finite values are not allowed.
    """
    import ruptures

    y = np.asarray(values, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("values must be finite; drop missing commits before detecting change points")
    if y.size < 2:
        return []
    sigma = noise_scale(y)
    if penalty is None and sigma == 0.0:
        return [int(i) for i in np.flatnonzero(np.diff(y) != 0) + 1]
    if penalty is None:
        penalty = CHANGE_POINT_PENALTY * sigma**2 * math.log(y.size)
    if y.size < 2 * min_size:
        return []
    breakpoints = ruptures.Pelt(model="l2", min_size=min_size, jump=1).fit(y.reshape(-1, 1)).predict(pen=penalty)
    return [int(index) for index in breakpoints if index < y.size]


# ---------------------------------------------------------------------------------------------
# Pruning: intervals over seeds, area under accuracy against compression, sparsity within a drop
# ---------------------------------------------------------------------------------------------


def mean_confidence_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Return (mean, low, high): the mean and its Student-t interval at `confidence`.

    values: (n,) one figure per seed; non-finite entries are dropped. With one finite value the
    interval is (mean, mean); with none, all three are NaN.
    """
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(array.mean())
    if array.size == 1:
        return mean, mean, mean
    sem = float(scipy_stats.sem(array))
    if sem == 0.0:
        return mean, mean, mean
    low, high = scipy_stats.t.interval(confidence, df=array.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def normalized_trapezoid_area(x: Sequence[float], y: Sequence[float]) -> float:
    """Return the trapezoid area under y(x) divided by the width of x, so a constant y gives y.

    x: (n,) increasing abscissas (n >= 2); y: (n,). Used for accuracy against log2 compression
    ratio, where the result reads as a mean accuracy over the compression range.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x {x.shape} and y {y.shape} must be equal shapes of at least 2 points")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def largest_sparsity_within(
    sparsities: Sequence[float], accuracies: Sequence[float], dense_accuracy: float, max_drop: float
) -> float:
    """Return the largest sparsity whose accuracy is at least dense_accuracy - max_drop, else 0.

    sparsities: (n,); accuracies: (n,). Each sparsity is judged on its own, so a noisy dip at a
    lower sparsity does not hide a higher one that stays within the drop.
    """
    sparsities = np.asarray(sparsities, dtype=float)
    accuracies = np.asarray(accuracies, dtype=float)
    within = np.isfinite(accuracies) & (accuracies >= dense_accuracy - max_drop - 1e-12)
    return float(sparsities[within].max()) if within.any() else 0.0


# ---------------------------------------------------------------------------------------------
# Convergence rates (optimization)
# ---------------------------------------------------------------------------------------------


def _slopes(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Least-squares slopes of y on x along `axis` (both of the same shape)."""
    x_centered = x - x.mean(axis=axis, keepdims=True)
    y_centered = y - y.mean(axis=axis, keepdims=True)
    variance = (x_centered * x_centered).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x_centered * y_centered).sum(axis=axis) / variance


def _slope_interval(x: np.ndarray, y: np.ndarray, confidence_level: float, n_resamples: int, seed: int) -> tuple[float, float, float]:
    """Return the least-squares slope of y on x and its percentile bootstrap interval over resampled pairs.

    An interval end that the bootstrap leaves undefined (NaN) is replaced by the slope itself.
    """
    slope = float(_slopes(x, y))
    result = scipy_stats.bootstrap(
        (x, y),
        lambda x, y, axis=-1: _slopes(x, y, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return slope, float(np.nan_to_num(low, nan=slope)), float(np.nan_to_num(high, nan=slope))


def linear_rate(
    steps: Sequence[float],
    measures: Sequence[float],
    confidence_level: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Return (rate, low, high): the per-step factor of a linearly converging sequence.

    steps: (n,) iteration numbers or oracle calls; measures: (n,) positive progress measures.
    The rate is exp(slope) of the least-squares line of ln(measure) against steps, so a
    measure that shrinks as C * rate^k gives back `rate`. [low, high] is a percentile
    bootstrap interval (scipy.stats.bootstrap, pairs resampled) at `confidence_level`.
    Returns NaNs when fewer than 3 distinct steps carry a positive finite measure.
    """
    steps = np.asarray(steps, dtype=float)
    measures = np.asarray(measures, dtype=float)
    if steps.shape != measures.shape:
        raise ValueError(f"steps {steps.shape} and measures {measures.shape} differ in shape")
    keep = np.isfinite(steps) & np.isfinite(measures) & (measures > 0)
    steps, logs = steps[keep], np.log(measures[keep])
    if np.unique(steps).size < 3:
        return math.nan, math.nan, math.nan
    slope, low, high = _slope_interval(steps, logs, confidence_level, n_resamples, seed)
    return math.exp(slope), math.exp(low), math.exp(high)


def sublinear_order(
    steps: Sequence[float],
    measures: Sequence[float],
    confidence_level: float = 0.95,
    n_resamples: int = 999,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Return (order, low, high): p such that a sublinearly converging measure behaves as C k^-p.

    steps: (n,) iteration numbers (positive); measures: (n,) positive progress measures. The
    order is minus the least-squares slope of ln(measure) against ln(step), so ISTA's O(1/k)
    gives 1 and FISTA's O(1/k^2) gives 2. [low, high] is a percentile bootstrap interval
    (scipy.stats.bootstrap, pairs resampled). Returns NaNs when fewer than 3 distinct positive
    steps carry a positive finite measure.
    """
    steps = np.asarray(steps, dtype=float)
    measures = np.asarray(measures, dtype=float)
    if steps.shape != measures.shape:
        raise ValueError(f"steps {steps.shape} and measures {measures.shape} differ in shape")
    keep = np.isfinite(steps) & (steps > 0) & np.isfinite(measures) & (measures > 0)
    log_steps, logs = np.log(steps[keep]), np.log(measures[keep])
    if np.unique(log_steps).size < 3:
        return math.nan, math.nan, math.nan
    slope, low, high = _slope_interval(log_steps, logs, confidence_level, n_resamples, seed)
    return -slope, -high, -low
