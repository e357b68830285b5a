"""`theorybench compare`: exact counts, significant timings, fingerprints, exit codes."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import numpy as np
import pytest

from theorybench import stats
from theorybench.cli import main
from theorybench.compare import compare, git_resolve
from theorybench.impls.optimization.gradient import GradientDescent
from theorybench.provenance import machine_fingerprint
from theorybench.registry import Registry
from theorybench.store import Store
from theorybench.testing import make_cell
from theorybench.worker import CellResult

PARAMS = {"data": "synthetic", "n": 200, "d": 50, "kappa": 100.0, "budget": 1500}


def lognormal_timings(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    return scale * 0.010 * rng.lognormal(0.0, 0.05, n)


def test_injected_slowdown_is_flagged():
    rng = np.random.default_rng(1)
    before = lognormal_timings(rng, 20)
    after = lognormal_timings(rng, 20, scale=1.3)
    result, = stats.timing_changes([(before, after)])
    assert result["change"] == "slower"
    assert result["p_adjusted"] < stats.TIMING_ALPHA
    assert 1.2 < result["ratio"] < 1.4


def test_small_slowdown_below_factor_not_flagged():
    rng = np.random.default_rng(2)
    before = lognormal_timings(rng, 200)
    after = lognormal_timings(rng, 200, scale=1.05)
    result, = stats.timing_changes([(before, after)], factor=1.1)
    assert result["p_adjusted"] < stats.TIMING_ALPHA
    assert result["change"] == "unchanged"


def test_unchanged_timings_false_positive_rate():
    flagged_calls = 0
    seeds = 200
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        pairs = [(lognormal_timings(rng, 10), lognormal_timings(rng, 10)) for _ in range(100)]
        results = stats.timing_changes(pairs, factor=1.0)
        flagged_calls += any(result["change"] != "unchanged" for result in results)
    # Under the null hypothesis BH at 0.002 keeps the chance of any flag in a call near 0.002.
    assert flagged_calls <= 3


def test_one_slowdown_among_unchanged_is_flagged():
    rng = np.random.default_rng(3)
    pairs = [(lognormal_timings(rng, 10), lognormal_timings(rng, 10)) for _ in range(99)]
    pairs.append((lognormal_timings(rng, 10), lognormal_timings(rng, 10, scale=1.3)))
    results = stats.timing_changes(pairs)
    assert [index for index, result in enumerate(results) if result["change"] != "unchanged"] == [99]


def add_run(store: Store, *, commit: str, calls: list[float], times: list[float], fingerprint: dict | None = None,
            failed_trial: int | None = None) -> str:
    cells = [make_cell("optimization", "least_squares", PARAMS, GradientDescent, trial=trial) for trial in range(len(calls))]
    run_id = store.create_run(command="test", tier="quick", executor="local", salt="public", git_commit=commit, git_dirty=False,
                              fingerprint=fingerprint or machine_fingerprint(), packages={}, cells=cells)
    run = store.get_run(run_id)
    for trial, (cell, count, seconds) in enumerate(zip(cells, calls, times)):
        status = "error" if trial == failed_trial else "ok"
        result = CellResult(cell=cell, status=status, reason="RuntimeError: injected" if status != "ok" else "",
                            metrics={"calls_to_1e-06": count, "reached_1e-06": 1, "time_total_s": seconds}, wall_s=seconds)
        store.add_result(run_id, result, fingerprint_id=run.fingerprint_id, git_commit=commit)
    store.set_run_status(run_id, "finished")
    return run_id


@pytest.fixture
def suites():
    return Registry().suites()


def test_compare_flags_count_and_timing_regressions(store_url, suites):
    store = Store(store_url)
    rng = np.random.default_rng(4)
    calls = [400.0] * 12
    before = add_run(store, commit="a" * 40, calls=calls, times=list(lognormal_timings(rng, 12)))
    after = add_run(store, commit="b" * 40, calls=[*calls[:-1], 401.0], times=list(lognormal_timings(rng, 12, scale=1.3)))
    comparison = compare(store, suites, before, after)
    kinds = {(change.kind, change.metric): change for change in comparison.changes}
    count = kinds[("count", "calls_to_1e-06")]
    assert count.verdict == "regression"
    assert count.trials == "1/12 differ"
    timing = kinds[("time", "time_total_s")]
    assert timing.verdict == "regression"
    assert timing.p_adjusted < stats.TIMING_ALPHA
    assert comparison.timings_refused == ""


def test_compare_identical_counts_exit_zero(store_url, capsys):
    store = Store(store_url)
    rng = np.random.default_rng(5)
    before = add_run(store, commit="a" * 40, calls=[400.0] * 8, times=list(lognormal_timings(rng, 8)))
    after = add_run(store, commit="b" * 40, calls=[400.0] * 8, times=list(lognormal_timings(rng, 8)))
    assert main(["compare", before, after, "--store", store_url]) == 0
    assert "no changes" in capsys.readouterr().out


def test_compare_refuses_timings_across_fingerprints(store_url, suites, capsys):
    store = Store(store_url)
    rng = np.random.default_rng(6)
    other = dict(machine_fingerprint(), cpu="Another CPU", id="0123456789abcdef")
    before = add_run(store, commit="a" * 40, calls=[400.0] * 10, times=list(lognormal_timings(rng, 10)))
    after = add_run(store, commit="b" * 40, calls=[390.0] * 10, times=list(lognormal_timings(rng, 10, scale=2.0)),
                    fingerprint=other)
    comparison = compare(store, suites, before, after)
    assert "different machine fingerprints" in comparison.timings_refused
    assert "Another CPU" in comparison.timings_refused
    assert comparison.timing_comparisons == 0
    assert [(change.kind, change.verdict) for change in comparison.changes] == [("count", "improvement")]
    assert main(["compare", before, after, "--store", store_url]) == 0
    assert "timings not compared" in capsys.readouterr().err


def test_compare_exit_codes(store_url, capsys):
    store = Store(store_url)
    rng = np.random.default_rng(7)
    base = add_run(store, commit="a" * 40, calls=[400.0] * 4, times=list(lognormal_timings(rng, 4)))
    worse = add_run(store, commit="b" * 40, calls=[410.0] * 4, times=list(lognormal_timings(rng, 4)))
    failing = add_run(store, commit="c" * 40, calls=[400.0] * 4, times=list(lognormal_timings(rng, 4)), failed_trial=2)
    assert main(["compare", base, worse, "--store", store_url]) == 1
    capsys.readouterr()
    assert main(["compare", base, failing, "--store", store_url, "--json"]) == 3
    payload = json.loads(capsys.readouterr().out)
    assert payload["failed_cells_after"] == 1
    assert any(change["verdict"] == "failed" for change in payload["changes"])
    assert main(["compare", base, "no-such-run", "--store", store_url]) == 2


def test_compare_resolves_commits_and_tags(tmp_path, store_url, suites):
    repository = tmp_path / "repository"
    repository.mkdir()
    git = ["git", "-C", str(repository), "-c", "user.name=Test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    commits = []
    for number in range(2):
        (repository / "file.txt").write_text(str(number))
        subprocess.run([*git, "add", "file.txt"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"commit {number}"], check=True)
        commits.append(subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip())
    subprocess.run([*git, "tag", "v1.0", commits[0]], check=True)
    assert git_resolve("v1.0", repository) == commits[0]
    assert git_resolve("no-such-tag", repository) is None

    store = Store(store_url)
    rng = np.random.default_rng(8)
    for _ in range(2):
        add_run(store, commit=commits[0], calls=[400.0] * 4, times=list(lognormal_timings(rng, 4)))
    add_run(store, commit=commits[1], calls=[380.0] * 4, times=list(lognormal_timings(rng, 4)))
    comparison = compare(store, suites, "v1.0", commits[1][:8], cwd=repository)
    assert comparison.before.kind == "commit"
    assert len(comparison.before.run_ids) == 2
    assert comparison.after.commit == commits[1]
    assert [change.verdict for change in comparison.changes] == ["improvement"]


def test_compare_real_runs_have_identical_counts(store_url, capsys):
    selection = ["--tier", "quick", "--task", "least_squares", "--impl", "gd", "--seeds", "1", "--store", store_url,
                 "--no-leaderboard"]
    assert main(["run", *selection]) == 0
    assert main(["run", *selection]) == 0
    first, second = sorted(run.id for run in Store(store_url).runs())
    capsys.readouterr()
    assert main(["compare", first, second, "--store", store_url, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [change for change in payload["changes"] if change["kind"] in ("count", "value", "status")] == []
    assert payload["compared_cells"] == 3
    assert payload["compared_values"] > 30
