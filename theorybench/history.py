"""A metric over commits for one (task, implementation), with detected change points.

Each commit's value is the median of the metric over every successful trial of every stored run
made at that commit, per task instance. Commits are ordered by git history when the engine's
checkout knows them, and by their first run's start time otherwise. Change points come from
`stats.change_points` on each instance's series.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from theorybench import stats
from theorybench.compare import CELL_WALL_TIME, repository_root
from theorybench.contracts import Suite
from theorybench.errors import UsageError

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class HistoryPoint:
    """One commit of one instance's series."""

    commit: str
    started_at: Any
    value: float | None
    trials: int
    runs: int
    dirty: bool
    change: bool = False
    #: Ratio of this segment's mean to the previous segment's mean, at change points.
    shift: float = math.nan


@dataclasses.dataclass
class History:
    suite: str
    task: str
    implementation: str
    metric: str
    unit: str
    kind: str
    fingerprint: str
    series: dict[str, list[HistoryPoint]]  # instance label -> points in commit order
    skipped_without_commit: int = 0


def git_order(cwd: Path | None = None) -> dict[str, int]:
    """Return {commit: position} for the commits reachable from HEAD, oldest first."""
    try:
        completed = subprocess.run(["git", "rev-list", "--topo-order", "--reverse", "HEAD"], cwd=cwd or repository_root(),
                                   capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        logger.info("git rev-list failed: %s", error)
        return {}
    if completed.returncode != 0:
        return {}
    return {commit: index for index, commit in enumerate(completed.stdout.split())}


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def metric_history(
    store: Any,
    suites: Mapping[str, Suite],
    task: str,
    implementation: str,
    metric: str | None = None,
    *,
    suite: str | None = None,
    tier: str | None = None,
    device: str | None = None,
    fingerprint: str | None = None,
    instances: Sequence[str] = (),
    cwd: Path | None = None,
) -> History:
    """Return the metric's history over commits, one series per task instance."""
    candidates = [name for name, value in suites.items() if any(t.name == task for t in value.tasks())]
    if suite is not None:
        candidates = [name for name in candidates if name == suite]
    if not candidates:
        raise UsageError(f"no suite has a task {task!r}" + (f" in suite {suite!r}" if suite else "")
                         + "; `theorybench list` shows the tasks")
    if len(candidates) > 1:
        raise UsageError(f"task {task!r} exists in suites {', '.join(candidates)}; choose one with --suite")
    suite_name = candidates[0]
    task_object = suites[suite_name].task(task)
    metric = metric or task_object.score_metric
    if metric == CELL_WALL_TIME:
        unit, kind = "s", "time"
    else:
        try:
            declared = task_object.metric(metric)
        except KeyError:
            known = ", ".join([m.name for m in task_object.metrics] + [CELL_WALL_TIME])
            raise UsageError(f"task {task!r} has no metric {metric!r}; known: {known}") from None
        unit, kind = declared.unit, declared.kind

    rows = store.results(suites=[suite_name], tasks=[task], implementations=[implementation],
                         tiers=[tier] if tier else None, devices=[device] if device else None, statuses=["ok"])
    if instances:
        rows = [row for row in rows if row["instance"] in instances]
    if not rows:
        raise UsageError(f"no successful result of {implementation!r} on {suite_name}/{task} matches the filters")
    tiers = {row["tier"] for row in rows}
    if len(tiers) > 1:
        raise UsageError(f"results come from several tiers ({', '.join(sorted(tiers))}); choose one with --tier")

    chosen_fingerprint = ""
    if fingerprint:
        rows = [row for row in rows if row["fingerprint_id"] == fingerprint]
        chosen_fingerprint = fingerprint
    elif kind in ("time", "memory"):
        counts = collections.Counter(row["fingerprint_id"] for row in rows)
        chosen_fingerprint = counts.most_common(1)[0][0]
        if len(counts) > 1:
            logger.warning("%s is a %s metric measured on %d machine fingerprints; showing %s, the most frequent "
                           "(choose another with --fingerprint)", metric, kind, len(counts), chosen_fingerprint)
        rows = [row for row in rows if row["fingerprint_id"] == chosen_fingerprint]

    runs = {run.id: run for run in store.runs()}
    without_commit = [row for row in rows if not row["git_commit"]]
    rows = [row for row in rows if row["git_commit"]]
    order = git_order(cwd)
    first_start: dict[str, Any] = {}
    for row in rows:
        started = runs[row["run_id"]].started_at
        if row["git_commit"] not in first_start or started < first_start[row["git_commit"]]:
            first_start[row["git_commit"]] = started

    def sort_key(commit: str) -> tuple:
        return (0, order[commit], "") if commit in order else (1, 0, str(first_start[commit]))

    grouped: dict[str, dict[str, list[dict]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for row in rows:
        grouped[row["instance"]][row["git_commit"]].append(row)

    series = {}
    for instance, by_commit in sorted(grouped.items()):
        points = []
        for commit in sorted(by_commit, key=sort_key):
            commit_rows = by_commit[commit]
            values = [v for v in (_number(row.get("wall_s") if metric == CELL_WALL_TIME else row["metrics"].get(metric))
                                  for row in commit_rows) if v is not None]
            points.append(HistoryPoint(
                commit=commit, started_at=first_start[commit], value=float(np.median(values)) if values else None,
                trials=len(commit_rows), runs=len({row["run_id"] for row in commit_rows}),
                dirty=any(runs[row["run_id"]].git_dirty for row in commit_rows),
            ))
        mark_change_points(points)
        series[instance] = points
    return History(suite=suite_name, task=task, implementation=implementation, metric=metric, unit=unit, kind=kind,
                   fingerprint=chosen_fingerprint, series=series, skipped_without_commit=len(without_commit))


def mark_change_points(points: list[HistoryPoint]) -> None:
    """Set `change` and `shift` on the points where the series' level changes."""
    present = [index for index, point in enumerate(points) if point.value is not None]
    values = [points[index].value for index in present]
    if len(values) < 2:
        return
    breaks = stats.change_points(values)
    bounds = [0, *breaks, len(values)]
    for position, start in enumerate(breaks, start=1):
        previous = float(np.mean(values[bounds[position - 1]:start]))
        current = float(np.mean(values[start:bounds[position + 1]]))
        point = points[present[start]]
        point.change = True
        point.shift = current / previous if previous != 0 else math.inf
