import math

import pytest

from theorybench.contracts import Metric, Suite, Task
from theorybench.scoring import build_leaderboard, latest_per_trial


class CallsTask(Task):
    name = "calls_task"
    bound = "sqrt(kappa) log(1/eps)"
    metrics = (Metric("calls", direction="min", kind="count"),)
    score_metric = "calls"
    tiers = {"quick": [{"n": 1}, {"n": 2}]}


class ToySuite(Suite):
    name = "toy"

    def tasks(self):
        return [CallsTask()]


_next_id = iter(range(1, 10_000))


def row(implementation, instance, calls, status="ok", trial=0, tier="quick"):
    return {
        "id": next(_next_id), "suite": "toy", "task": "calls_task", "instance": instance, "params": {},
        "implementation": implementation, "tier": tier, "device": "cpu", "trial": trial, "status": status,
        "reason": "" if status == "ok" else "it broke", "metrics": {"calls": calls} if status == "ok" else {},
    }


def test_suite_score_from_profile():
    rows = [
        row("fast", "n=1", 10), row("slow", "n=1", 20),
        row("fast", "n=2", 10), row("slow", "n=2", 50),
    ]
    board = build_leaderboard(rows, {"toy": ToySuite()})
    scores = {entry.implementation: entry for entry in board.suite_scores}
    assert scores["fast"].score == pytest.approx(1.0)
    assert scores["fast"].rank == 1
    # slow: ratio 2 -> 2/3, ratio 5 -> 0; mean 1/3.
    assert scores["slow"].score == pytest.approx(1 / 3)
    assert scores["slow"].geometric_mean_ratio == pytest.approx(math.sqrt(10))


def test_failure_counts_as_unsolved():
    rows = [row("fast", "n=1", 10), row("broken", "n=1", None, status="error")]
    board = build_leaderboard(rows, {"toy": ToySuite()})
    scores = {entry.implementation: entry for entry in board.suite_scores}
    assert scores["broken"].score == 0.0
    assert scores["broken"].solved == 0
    assert scores["broken"].failed_cells == 1
    broken_row = next(item for item in board.rows if item.implementation == "broken")
    assert broken_row.status == "error"
    assert broken_row.reason == "it broke"


def test_unrun_problem_counts_as_unsolved_in_suite_score():
    rows = [row("both", "n=1", 10), row("both", "n=2", 10), row("one", "n=1", 10)]
    board = build_leaderboard(rows, {"toy": ToySuite()})
    scores = {entry.implementation: entry for entry in board.suite_scores}
    assert scores["one"].score == pytest.approx(0.5)
    assert scores["one"].problems == 2


def test_median_over_trials_and_row_fields():
    rows = [row("a", "n=1", calls, trial=trial) for trial, calls in enumerate([10, 30, 20])]
    board = build_leaderboard(rows, {"toy": ToySuite()})
    assert board.rows[0].metrics["calls"] == 20
    record = board.rows[0].as_dict()
    for key in ("suite", "task", "implementation", "tier", "device", "status", "score", "calls"):
        assert key in record
    assert record["bound"] == "sqrt(kappa) log(1/eps)"


def test_latest_result_per_trial_wins():
    old = row("a", "n=1", 100)
    new = row("a", "n=1", 10)
    assert latest_per_trial([new, old]) == [new]


def test_tiers_are_scored_apart():
    rows = [row("a", "n=1", 10, tier="quick"), row("b", "n=1", 5, tier="standard")]
    board = build_leaderboard(rows, {"toy": ToySuite()})
    assert {(entry.tier, entry.implementation, entry.rank) for entry in board.suite_scores} == {("quick", "a", 1), ("standard", "b", 1)}


class TimeTask(CallsTask):
    name = "time_task"
    score_group = "runtime"


class GroupedSuite(Suite):
    name = "toy"

    def tasks(self):
        return [CallsTask(), TimeTask()]


def test_score_groups_are_scored_apart():
    rows = [row("counter", "n=1", 10), row("timer", "n=1", 10)]
    rows[1]["task"] = "time_task"
    board = build_leaderboard(rows, {"toy": GroupedSuite()})
    scores = {(entry.group, entry.implementation): entry for entry in board.suite_scores}
    assert set(scores) == {("", "counter"), ("runtime", "timer")}
    assert scores[("", "counter")].score == pytest.approx(1.0)
    assert scores[("runtime", "timer")].score == pytest.approx(1.0)
    assert scores[("runtime", "timer")].problems == 1


def test_private_salt_results_form_their_own_tier():
    public = row("a", "n=1", 10)
    private = row("a", "n=1", 99)
    private["salt"] = "private:abc"
    board = build_leaderboard([public, private], {"toy": ToySuite()})
    tiers = {item.tier: item.metrics["calls"] for item in board.rows}
    assert tiers == {"quick": 10, "quick (private:abc)": 99}
