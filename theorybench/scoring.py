"""Scoring: from stored result rows to per-task figures and per-suite performance-profile scores.

For each (suite, tier, device), every (task instance, problem label) a suite reports through
`Suite.problem_costs` is one problem of the performance profile. An implementation that failed a
problem, or did not run it, has an infinite cost there. The suite score is the area under the
profile on [1, 4] divided by 3 (`stats.profile_score`). The geometric-mean ratio to the best is
taken over the problems the implementation solved, shown beside the count it solved.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from theorybench import stats
from theorybench.contracts import Suite

logger = logging.getLogger(__name__)

GroupKey = tuple[str, str, str, str, str, str]  # suite, tier, device, task, instance, implementation


@dataclasses.dataclass
class LeaderboardRow:
    """One (task instance, implementation) entry, aggregated over its trials."""

    suite: str
    task: str
    instance: str
    implementation: str
    tier: str
    device: str
    status: str
    score: float
    ratio: float
    trials: int
    failed: int
    reason: str
    metrics: dict[str, Any]
    bound: str = ""

    def as_dict(self) -> dict[str, Any]:
        record = {
            "suite": self.suite, "task": self.task, "instance": self.instance,
            "implementation": self.implementation, "tier": self.tier, "device": self.device,
            "status": self.status, "score": _finite(self.score), "ratio": _finite(self.ratio),
            "trials": self.trials, "failed": self.failed, "reason": self.reason, "bound": self.bound,
        }
        for name, value in self.metrics.items():
            key = name if name not in record else f"metric_{name}"
            record[key] = _finite(value) if isinstance(value, float) else value
        return record


@dataclasses.dataclass
class SuiteScore:
    """One implementation's aggregate over a suite (or one score group of it) at one tier and device."""

    suite: str
    group: str
    tier: str
    device: str
    implementation: str
    score: float
    geometric_mean_ratio: float
    solved: int
    problems: int
    failed_cells: int
    rank: int = 0

    def as_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["score"] = _finite(self.score)
        record["geometric_mean_ratio"] = _finite(self.geometric_mean_ratio)
        return record


@dataclasses.dataclass
class Leaderboard:
    rows: list[LeaderboardRow]
    suite_scores: list[SuiteScore]

    def suites(self) -> list[str]:
        return sorted({score.suite for score in self.suite_scores} | {row.suite for row in self.rows})


def tier_label(row: Mapping[str, Any]) -> str:
    """Return the tier a result is scored under: its tier, with the salt digest for a private salt.

    Results drawn with a private salt are other instances than the public ones, so they form a
    leaderboard of their own, such as `quick (private:87412bcedac7)`.
    """
    salt = row.get("salt") or "public"
    return row["tier"] if salt == "public" else f"{row['tier']} ({salt})"


def latest_per_trial(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Keep the newest result of each (suite, task, instance, implementation, tier, salt, device, trial)."""
    latest: dict[tuple, Mapping[str, Any]] = {}
    for row in results:
        key = (row["suite"], row["task"], row["instance"], row["implementation"], tier_label(row), row["device"], row["trial"])
        if key not in latest or row["id"] > latest[key]["id"]:
            latest[key] = row
    return sorted(latest.values(), key=lambda row: row["id"])


def build_leaderboard(results: Iterable[Mapping[str, Any]], suites: Mapping[str, Suite]) -> Leaderboard:
    """Aggregate result rows into leaderboard rows and suite scores."""
    groups: dict[GroupKey, list[Mapping[str, Any]]] = collections.defaultdict(list)
    for row in latest_per_trial(results):
        if row["suite"] not in suites:
            logger.warning("skipping results of unknown suite %r", row["suite"])
            continue
        key = (row["suite"], tier_label(row), row["device"], row["task"], row["instance"], row["implementation"])
        groups[key].append(row)

    # problem costs of each group, keyed by (task, instance, label)
    costs: dict[GroupKey, dict[tuple[str, str, str], float]] = {}
    summaries: dict[GroupKey, dict[str, Any]] = {}
    for key, rows in groups.items():
        suite_name, _, _, task_name, _, _ = key
        suite = suites[suite_name]
        if all(row["status"] == "skipped" for row in rows):
            continue
        task = suite.task(task_name)
        params = rows[0]["params"]
        plain_rows = [{"status": row["status"], "metrics": row["metrics"] or {}, "trial": row["trial"], "reason": row["reason"]} for row in rows]
        try:
            problem_costs = suite.problem_costs(task, params, plain_rows)
            summaries[key] = suite.summarize(task, params, plain_rows)
        except Exception:  # noqa: BLE001 - a suite bug in one group must not hide the others
            logger.exception("suite %s failed to score %s", suite_name, key)
            problem_costs, summaries[key] = {"": math.inf}, {}
        costs[key] = {(task_name, key[4], label): float(cost) for label, cost in problem_costs.items()}

    board_rows = _rows(groups, costs, summaries, suites)
    suite_scores = _suite_scores(groups, costs, suites)
    return Leaderboard(rows=board_rows, suite_scores=suite_scores)


def _rows(groups, costs, summaries, suites) -> list[LeaderboardRow]:
    by_instance: dict[tuple, list[GroupKey]] = collections.defaultdict(list)
    for key in groups:
        by_instance[key[:5]].append(key)

    rows = []
    for instance_key, keys in by_instance.items():
        scored = [key for key in keys if key in costs]
        scores, ratios = _profile(scored, costs)
        for key in keys:
            group = groups[key]
            failed = [row for row in group if row["status"] not in ("ok", "skipped")]
            status = _group_status(group)
            suite = suites[key[0]]
            rows.append(
                LeaderboardRow(
                    suite=key[0], tier=key[1], device=key[2], task=key[3], instance=key[4], implementation=key[5],
                    status=status, score=scores.get(key, math.nan), ratio=ratios.get(key, math.nan),
                    trials=len(group), failed=len(failed), reason=failed[0]["reason"] if failed else (
                        group[0]["reason"] if status == "skipped" else ""),
                    metrics=summaries.get(key, {}), bound=suite.task(key[3]).bound,
                )
            )
    rows.sort(key=lambda row: (row.suite, row.tier, row.device, row.task, row.instance, -_sortable(row.score), row.implementation))
    return rows


def _profile(keys: Sequence[GroupKey], costs) -> tuple[dict[GroupKey, float], dict[GroupKey, float]]:
    """Return the profile score and geometric-mean ratio of each key over the keys' problems."""
    if not keys:
        return {}, {}
    problems = sorted({problem for key in keys for problem in costs[key]})
    matrix = np.array([[costs[key].get(problem, math.inf) for problem in problems] for key in keys])
    ratios = stats.ratios_to_best(matrix)
    scores = stats.profile_score(ratios)
    geometric = [_solved_geometric_mean(ratios[index]) for index in range(len(keys))]
    return dict(zip(keys, scores)), dict(zip(keys, geometric))


def _solved_geometric_mean(ratios: np.ndarray) -> float:
    solved = ratios[np.isfinite(ratios)]
    if solved.size == 0:
        return math.inf
    return float(stats.geometric_mean_ratio(solved[None, :])[0])


def _suite_scores(groups, costs, suites) -> list[SuiteScore]:
    by_suite: dict[tuple[str, str, str, str], dict[str, dict]] = collections.defaultdict(lambda: collections.defaultdict(dict))
    failures: collections.Counter = collections.Counter()
    for key, rows in groups.items():
        score_group = suites[key[0]].task(key[3]).score_group
        failures[(key[0], score_group, key[1], key[2], key[5])] += sum(row["status"] not in ("ok", "skipped") for row in rows)
        if key in costs:
            by_suite[(key[0], score_group, key[1], key[2])][key[5]].update(costs[key])

    scores = []
    for (suite, score_group, tier, device), per_implementation in sorted(by_suite.items()):
        names = sorted(per_implementation)
        problems = sorted({problem for values in per_implementation.values() for problem in values})
        matrix = np.array([[per_implementation[name].get(problem, math.inf) for problem in problems] for name in names])
        ratios = stats.ratios_to_best(matrix)
        profile = stats.profile_score(ratios)
        entries = [
            SuiteScore(
                suite=suite, group=score_group, tier=tier, device=device, implementation=name, score=float(profile[index]),
                geometric_mean_ratio=_solved_geometric_mean(ratios[index]),
                solved=int(np.isfinite(ratios[index]).sum()), problems=len(problems),
                failed_cells=failures[(suite, score_group, tier, device, name)],
            )
            for index, name in enumerate(names)
        ]
        entries.sort(key=lambda entry: (-entry.score, _sortable_ratio(entry.geometric_mean_ratio), entry.failed_cells, entry.implementation))
        for rank, entry in enumerate(entries, start=1):
            entry.rank = rank
        scores.extend(entries)
    return scores


def _group_status(rows: Sequence[Mapping[str, Any]]) -> str:
    statuses = [row["status"] for row in rows]
    if all(status == "ok" for status in statuses):
        return "ok"
    if all(status == "skipped" for status in statuses):
        return "skipped"
    failures = collections.Counter(status for status in statuses if status not in ("ok", "skipped"))
    return failures.most_common(1)[0][0]


def _sortable(value: float) -> float:
    return value if value == value else -1.0


def _sortable_ratio(value: float) -> float:
    return value if value == value else math.inf


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
