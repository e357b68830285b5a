"""asv `track_` benchmarks: every (task, implementation) figure of the quick tier.

`setup_cache` runs the whole quick tier once through the engine (the local executor with two
workers, a temporary SQLite store) and scores it. Every track benchmark then reads its figure
from that cache. Parameters come from the registry when asv imports this module, so a new suite,
task or implementation needs no change here; `registry_cache` keeps the parameter lists on disk
so that asv's many benchmark processes do not each import the registry. Set
THEORYBENCH_ASV_SUITES to a comma-separated list of suites to track only those.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import re
import tempfile

import numpy as np

from benchmarks.registry_cache import cached

logger = logging.getLogger(__name__)

#: Environment variable restricting the tracked suites (comma-separated names).
SUITES_VARIABLE = "THEORYBENCH_ASV_SUITES"
SEPARATOR = "/"


def _selected_suites(registry) -> list:
    wanted = [name for name in os.environ.get(SUITES_VARIABLE, "").split(",") if name]
    suites = registry.suites()
    return [suites[name] for name in wanted if name in suites] if wanted else list(suites.values())


def tracked_pairs() -> dict[str, tuple[str, str]]:
    """Return {"suite/task/implementation": (score metric, unit)} for every quick-tier cell group on CPU."""
    from theorybench.registry import Registry, load_implementation_class

    registry = Registry()
    pairs = {}
    for suite in _selected_suites(registry):
        for task in suite.tasks():
            if not task.instances("quick"):
                continue
            unit = task.metric(task.score_metric).unit if task.score_metric else ""
            for ref in registry.implementations(suite.name):
                implementation = load_implementation_class(ref.module, ref.path, ref.class_name)
                if suite.supports(task, implementation, "cpu"):
                    pairs[SEPARATOR.join((suite.name, task.name, ref.name))] = (task.score_metric, unit)
    return pairs


def _tracked_pairs_as_lists() -> dict[str, list[str]]:
    return {key: list(value) for key, value in tracked_pairs().items()}


try:
    PAIRS = {key: tuple(value) for key, value in cached("scores_pairs", _tracked_pairs_as_lists).items()}
except Exception as error:  # noqa: BLE001 - asv must still import the module to report the failure
    logger.warning("the registry failed to load, no score is tracked: %s", error)
    PAIRS = {}


def setup_cache() -> dict[str, dict[str, float]]:
    """Run the quick tier of the tracked suites once and return every tracked figure."""
    from theorybench.executors.local import LocalExecutor
    from theorybench.plan import PlanRequest, plan_cells
    from theorybench.registry import Registry
    from theorybench.runner import execute_run, start_run
    from theorybench.scoring import build_leaderboard
    from theorybench.seeds import PUBLIC_SALT
    from theorybench.store import Store

    registry = Registry()
    suites = [suite.name for suite in _selected_suites(registry)]
    with tempfile.TemporaryDirectory(prefix="theorybench-asv-") as folder:
        store = Store(f"sqlite:///{folder}/quick.db")
        request = PlanRequest(suites=suites, tier="quick", device="cpu", salt=PUBLIC_SALT)
        cells, refs = plan_cells(registry, request)
        run_id = start_run(store, cells, refs, tier="quick", executor_name="local", salt=PUBLIC_SALT, label="asv")
        preload = tuple(module for name in suites for module in (*registry.suite(name).preload, f"theorybench.suites.{name}"))
        with LocalExecutor(workers=2, preload=preload) as executor:
            execute_run(store, run_id, cells, executor, {(ref.suite, ref.name): ref.source_hash for ref in refs})
        rows = store.results(run_ids=[run_id])
        store.dispose()

    leaderboard = build_leaderboard(rows, registry.suites())
    scores = collections.defaultdict(list)
    for row in leaderboard.rows:
        scores[SEPARATOR.join((row.suite, row.task, row.implementation))].append(row.score)
    figures: dict[str, dict[str, float]] = {}
    for key, (metric, _) in PAIRS.items():
        suite, task, implementation = key.split(SEPARATOR)
        group = [row for row in rows if (row["suite"], row["task"], row["implementation"]) == (suite, task, implementation)]
        values = [row["metrics"].get(metric) for row in group if row["status"] == "ok"]
        values = [float(value) for value in values if isinstance(value, (int, float)) and math.isfinite(value)]
        instance_scores = [score for score in scores.get(key, []) if math.isfinite(score)]
        figures[key] = {
            "score": float(np.mean(instance_scores)) if instance_scores else math.nan,
            "metric": float(np.median(values)) if values else math.nan,
            "failed": float(sum(row["status"] not in ("ok", "skipped") for row in group)),
        }
    return figures


# The whole quick tier runs in setup_cache: allow it up to 30 minutes.
setup_cache.timeout = 1800


def _figure(cache: dict, key: str, name: str) -> float:
    return cache.get(key, {}).get(name, math.nan)


def track_score(cache, key):
    """Mean performance-profile score over the task's quick instances (1 = best everywhere)."""
    return _figure(cache, key, "score")


track_score.params = sorted(PAIRS) or ["none"]
track_score.param_names = ["suite/task/implementation"]
track_score.unit = "score"


def track_failed_cells(cache, key):
    """Quick-tier cells of the pair that failed."""
    return _figure(cache, key, "failed")


track_failed_cells.params = sorted(PAIRS) or ["none"]
track_failed_cells.param_names = ["suite/task/implementation"]
track_failed_cells.unit = "cells"


def _make_metric_benchmark(unit: str, keys: list[str]):
    def track(cache, key):
        return _figure(cache, key, "metric")

    track.__doc__ = f"Median of the task's score metric over successful quick-tier trials, in {unit or 'its unit'}."
    track.params = keys
    track.param_names = ["suite/task/implementation"]
    track.unit = unit or "value"
    return track


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "unitless"


_BY_UNIT: dict[str, list[str]] = collections.defaultdict(list)
for _key, (_metric, _unit) in sorted(PAIRS.items()):
    _BY_UNIT[_unit].append(_key)
for _unit, _keys in _BY_UNIT.items():
    _name = f"track_score_metric_{_slug(_unit)}"
    globals()[_name] = _make_metric_benchmark(_unit, _keys)
    globals()[_name].__name__ = _name
