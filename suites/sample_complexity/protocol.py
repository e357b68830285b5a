"""The search for n*(eps, delta): certified probes, bracketing and bisection, exponent fits.

n*(eps, delta) is the smallest n with P[error_n <= eps] >= 1 - delta. A probe at n runs
independent trials and classifies n with one-sided Clopper-Pearson bounds: pass when the lower
bound on the success probability is at least 1 - delta, fail when the upper bound is below it,
undecided otherwise. The search walks a geometric grid (ratio sqrt(2)) to bracket the crossing,
bisects on log n, then probes above the result to catch learners whose error is not monotone in n.

Everything here is a pure function of the trial callback it receives, so the tests drive it with
synthetic learners whose true n* is known.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Callable, Sequence

import numpy as np

from theorybench import stats

logger = logging.getLogger(__name__)

GRID_RATIO = math.sqrt(2.0)

#: One trial at size n: (n, trial index) -> (error, success).
TrialFunction = Callable[[int, int], tuple[float, bool]]


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
    """The trial schedule of a probe.

    A probe first runs `min_trials`, then looks again every `trial_step` trials up to
    `max_trials`. It stops at the first look that certifies pass or fail. Once a pass has become
    impossible even at `max_trials`, it runs on only until the failure is certified or
    `min_trials` trials have run (this early stop never turns a pass into anything else).
    """

    delta: float
    confidence: float
    min_trials: int
    trial_step: int
    max_trials: int

    def __post_init__(self) -> None:
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {self.delta}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")
        if self.min_trials < 1 or self.trial_step < 1 or self.max_trials < self.min_trials:
            raise ValueError(
                f"invalid trial schedule: min {self.min_trials}, step {self.trial_step}, max {self.max_trials}"
            )
        needed = stats.min_trials_to_certify(self.delta, self.confidence)
        if self.max_trials < needed:
            raise ValueError(
                f"max_trials {self.max_trials} cannot certify delta {self.delta} at confidence "
                f"{self.confidence}; it needs at least {needed} trials"
            )

    @classmethod
    def certifying(cls, delta: float, confidence: float, extra_looks: int = 2) -> "ProbeSettings":
        """Return settings whose first look is the fewest trials that can certify a pass."""
        first = stats.min_trials_to_certify(delta, confidence)
        step = max(1, first // 2)
        return cls(delta, confidence, first, step, first + extra_looks * step)


@dataclasses.dataclass
class ProbeOutcome:
    """The trials run at one n and their verdict ("pass", "fail" or "undecided")."""

    n: int
    errors: list[float]
    successes: list[bool]
    decision: str
    lower: float
    upper: float

    @property
    def trials(self) -> int:
        return len(self.successes)

    @property
    def success_count(self) -> int:
        return int(sum(self.successes))

    @property
    def passed(self) -> bool:
        return self.decision == "pass"


def run_probe(trial: TrialFunction, n: int, settings: ProbeSettings) -> ProbeOutcome:
    """Run trials at `n` until the Clopper-Pearson bounds decide, or until the trial cap.

    Trial j uses index j, so the caller can derive independent seeds per (n, j) and two probes
    at the same n would repeat the same trials.
    """
    # NOTE: each look is a Clopper-Pearson test at `confidence`, so with several looks the
    # chance of a false pass is somewhat above 1 - confidence (3 looks by default).
    looks = list(range(settings.min_trials, settings.max_trials + 1, settings.trial_step))
    if looks[-1] != settings.max_trials:
        looks.append(settings.max_trials)
    needed_at_cap = stats.min_successes_to_certify(settings.max_trials, settings.delta, settings.confidence)
    allowed_failures = settings.max_trials - needed_at_cap

    errors: list[float] = []
    successes: list[bool] = []
    decision = "undecided"
    for index in range(settings.max_trials):
        error, success = trial(n, index)
        errors.append(float(error))
        successes.append(bool(success))
        count = len(successes)
        failures = count - sum(successes)
        if count in looks:
            decision = stats.classify_probe(sum(successes), count, settings.delta, settings.confidence)
            if decision != "undecided":
                break
        if failures > allowed_failures:
            # A pass is out of reach within the cap. Go on only to certify the failure, which
            # gives the n* interval its low end, and at most up to the first look.
            decision = stats.classify_probe(sum(successes), count, settings.delta, settings.confidence)
            if decision == "fail" or count >= settings.min_trials:
                break
    lower, upper = stats.clopper_pearson_bounds(sum(successes), len(successes), settings.confidence)
    return ProbeOutcome(n, errors, successes, decision, lower, upper)


@dataclasses.dataclass
class SearchResult:
    """The outcome of one n* search.

    `n_star` is the smallest passing n above every n that did not pass (None when no probe up
    to `n_max` passed, so n* > n_max). The interval [`n_star_low`, `n_star`] has the largest
    certified failure plus one as its low end (`n_min` when no probe failed below n*).
    """

    n_star: int | None
    n_star_low: int
    n_max: int
    probes: dict[int, ProbeOutcome]
    monotone: bool

    @property
    def censored(self) -> bool:
        return self.n_star is None

    @property
    def total_trials(self) -> int:
        return sum(probe.trials for probe in self.probes.values())

    def sorted_probes(self) -> list[ProbeOutcome]:
        return [self.probes[n] for n in sorted(self.probes)]


def grid_up(n: int, ratio: float = GRID_RATIO) -> int:
    """Return the next point of the geometric grid above `n` (always at least n + 1)."""
    return max(n + 1, math.ceil(n * ratio - 1e-9))


def grid_down(n: int, ratio: float = GRID_RATIO) -> int:
    """Return the previous point of the geometric grid below `n` (always at most n - 1)."""
    return min(n - 1, math.floor(n / ratio + 1e-9))


def search_sample_size(
    trial: TrialFunction,
    settings: ProbeSettings,
    n_min: int,
    n_max: int,
    n_start: int | None = None,
    ratio: float = GRID_RATIO,
    resolution: float = 1.05,
    confirm_steps: int = 1,
    low_end_steps: int = 6,
    max_probes: int = 60,
) -> SearchResult:
    """Find n*(eps, delta) for the learner behind `trial`, on integers in [n_min, n_max].

    1. Bracket: probe n_start (clipped to the range); walk the grid up while probes do not
       pass, or down while they pass, until the outcome changes or a range end is reached.
    2. Bisect on log n between the highest non-pass below and the lowest pass above, until
       hi <= lo * resolution or hi = lo + 1.
    3. Confirm: probe `confirm_steps` grid points above the candidate. A non-pass there means
       the error is not monotone in n; the search brackets again above that point.
    4. Anchor: when no probe below n* certified a failure, walk the grid down (at most
       `low_end_steps` probes) until one does, so that the interval has a low end.
    n* is then one past the last n that did not pass, rounded up to the next passing probe.
    A failing region is found only where some probe lands in it: one narrower than the
    confirmation reach above a candidate can go unseen.
    """
    if not 1 <= n_min <= n_max:
        raise ValueError(f"invalid range: n_min {n_min}, n_max {n_max}")
    if ratio <= 1.0 or resolution < 1.0:
        raise ValueError(f"ratio must exceed 1 and resolution be at least 1, got {ratio} and {resolution}")
    probes: dict[int, ProbeOutcome] = {}

    def probe(n: int) -> ProbeOutcome:
        if n not in probes:
            if len(probes) >= max_probes:
                raise RuntimeError(f"the n* search used its {max_probes} probes without converging")
            probes[n] = run_probe(trial, n, settings)
            logger.debug("probe n=%d: %d/%d successes, %s", n, probes[n].success_count, probes[n].trials, probes[n].decision)
        return probes[n]

    start = min(max(n_start if n_start is not None else n_min, n_min), n_max)
    candidate = _bracket_and_bisect(probe, start, n_min, n_max, ratio, resolution)
    while candidate is not None:
        above = candidate
        broken_at = None
        for _ in range(confirm_steps):
            if above >= n_max:
                break
            above = min(grid_up(above, ratio), n_max)
            if not probe(above).passed:
                broken_at = above
                break
        if broken_at is None:
            break
        if broken_at >= n_max:
            candidate = None
            break
        restart = min(grid_up(broken_at, ratio), n_max)
        candidate = _bracket_and_bisect(probe, restart, broken_at + 1, n_max, ratio, resolution)

    if candidate is not None:
        _anchor_low_end(probe, probes, n_min, ratio, max_steps=low_end_steps)
    return _summarize_search(probes, n_min, n_max)


def _anchor_low_end(probe, probes: dict[int, ProbeOutcome], n_min: int, ratio: float, max_steps: int) -> None:
    """Walk the grid down from the lowest probe near n* until a probe certifies a failure.

    The low end of the n* interval is the largest certified failure plus one; without one,
    it would fall back to n_min.
    """
    passing = [n for n, outcome in probes.items() if outcome.passed]
    n_star_guess = min(passing)
    if any(outcome.decision == "fail" and n < n_star_guess for n, outcome in probes.items()):
        return
    n = min([n_star_guess] + [n for n in probes if n < n_star_guess])
    for _ in range(max_steps):
        if n <= n_min:
            return
        n = max(grid_down(n, ratio), n_min)
        if probe(n).decision == "fail":
            return


def _bracket_and_bisect(probe, start: int, n_min: int, n_max: int, ratio: float, resolution: float) -> int | None:
    """Return the lowest passing n of a bracket found from `start`, bisected on log n."""
    n = start
    if probe(n).passed:
        hi = n
        lo = None
        while hi > n_min:
            below = max(grid_down(hi, ratio), n_min)
            if probe(below).passed:
                hi = below
            else:
                lo = below
                break
        if lo is None:
            return hi
    else:
        lo = n
        hi = None
        while lo < n_max:
            above = min(grid_up(lo, ratio), n_max)
            if probe(above).passed:
                hi = above
                break
            lo = above
        if hi is None:
            return None

    while hi - lo > 1 and hi > lo * resolution:
        middle = int(round(math.sqrt(lo * hi)))
        middle = min(max(middle, lo + 1), hi - 1)
        if probe(middle).passed:
            hi = middle
        else:
            lo = middle
    return hi


def _summarize_search(probes: dict[int, ProbeOutcome], n_min: int, n_max: int) -> SearchResult:
    sizes = sorted(probes)
    not_passed = [n for n in sizes if not probes[n].passed]
    last_not_passed = max(not_passed) if not_passed else None
    passing_above = [n for n in sizes if probes[n].passed and (last_not_passed is None or n > last_not_passed)]
    n_star = min(passing_above) if passing_above else None
    # Monotone: no pass sits below a probe that did not pass.
    monotone = not any(probes[n].passed and last_not_passed is not None and n < last_not_passed for n in sizes)
    failed_below = [n for n in sizes if probes[n].decision == "fail" and (n_star is None or n < n_star)]
    n_star_low = max(failed_below) + 1 if failed_below else n_min
    return SearchResult(n_star, n_star_low, n_max, dict(probes), monotone)


@dataclasses.dataclass(frozen=True)
class ExponentFit:
    """A power law fitted to mean excess error against n, with its bootstrap interval."""

    exponent: float
    low: float
    high: float
    sizes: tuple[int, ...]

    def contains(self, value: float | None) -> bool | None:
        if value is None or not (math.isfinite(self.low) and math.isfinite(self.high)):
            return None
        return self.low <= value <= self.high


def curve_sizes(
    n_star: int | None, n_min: int, n_max: int, window: float, reach: float, ratio: float = GRID_RATIO
) -> list[int]:
    """Return the grid sizes of the error curve: from n*/window to n* * reach, within [n_min, n_max].

    Without n* (a censored search) the curve spans [n_max / window, n_max].
    """
    center = n_star if n_star is not None else n_max
    steps_down = math.floor(math.log(window) / math.log(ratio) + 1e-9)
    steps_up = math.floor(math.log(reach) / math.log(ratio) + 1e-9) if n_star is not None else 0
    sizes = {int(round(center * ratio**step)) for step in range(-steps_down, steps_up + 1)}
    return sorted(size for size in sizes if n_min <= size <= n_max)


#: Curve trials use indices from here on, disjoint from the search's.
CURVE_FIRST_INDEX = 1_000_000


def measure_curve(trial: TrialFunction, sizes: Sequence[int], trials: int, settings: ProbeSettings) -> list[ProbeOutcome]:
    """Run exactly `trials` fresh trials at each size, with no early stopping.

    The search's trials are biased: it stops probes early on their outcomes and picks n* as
    the first size whose trials passed. The curve therefore uses trial indices from
    CURVE_FIRST_INDEX on (independent seeds) and a fixed count per size.
    """
    points = []
    for n in sizes:
        outcomes = [trial(n, CURVE_FIRST_INDEX + index) for index in range(trials)]
        errors = [float(error) for error, _ in outcomes]
        successes = [bool(success) for _, success in outcomes]
        decision = stats.classify_probe(sum(successes), trials, settings.delta, settings.confidence)
        lower, upper = stats.clopper_pearson_bounds(sum(successes), trials, settings.confidence)
        points.append(ProbeOutcome(n, errors, successes, decision, lower, upper))
    return points


def fit_error_exponent(
    points: Sequence[ProbeOutcome],
    floor: float = 0.0,
    min_points: int = 3,
    confidence: float = 0.9,
    n_resamples: int = 999,
    seed: int = 0,
) -> ExponentFit | None:
    """Fit mean excess error ~ n^exponent on the curve points, with a within-n bootstrap interval.

    The caller drops the small-n regime by choosing the sizes (see `curve_sizes`). Points need
    a positive mean excess error to enter. Returns None when fewer than `min_points` qualify.
    """
    chosen = sorted(
        (point for point in points if point.trials >= 1 and np.mean(point.errors) - floor > 0), key=lambda point: point.n
    )
    if len(chosen) < min_points:
        return None
    exponent, low, high = stats.power_law_exponent_interval(
        [point.n for point in chosen],
        [np.asarray(point.errors) for point in chosen],
        floor=floor,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    return ExponentFit(exponent, low, high, tuple(point.n for point in chosen))


def error_curve(probes: Sequence[ProbeOutcome], confidence: float = 0.9) -> dict[str, list[float]]:
    """Return the error curve: per n, mean error with a t interval and the success rate with its bounds.

    Keys: n, error_mean, error_low, error_high, success_rate, success_low, success_high
    (each a list over the probes sorted by n). A probe with one trial has an interval equal to
    its single value.
    """
    from scipy import stats as scipy_stats

    curve: dict[str, list[float]] = {key: [] for key in ("n", "error_mean", "error_low", "error_high", "success_rate", "success_low", "success_high")}
    for probe in sorted(probes, key=lambda item: item.n):
        errors = np.asarray(probe.errors, dtype=float)
        mean = float(errors.mean())
        if errors.size >= 2 and errors.std(ddof=1) > 0:
            low, high = scipy_stats.t.interval(confidence, errors.size - 1, loc=mean, scale=scipy_stats.sem(errors))
        else:
            low = high = mean
        success_low, success_high = stats.clopper_pearson_bounds(probe.success_count, probe.trials, confidence)
        curve["n"].append(float(probe.n))
        curve["error_mean"].append(mean)
        curve["error_low"].append(float(low))
        curve["error_high"].append(float(high))
        curve["success_rate"].append(probe.success_count / probe.trials)
        curve["success_low"].append(success_low)
        curve["success_high"].append(success_high)
    return curve
