"""The task base class and the harness that turns one cell into an n* search.

A cell is one (task instance, learner, trial). Its trial index seeds a hidden instance (the
sparse spectrum, the coefficients, the permutation). The n* search then runs its own inner
trials on that instance, each with data, noise and learner seeds derived from the cell.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np

from theorybench.contracts import CellContext, CellOutput, Curve, Metric, Task
from theorybench.errors import InvalidOutput
from theorybench.suites.sample_complexity import protocol
from theorybench.suites.sample_complexity.contract import Learner, Problem

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ProtocolTier:
    """The statistical settings of the n* search for one tier.

    The search probes `confirm_steps` grid points (ratio sqrt(2)) above its candidate n* to check
    monotonicity. The error curve then runs `curve_trials` trials at each grid size from
    n* / `curve_window` to n* * `curve_reach` (the small-n regime below is dropped), and the
    exponent is fitted on that curve.
    """

    delta: float
    confidence: float
    resolution: float
    confirm_steps: int = 2
    curve_window: float = 2.0
    curve_reach: float = 1.5
    curve_trials: int = 5
    extra_looks: int = 2
    bootstrap_resamples: int = 999

    def probe_settings(self) -> protocol.ProbeSettings:
        return protocol.ProbeSettings.certifying(self.delta, self.confidence, self.extra_looks)


#: quick: delta 0.25 at confidence 0.9 (9 all-success trials certify); standard: delta 0.1 at
#: confidence 0.95 (29 all-success trials certify).
DEFAULT_PROTOCOL = {
    "quick": ProtocolTier(delta=0.25, confidence=0.9, resolution=1.2, bootstrap_resamples=499),
    "standard": ProtocolTier(delta=0.1, confidence=0.95, resolution=1.05, curve_window=2.0, curve_reach=4.0, curve_trials=10),
    "large": ProtocolTier(delta=0.05, confidence=0.95, resolution=1.05, curve_window=2.0, curve_reach=8.0, curve_trials=10),
}

SEARCH_METRICS = (
    Metric("n_star", "samples", "min", "count", "certified n*(eps, delta); empty when the search reached n_max without a pass"),
    Metric("n_star_low", "samples", "min", "count", "lowest n* consistent with the certified failures (largest certified failure + 1)"),
    Metric("n_star_over_bound", "", "min", "value", "n* divided by the task's bound at this instance"),
    Metric("exponent", "", "none", "value", "fitted exponent of mean excess error against n"),
    Metric("exponent_low", "", "none", "value", "low end of the bootstrap interval of the exponent"),
    Metric("exponent_high", "", "none", "value", "high end of the bootstrap interval of the exponent"),
    Metric("theory_exponent", "", "none", "value", "the exponent theory predicts, when it predicts one"),
    Metric("theory_exponent_inside", "", "none", "value", "1 when the theoretical exponent lies in the interval, 0 when not"),
    Metric("censored", "", "min", "value", "1 when no n up to n_max passed"),
    Metric("monotone", "", "none", "value", "1 when no pass was seen below a probe that did not pass"),
    Metric("inner_trials", "trials", "none", "count", "learner runs the search used"),
    Metric("probes", "", "none", "count", "distinct n probed"),
)


@dataclasses.dataclass
class TrialOutcome:
    """The harness's verdict on one learner run."""

    error: float
    success: bool


class SampleComplexityTask(Task):
    """A task whose score is the certified sample size n*(eps, delta).

    Subclasses draw a hidden instance, build the problem a learner receives at budget n, and
    score the estimate. `theoretical_exponent` is the exponent of mean excess error against n
    that theory predicts, or None. `error_floor` is the error no learner can go below, and the
    excess error is measured above it.
    """

    metrics: ClassVar[tuple[Metric, ...]] = SEARCH_METRICS
    score_metric: ClassVar[str] = "n_star_over_bound"
    leaderboard_metrics: ClassVar[tuple[str, ...]] = (
        "n_star", "n_star_low", "n_star_over_bound", "exponent", "exponent_low", "exponent_high",
    )
    theoretical_exponent: ClassVar[float | None] = None
    error_floor: ClassVar[float] = 0.0
    protocol_tiers: ClassVar[Mapping[str, ProtocolTier]] = DEFAULT_PROTOCOL

    # -- what subclasses provide ------------------------------------------------------------

    def make_instance(self, params: Mapping[str, Any], rng: np.random.Generator) -> Any:
        """Return the hidden instance of one cell (fixed across the inner trials)."""
        raise NotImplementedError

    def search_range(self, params: Mapping[str, Any]) -> tuple[int, int, int]:
        """Return (n_min, n_max, n_start) of the search."""
        raise NotImplementedError

    def make_problem(
        self, instance: Any, params: Mapping[str, Any], n: int, data_rng: np.random.Generator, learner_seed: int
    ) -> Problem:
        raise NotImplementedError

    def evaluate(self, instance: Any, params: Mapping[str, Any], problem: Problem, estimate: Any) -> TrialOutcome:
        """Score the estimate; raise InvalidOutput when it is unusable."""
        raise NotImplementedError

    def sweep(self, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Return the (label, parameters) of each size the cell searches; one size by default."""
        return [("", dict(params))]

    def score_cost(self, value: float) -> float:
        """Return the performance-profile cost of a score-metric value (positive, lower is better)."""
        return value

    def theory_exponent(self, params: Mapping[str, Any]) -> float | None:
        """Return the exponent theory predicts at this instance (the class attribute by default)."""
        return self.theoretical_exponent

    def sweep_metrics(self, per_size: list) -> dict[str, Any]:
        """Return metrics across the sizes of a sweep: (label, params, result, metrics) per size."""
        return {}

    # -- shared -----------------------------------------------------------------------------

    def protocol_for(self, tier: str) -> ProtocolTier:
        return self.protocol_tiers.get(tier, self.protocol_tiers["standard"])


def run_search(
    task: SampleComplexityTask,
    params: Mapping[str, Any],
    context: CellContext,
    learner: Learner,
    stream: str = "",
) -> tuple[protocol.SearchResult, list[protocol.ProbeOutcome], protocol.ExponentFit | None]:
    """Search n* of `learner` on the cell's instance of `task` with sizes from `params`."""
    tier = task.protocol_for(context.tier)
    instance = task.make_instance(params, np.random.default_rng(context.child_seed(f"instance{stream}")))
    n_min, n_max, n_start = task.search_range(params)

    def run_trial(n: int, index: int) -> tuple[float, bool]:
        # Data seeds depend on the trial index only, so the samples at a larger n extend those
        # at a smaller n (common random numbers across the probes of one search).
        data_rng = np.random.default_rng(context.child_seed(f"data{stream}/{index}"))
        learner_seed = context.child_seed(f"learner{stream}/{index}")
        problem = task.make_problem(instance, params, n, data_rng, learner_seed)
        estimate = learner.learn(problem)
        outcome = task.evaluate(instance, params, problem, estimate)
        if not math.isfinite(outcome.error):
            raise InvalidOutput(f"the estimate at n={n} (trial {index}) has a non-finite error {outcome.error}")
        return outcome.error, outcome.success

    trial = run_trial
    settings = tier.probe_settings()
    result = protocol.search_sample_size(
        trial,
        settings,
        n_min=n_min,
        n_max=n_max,
        n_start=n_start,
        resolution=tier.resolution,
        confirm_steps=tier.confirm_steps,
    )
    sizes = protocol.curve_sizes(result.n_star, n_min, n_max, tier.curve_window, tier.curve_reach)
    curve = protocol.measure_curve(trial, sizes, tier.curve_trials, settings)
    fit = protocol.fit_error_exponent(
        curve,
        floor=task.error_floor,
        confidence=tier.confidence,
        n_resamples=tier.bootstrap_resamples,
        seed=context.child_seed(f"bootstrap{stream}"),
    )
    logger.info(
        "%s %s: n*=%s (low %s) after %d probes, %d trials",
        task.name, learner.name, result.n_star, result.n_star_low, len(result.probes), result.total_trials,
    )
    return result, curve, fit


def search_metrics(task: SampleComplexityTask, params: Mapping[str, Any], result: protocol.SearchResult, fit) -> dict[str, Any]:
    """Return the metrics of one search (the names in SEARCH_METRICS)."""
    bound = task.bound_value(params)
    n_star = result.n_star
    metrics: dict[str, Any] = {
        "n_star": n_star,
        "n_star_low": result.n_star_low,
        "n_star_over_bound": (n_star / bound) if (n_star is not None and bound) else None,
        "censored": int(result.censored),
        "monotone": int(result.monotone),
        "inner_trials": result.total_trials,
        "probes": len(result.probes),
        "exponent": fit.exponent if fit else None,
        "exponent_low": fit.low if fit else None,
        "exponent_high": fit.high if fit else None,
        "theory_exponent": task.theory_exponent(params),
        "theory_exponent_inside": None,
    }
    if fit is not None:
        inside = fit.contains(task.theory_exponent(params))
        metrics["theory_exponent_inside"] = None if inside is None else int(inside)
    return metrics


def search_curves(
    result: protocol.SearchResult, curve_points: list[protocol.ProbeOutcome], confidence: float, suffix: str = ""
) -> list[Curve]:
    """Return the error curve with its interval ends (fixed-trial sizes) and the success rate of every probe."""
    curve = protocol.error_curve(curve_points, confidence)
    probes = protocol.error_curve(result.sorted_probes(), confidence)
    curves = []
    for key, label in (("error_mean", "mean error"), ("error_low", "mean error, low end"), ("error_high", "mean error, high end")):
        curves.append(Curve(f"{key}{suffix}", "n", label, list(curve["n"]), list(curve[key])))
    for key, label in (
        ("success_rate", "success rate"),
        ("success_low", "success rate, Clopper-Pearson low"),
        ("success_high", "success rate, Clopper-Pearson high"),
    ):
        curves.append(Curve(f"{key}{suffix}", "n", label, list(probes["n"]), list(probes[key])))
    return curves


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS/OpenMP pools (threadpoolctl) and torch's intra-op pool to one thread inside the block."""
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:  # torch is a dependency, but the suite's numpy tasks run without it
        torch = None
    previous = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(previous)


def run_sample_complexity_cell(context: CellContext, task: SampleComplexityTask, learner: Learner) -> CellOutput:
    """Run every size of the task's sweep and return the cell's metrics, curves and info."""
    tier = task.protocol_for(context.tier)
    sizes = task.sweep(context.params)
    metrics: dict[str, Any] = {}
    curves: list[Curve] = []
    info: dict[str, Any] = {"delta": tier.delta, "confidence": tier.confidence, "sizes": {}}
    per_size = []
    for label, params in sizes:
        stream = f"/{label}" if label else ""
        result, curve_points, fit = run_search(task, params, context, learner, stream)
        size_metrics = search_metrics(task, params, result, fit)
        per_size.append((label, params, result, size_metrics))
        curves.extend(search_curves(result, curve_points, tier.confidence, suffix=f"[{label}]" if label else ""))
        info["sizes"][label or "all"] = {
            "n_max": result.n_max,
            "probes": [
                {"n": probe.n, "successes": probe.success_count, "trials": probe.trials, "decision": probe.decision}
                for probe in result.sorted_probes()
            ],
            "exponent_sizes": list(fit.sizes) if fit else [],
        }
    # The headline metrics are those of the last (largest) size; sweeps add per-size figures.
    metrics.update(per_size[-1][3])
    if len(per_size) > 1:
        metrics.update(task.sweep_metrics(per_size))
    return CellOutput(metrics=metrics, curves=curves, info=info)


def summarize_trials(task: SampleComplexityTask, results) -> dict[str, Any]:
    """Aggregate the cell trials of one (task instance, implementation): medians and outer ends."""
    ok = [row["metrics"] for row in results if row["status"] == "ok"]
    summary: dict[str, Any] = {"trials_ok": len(ok), "trials_failed": len(results) - len(ok)}
    if not ok:
        return summary

    def values(name: str) -> list[float]:
        return [float(metrics[name]) for metrics in ok if metrics.get(name) is not None]

    for name in sorted({name for metrics in ok for name in metrics}):
        found = values(name)
        summary[name] = float(np.median(found)) if found else None
    n_stars = values("n_star")
    lows = values("n_star_low")
    # n* interval over trials: from the smallest low end to the largest certified n*.
    summary["n_star_interval_low"] = min(lows) if lows else None
    summary["n_star_interval_high"] = max(n_stars) if len(n_stars) == len(ok) else None
    summary["censored_trials"] = int(sum(values("censored")))
    return summary


def checked_vector(estimate: Any, size: int, description: str) -> np.ndarray:
    """Return the estimate as a float vector of shape (size,); raise InvalidOutput when it is not one."""
    try:
        vector = np.asarray(estimate, dtype=float)
    except (TypeError, ValueError) as error:
        raise InvalidOutput(f"the {description} is not a numeric array: {error}") from None
    if vector.shape != (size,):
        raise InvalidOutput(f"the {description} has shape {vector.shape}; expected ({size},)")
    if not np.all(np.isfinite(vector)):
        raise InvalidOutput(f"the {description} contains NaN or infinite entries")
    return vector
