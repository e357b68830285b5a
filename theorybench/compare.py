"""Comparison of stored results between two runs, commits or tags.

Counts and values (metric kinds "count" and "value") compare trial by trial, exactly: the same
cell at the same seed must give the same figure, on any machine. Timings and memory (kinds "time"
and "memory", plus each cell's wall time) compare as samples over trials and runs with a
Mann-Whitney U test, Benjamini-Hochberg adjusted over every timing comparison of the call, and
only between results measured on the same machine fingerprint.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from theorybench import stats
from theorybench.contracts import Suite
from theorybench.errors import UsageError
from theorybench.scoring import latest_per_trial

logger = logging.getLogger(__name__)

#: Pseudo-metric for each result's wall time, compared like a declared timing.
CELL_WALL_TIME = "cell_wall_s"
#: Smallest number of timings per side for which a two-sided Mann-Whitney p-value can reach
#: 0.002: with n = m the smallest p-value is 2 / C(2n, n), 0.0022 at n = 6 and 0.00058 at n = 7.
MIN_TIMING_SAMPLES = 7

CellKey = tuple[str, str, str, str, str, str, int]  # suite, task, instance, implementation, tier, device, trial
GroupKey = tuple[str, str, str, str, str, str]


@dataclasses.dataclass
class Side:
    """One side of a comparison: the runs a spec resolved to."""

    spec: str
    kind: str  # "run" or "commit"
    run_ids: list[str]
    commit: str = ""
    fingerprints: dict[str, dict] = dataclasses.field(default_factory=dict)
    dirty: bool = False

    @property
    def label(self) -> str:
        if self.kind == "commit":
            return f"{self.spec} ({self.commit[:10]}, {len(self.run_ids)} run{'s' if len(self.run_ids) != 1 else ''})"
        return f"run {self.run_ids[0]}"


@dataclasses.dataclass
class Change:
    """One compared figure that differs between the sides (or, for statuses, one cell)."""

    kind: str  # "count", "value", "time", "memory" or "status"
    suite: str
    task: str
    instance: str
    implementation: str
    tier: str
    device: str
    metric: str
    before: Any
    after: Any
    verdict: str  # "regression", "improvement", "changed", "failed", "fixed"
    ratio: float = math.nan
    p_value: float = math.nan
    p_adjusted: float = math.nan
    trials: str = ""

    def as_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        for key in ("ratio", "p_value", "p_adjusted"):
            if isinstance(record[key], float) and not math.isfinite(record[key]):
                record[key] = None
        return record


@dataclasses.dataclass
class Comparison:
    """The outcome of `compare`: the changes and what could not be compared."""

    before: Side
    after: Side
    changes: list[Change]
    compared_cells: int
    compared_values: int
    timing_comparisons: int
    timings_refused: str = ""
    underpowered_timings: int = 0
    only_before: int = 0
    only_after: int = 0
    failed_after: int = 0

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.verdict == "regression"]


# -- resolving specs ----------------------------------------------------------------------------


def repository_root() -> Path:
    """Return the folder whose git history run commits come from (the engine's checkout)."""
    return Path(__file__).resolve().parent


def git_resolve(spec: str, cwd: Path | None = None) -> str | None:
    """Return the full commit hash `git rev-parse` gives for a commit, tag or branch, or None."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
            cwd=cwd or repository_root(), capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as error:
        logger.info("git rev-parse %s failed: %s", spec, error)
        return None
    commit = completed.stdout.strip()
    return commit if completed.returncode == 0 and commit else None


def resolve_side(store: Any, spec: str, cwd: Path | None = None) -> Side:
    """Resolve a run id (or unique prefix), a commit, a tag or a branch to stored runs."""
    runs = store.runs()
    exact = [run for run in runs if run.id == spec]
    prefixed = exact or [run for run in runs if run.id.startswith(spec)]
    if len(prefixed) == 1:
        run = prefixed[0]
        return Side(spec=spec, kind="run", run_ids=[run.id], commit=run.git_commit,
                    fingerprints={run.fingerprint_id: run.fingerprint}, dirty=run.git_dirty)
    commit = git_resolve(spec, cwd)
    if commit is None and re.fullmatch(r"[0-9a-fA-F]{4,64}", spec):
        stored = sorted({run.git_commit for run in runs if run.git_commit.startswith(spec.lower())})
        if len(stored) > 1:
            raise UsageError(f"{spec!r} is a prefix of several stored commits ({', '.join(c[:12] for c in stored)}); give more digits")
        commit = stored[0] if stored else None
    if commit is None:
        hint = f" ({len(prefixed)} run ids start with it; give more characters)" if prefixed else ""
        raise UsageError(f"{spec!r} is neither a stored run{hint} nor a commit or tag git can resolve; "
                         "`theorybench show` lists the runs")
    matching = [run for run in runs if run.git_commit == commit]
    if not matching:
        raise UsageError(f"no stored run was made at commit {commit[:12]} ({spec}); check it out and run "
                         "`theorybench run` there first")
    matching.sort(key=lambda run: run.started_at)
    return Side(spec=spec, kind="commit", run_ids=[run.id for run in matching], commit=commit,
                fingerprints={run.fingerprint_id: run.fingerprint for run in matching},
                dirty=any(run.git_dirty for run in matching))


# -- comparing ------------------------------------------------------------------------------------


def _cell_key(row: Mapping[str, Any]) -> CellKey:
    return (row["suite"], row["task"], row["instance"], row["implementation"], row["tier"], row["device"], int(row["trial"]))


def _as_number(value: Any, direction: str) -> float:
    """Return a metric value as a float; a missing value (target not reached) is the worst value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.inf if direction != "max" else -math.inf
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return math.nan


def _verdict(before: float, after: float, direction: str) -> str:
    if direction == "min":
        return "regression" if after > before else "improvement"
    if direction == "max":
        return "regression" if after < before else "improvement"
    return "changed"


def _values_equal(before: float, after: float, kind: str, rtol: float) -> bool:
    if before == after or (math.isnan(before) and math.isnan(after)):
        return True
    if kind == "count" or rtol <= 0 or not (math.isfinite(before) and math.isfinite(after)):
        return False
    return abs(after - before) <= rtol * max(abs(before), abs(after))


def _metric_kinds(suites: Mapping[str, Suite], suite: str, task: str) -> dict[str, Any]:
    try:
        return {metric.name: metric for metric in suites[suite].task(task).metrics}
    except KeyError:
        return {}


def compare_counts(before_rows: Sequence[Mapping[str, Any]], after_rows: Sequence[Mapping[str, Any]],
                   suites: Mapping[str, Suite], rtol: float = 0.0) -> tuple[list[Change], dict[str, int]]:
    """Compare count and value metrics cell by cell; return the changes and the tallies."""
    before = {_cell_key(row): row for row in latest_per_trial(before_rows)}
    after = {_cell_key(row): row for row in latest_per_trial(after_rows)}
    differing: dict[tuple, list[tuple[float, float, int]]] = collections.defaultdict(list)
    totals: collections.Counter = collections.Counter()
    changes: list[Change] = []
    tallies = {"compared_cells": 0, "compared_values": 0, "only_before": len(set(before) - set(after)),
               "only_after": len(set(after) - set(before)),
               "failed_after": sum(row["status"] not in ("ok", "skipped") for row in after.values())}

    for key in sorted(set(before) & set(after)):
        old, new = before[key], after[key]
        suite, task, instance, implementation, tier, device, trial = key
        if old["status"] != new["status"] and "skipped" not in (old["status"], new["status"]):
            verdict = "failed" if new["status"] != "ok" else "fixed"
            changes.append(Change("status", suite, task, instance, implementation, tier, device, "status",
                                  old["status"], f"{new['status']}: {new['reason']}" if new["reason"] else new["status"],
                                  verdict, trials=str(trial)))
        if old["status"] != "ok" or new["status"] != "ok":
            continue
        tallies["compared_cells"] += 1
        kinds = _metric_kinds(suites, suite, task)
        for name, metric in kinds.items():
            if not metric.machine_independent or (name not in old["metrics"] and name not in new["metrics"]):
                continue
            a = _as_number(old["metrics"].get(name), metric.direction)
            b = _as_number(new["metrics"].get(name), metric.direction)
            group = (suite, task, instance, implementation, tier, device, name)
            totals[group] += 1
            tallies["compared_values"] += 1
            if not _values_equal(a, b, metric.kind, rtol):
                differing[group].append((a, b, trial))

    for group, pairs in sorted(differing.items()):
        suite, task, instance, implementation, tier, device, name = group
        metric = _metric_kinds(suites, suite, task)[name]
        a = float(np.median([pair[0] for pair in pairs]))
        b = float(np.median([pair[1] for pair in pairs]))
        verdicts = {_verdict(x, y, metric.direction) for x, y, _ in pairs}
        verdict = verdicts.pop() if len(verdicts) == 1 else "changed"
        ratio = b / a if a not in (0.0,) and math.isfinite(a) and math.isfinite(b) else math.nan
        changes.append(Change(metric.kind, suite, task, instance, implementation, tier, device, name, a, b, verdict,
                              ratio=ratio, trials=f"{len(pairs)}/{totals[group]} differ"))
    return changes, tallies


def timing_samples(rows: Iterable[Mapping[str, Any]], suites: Mapping[str, Suite]) -> dict[tuple, tuple[str, list[float]]]:
    """Return {(group..., metric): (kind, values)} of every timing and memory metric of ok rows."""
    samples: dict[tuple, tuple[str, list[float]]] = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        group = (row["suite"], row["task"], row["instance"], row["implementation"], row["tier"], row["device"])
        kinds = _metric_kinds(suites, row["suite"], row["task"])
        figures = {CELL_WALL_TIME: ("time", row.get("wall_s"))}
        for name, metric in kinds.items():
            if metric.kind in ("time", "memory") and name in row["metrics"]:
                figures[name] = (metric.kind, row["metrics"][name])
        for name, (kind, value) in figures.items():
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            samples.setdefault((*group, name), (kind, []))[1].append(float(value))
    return samples


def fingerprint_mismatch(before: Side, after: Side) -> str:
    """Return why timings of the two sides must not be compared, or an empty string."""
    if len(before.fingerprints) > 1 or len(after.fingerprints) > 1:
        side = before if len(before.fingerprints) > 1 else after
        return (f"timings not compared: {side.label} mixes results from {len(side.fingerprints)} machine fingerprints "
                f"({', '.join(sorted(side.fingerprints))}); compare single runs, or runs from one machine")
    if set(before.fingerprints) != set(after.fingerprints):
        (a_id, a_facts), = before.fingerprints.items()
        (b_id, b_facts), = after.fingerprints.items()
        differences = [f"{key}: {a_facts.get(key)!r} vs {b_facts.get(key)!r}" for key in sorted(set(a_facts) | set(b_facts))
                       if key != "id" and a_facts.get(key) != b_facts.get(key)]
        return (f"timings not compared: the sides were measured on different machine fingerprints ({a_id} vs {b_id}"
                + (f"; {'; '.join(differences)}" if differences else "") + "). Counts and values are still compared; "
                "rerun both on one machine to compare timings")
    return ""


def compare_timings(before_rows: Sequence[Mapping[str, Any]], after_rows: Sequence[Mapping[str, Any]],
                    suites: Mapping[str, Suite], factor: float, alpha: float = stats.TIMING_ALPHA) -> tuple[list[Change], int, int]:
    """Compare timing samples; return (changes, comparisons made, comparisons with too few samples)."""
    before = timing_samples(before_rows, suites)
    after = timing_samples(after_rows, suites)
    keys = sorted(set(before) & set(after))
    pairs = [(before[key][1], after[key][1]) for key in keys]
    results = stats.timing_changes(pairs, factor=factor, alpha=alpha)
    underpowered = sum(min(len(a), len(b)) < MIN_TIMING_SAMPLES for a, b in pairs)
    changes = []
    for key, (a, b), result in zip(keys, pairs, results):
        if result["change"] == "unchanged":
            continue
        suite, task, instance, implementation, tier, device, name = key
        changes.append(Change(
            before[key][0], suite, task, instance, implementation, tier, device, name,
            float(np.median(a)), float(np.median(b)), "regression" if result["change"] == "slower" else "improvement",
            ratio=float(result["ratio"]), p_value=float(result["p"]), p_adjusted=float(result["p_adjusted"]),
            trials=f"{len(a)} vs {len(b)} samples",
        ))
    return changes, len(keys), underpowered


def compare(store: Any, suites: Mapping[str, Suite], spec_before: str, spec_after: str, *, factor: float = stats.TIMING_FACTOR,
            rtol: float = 0.0, filters: Mapping[str, Sequence[str]] | None = None, cwd: Path | None = None) -> Comparison:
    """Compare the results of two runs, commits or tags; see the module docstring for the rules."""
    if factor < 1.0:
        raise UsageError(f"--factor must be at least 1, got {factor}")
    before = resolve_side(store, spec_before, cwd)
    after = resolve_side(store, spec_after, cwd)
    if set(before.run_ids) == set(after.run_ids):
        raise UsageError(f"{spec_before!r} and {spec_after!r} select the same runs; compare two different runs or commits")
    filters = {key: list(values) for key, values in (filters or {}).items() if values}
    before_rows = store.results(run_ids=before.run_ids, **filters)
    after_rows = store.results(run_ids=after.run_ids, **filters)
    if not before_rows or not after_rows:
        empty = before if not before_rows else after
        raise UsageError(f"{empty.label} has no results matching the filters")

    changes, tallies = compare_counts(before_rows, after_rows, suites, rtol=rtol)
    refused = fingerprint_mismatch(before, after)
    timing_changes: list[Change] = []
    comparisons = underpowered = 0
    if not refused:
        timing_changes, comparisons, underpowered = compare_timings(before_rows, after_rows, suites, factor)
    return Comparison(before=before, after=after, changes=changes + timing_changes, compared_cells=tallies["compared_cells"],
                      compared_values=tallies["compared_values"], timing_comparisons=comparisons, timings_refused=refused,
                      underpowered_timings=underpowered, only_before=tallies["only_before"], only_after=tallies["only_after"],
                      failed_after=tallies["failed_after"])
