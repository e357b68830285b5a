"""`theorybench history`: a metric over commits with its change points."""

from __future__ import annotations

import json

import numpy as np

from theorybench import stats
from theorybench.cli import main
from theorybench.history import metric_history
from theorybench.impls.optimization.gradient import GradientDescent
from theorybench.provenance import machine_fingerprint
from theorybench.registry import Registry
from theorybench.store import Store
from theorybench.testing import make_cell
from theorybench.worker import CellResult

PARAMS = {"data": "synthetic", "n": 200, "d": 50, "kappa": 100.0, "budget": 1500}


def test_change_points_find_injected_step():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(1.0, 0.05, 15), rng.normal(1.3, 0.05, 15)]
    assert stats.change_points(values) == [15]


def test_change_points_noiseless_counts():
    assert stats.change_points([400, 400, 400, 380, 380, 380, 380]) == [3]
    assert stats.change_points([400, 400, 400]) == []


def test_change_points_false_alarms_on_noise_are_rare():
    false_alarms = sum(bool(stats.change_points(np.random.default_rng(seed).normal(1.0, 0.05, 40))) for seed in range(100))
    assert false_alarms <= 8


def fill_history(store: Store, times: list[float], calls: list[float]) -> list[str]:
    commits = [f"{index:040x}" for index in range(1, len(times) + 1)]
    cell = make_cell("optimization", "least_squares", PARAMS, GradientDescent)
    for commit, seconds, count in zip(commits, times, calls):
        run_id = store.create_run(command="test", tier="quick", executor="local", salt="public", git_commit=commit,
                                  git_dirty=False, fingerprint=machine_fingerprint(), packages={}, cells=[cell])
        result = CellResult(cell=cell, status="ok", metrics={"calls_to_1e-06": count, "time_total_s": seconds}, wall_s=seconds)
        store.add_result(run_id, result, fingerprint_id=machine_fingerprint()["id"], git_commit=commit)
    return commits


def test_history_marks_injected_step(store_url, capsys):
    store = Store(store_url)
    rng = np.random.default_rng(1)
    times = list(np.r_[rng.normal(0.010, 0.0005, 10), rng.normal(0.013, 0.0005, 10)])
    calls = [400.0] * 14 + [380.0] * 6
    commits = fill_history(store, times, calls)
    history = metric_history(store, Registry().suites(), "least_squares", "gd", "time_total_s")
    points, = history.series.values()
    assert [point.commit for point in points] == commits
    assert [index for index, point in enumerate(points) if point.change] == [10]
    assert 1.2 < points[10].shift < 1.4

    assert main(["history", "--task", "least_squares", "--impl", "gd", "--store", store_url, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["metric"] == "calls_to_1e-06"
    series, = payload["series"].values()
    assert [index for index, point in enumerate(series) if point["change"]] == [14]
    assert series[14]["value"] == 380.0
