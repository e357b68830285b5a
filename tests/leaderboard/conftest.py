"""A store filled once per test session by a real `theorybench run`, shared by the app tests."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from theorybench.store import Store

REPOSITORY = Path(__file__).resolve().parents[2]
APP = REPOSITORY / "leaderboard" / "app.py"
SUITE = "optimization"
TASKS = ("least_squares", "logistic_l2")
IMPLEMENTATIONS = ("gd", "nesterov")


@dataclasses.dataclass(frozen=True)
class FilledStore:
    url: str
    path: Path
    run_ids: tuple[str, ...]
    suite: str = SUITE
    tasks: tuple[str, ...] = TASKS
    implementations: tuple[str, ...] = IMPLEMENTATIONS


def _run(url: str, implementations: tuple[str, ...], tasks: tuple[str, ...]) -> None:
    command = [sys.executable, "-m", "theorybench.cli", "run", "--store", url, "--suite", SUITE, "--tier", "quick", "--seeds", "2"]
    for task in tasks:
        command += ["--task", task]
    for name in implementations:
        command += ["--impl", name]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPOSITORY)
    assert completed.returncode == 0, f"{' '.join(command)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"


@pytest.fixture(scope="session")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> FilledStore:
    """Two real runs (both implementations on two tasks, then gd again on one) and two submissions."""
    path = tmp_path_factory.mktemp("store") / "theorybench.db"
    url = f"sqlite:///{path}"
    _run(url, IMPLEMENTATIONS, TASKS)
    _run(url, ("gd",), TASKS[:1])
    store = Store(url)
    run_ids = tuple(run.id for run in store.runs())
    pending = store.create_submission(path="/submissions/my_optimizer.py", suite=SUITE, implementation="my-optimizer", tier="quick")
    failed = store.create_submission(path="/submissions/broken.py", suite=SUITE, implementation="broken", tier="quick")
    store.update_submission(failed, status="failed", reason="smoke run: iterate has shape (3,), expected (50,)")
    assert pending != failed
    store.dispose()
    return FilledStore(url=url, path=path, run_ids=run_ids)
