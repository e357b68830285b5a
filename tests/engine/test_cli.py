"""The `theorybench` command line in real subprocesses against a real SQLite store."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from theorybench.store import Store

FAULTY = str(Path(__file__).with_name("faulty_optimizers.py"))


def theorybench(*args, store_url=None, check_code=None, timeout=300, env=None):
    command = [sys.executable, "-m", "theorybench", *args]
    if store_url:
        command[3:3] = []  # keep the subcommand first; --store goes after it
        command.extend(["--store", store_url])
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check_code is not None:
        assert completed.returncode == check_code, completed.stdout + completed.stderr
    return completed


def test_broken_implementation_exits_3_and_keeps_other_results(store_url):
    completed = theorybench(
        "run", "--suite", "optimization", "--task", "least_squares", "--impl", FAULTY,
        "--impl", "test-good", "--impl", "test-raises", "--impl", "test-exits", "--seeds", "1",
        store_url=store_url, check_code=3,
    )
    assert "deliberate failure after the first iterate" in completed.stderr
    rows = Store(store_url).results()
    statuses = {(row["implementation"], row["status"]) for row in rows}
    assert ("test-good", "ok") in statuses
    assert ("test-raises", "error") in statuses
    assert ("test-exits", "crashed") in statuses
    assert "test-good" in completed.stdout  # the leaderboard is printed


def test_leaderboard_formats(store_url, tmp_path):
    theorybench("run", "--suite", "optimization", "--task", "least_squares", "--impl", FAULTY,
                "--impl", "test-good", "--impl", "test-raises", "--seeds", "1", store_url=store_url, check_code=3)

    records = json.loads(theorybench("leaderboard", "--format", "json", store_url=store_url, check_code=0).stdout)
    assert records
    for key in ("suite", "task", "implementation", "tier", "device", "status", "score"):
        assert key in records[0]
    good = [record for record in records if record["implementation"] == "test-good"]
    assert good[0]["status"] == "ok"
    assert "calls_total" in good[0]
    broken = [record for record in records if record["implementation"] == "test-raises"]
    assert broken[0]["status"] == "error"

    csv_text = theorybench("leaderboard", "--format", "csv", store_url=store_url, check_code=0).stdout
    assert csv_text.splitlines()[0].startswith("suite,task,instance,implementation")
    markdown = theorybench("leaderboard", "--format", "markdown", store_url=store_url, check_code=0).stdout
    assert markdown.startswith("| suite | task |")
    scores = json.loads(theorybench("leaderboard", "--format", "json", "--suite-scores", store_url=store_url, check_code=0).stdout)
    assert {score["implementation"] for score in scores} == {"test-good", "test-raises"}

    for fmt in ("parquet", "csv", "json"):
        output = tmp_path / fmt
        theorybench("export", "--format", fmt, "--output", str(output), store_url=store_url, check_code=0)
        assert (output / f"results.{fmt}").stat().st_size > 0
        assert (output / f"curves.{fmt}").stat().st_size > 0

    listing = theorybench("show", store_url=store_url, check_code=0).stdout
    run_id = Store(store_url).latest_run_id()
    assert run_id in listing
    detail = theorybench("show", run_id, "--traceback", store_url=store_url, check_code=0).stdout
    assert "RuntimeError" in detail
    assert "fingerprint" in detail


def test_same_command_twice_gives_identical_counts(store_url):
    arguments = ("run", "--suite", "optimization", "--task", "least_squares", "--impl", FAULTY, "--impl", "test-good", "--seeds", "2")
    theorybench(*arguments, store_url=store_url, check_code=0)
    theorybench(*arguments, store_url=store_url, check_code=0)
    store = Store(store_url)
    first_run, second_run = [run.id for run in reversed(store.runs())]

    def counts(run_id):
        rows = store.results(run_ids=[run_id])
        return {
            (row["instance"], row["trial"]): {name: value for name, value in row["metrics"].items() if not name.startswith("time")}
            for row in rows
        }

    assert counts(first_run) == counts(second_run)
    assert len(counts(first_run)) >= 2


def test_private_salt_changes_instances(store_url):
    arguments = ("run", "--suite", "optimization", "--task", "least_squares", "--impl", FAULTY, "--impl", "test-good", "--seeds", "1", "--no-leaderboard")
    theorybench(*arguments, store_url=store_url, check_code=0)
    theorybench(*arguments, "--salt", "held-out", store_url=store_url, check_code=0)
    store = Store(store_url)
    public_run, private_run = [run for run in reversed(store.runs())]
    assert private_run.salt.startswith("private:")
    assert "held-out" not in private_run.command
    assert "--salt" in private_run.command
    public = {row["instance"]: row["metrics"]["calls_total"] for row in store.results(run_ids=[public_run.id]) if "synthetic" in row["instance"]}
    private = {row["instance"]: row["metrics"]["calls_total"] for row in store.results(run_ids=[private_run.id]) if "synthetic" in row["instance"]}
    assert public.keys() == private.keys()
    assert public != private


def test_resume_after_kill_loses_and_repeats_nothing(store_url):
    command = [sys.executable, "-m", "theorybench", "run", "--suite", "optimization", "--task", "least_squares",
               "--impl", FAULTY, "--impl", "test-slow", "--seeds", "3", "--workers", "1", "--store", store_url]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if store is None and Path(store_url.removeprefix("sqlite:///")).exists():
            try:
                store = Store(store_url)
            except Exception:
                continue
        if store is not None and len(store.results()) >= 2:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert store is not None
    run = store.runs()[0]
    finished_before = {row["cell_key"] for row in store.results(run_ids=[run.id])}
    assert 2 <= len(finished_before) < len(run.plan)

    theorybench("run", "--resume", run.id, "--no-leaderboard", store_url=store_url, check_code=0)
    rows = store.results(run_ids=[run.id])
    keys = [row["cell_key"] for row in rows]
    assert len(keys) == len(set(keys)), "a cell ran twice"
    assert set(keys) == {cell.key for cell in run.cells()}
    assert finished_before <= set(keys)
    assert store.get_run(run.id).status == "finished"


def test_resume_refuses_another_salt(store_url):
    theorybench("run", "--suite", "optimization", "--task", "least_squares", "--impl", FAULTY, "--impl", "test-good",
                "--seeds", "1", "--salt", "secret", "--no-leaderboard", store_url=store_url, check_code=0)
    run_id = Store(store_url).latest_run_id()
    completed = theorybench("run", "--resume", run_id, store_url=store_url, check_code=2)
    assert "--salt" in completed.stderr


@pytest.mark.parametrize(
    "arguments,message",
    [
        (("run", "--tier", "huge"), "invalid choice"),
        (("run", "--impl", "does_not_exist.py"), "implementation file not found: does_not_exist.py"),
        (("run", "--suite", "nope"), "unknown suite 'nope'"),
        (("run", "--suite", "optimization", "--task", "nope"), "unknown task nope"),
        (("run", "--suite", "optimization", "--impl", "nope"), "unknown implementation nope"),
        (("run", "--seeds", "0", "--suite", "optimization"), "--seeds must be at least 1"),
        (("run", "--timeout", "0", "--suite", "optimization"), "--timeout must be positive, got 0"),
        (("run", "--memory-mb", "-5", "--suite", "optimization"), "--memory-mb must be positive, got -5"),
        (("run", "--workers", "0", "--suite", "optimization"), "--workers must be positive, got 0"),
        (("run", "--resume", "no-such-run"), "no run 'no-such-run'"),
        (("show", "no-such-run"), "no run 'no-such-run'"),
        (("leaderboard", "--suite", "nope"), "unknown suite nope"),
        (("leaderboard", "--tier", "huge"), "unknown tier huge"),
    ],
)
def test_usage_errors_exit_2(store_url, arguments, message):
    completed = theorybench(*arguments, store_url=store_url, check_code=2)
    assert message in completed.stderr.replace("\n", " ")


def test_module_with_syntax_error_names_file_and_line(store_url, tmp_path):
    module = tmp_path / "broken_syntax.py"
    module.write_text("from theorybench.suites.optimization import Optimizer\n\nclass Bad(Optimizer)\n    name = 'bad'\n")
    completed = theorybench("run", "--impl", str(module), store_url=store_url, check_code=2)
    assert f"{module}:3" in completed.stderr.replace("\n", "")
    assert "SyntaxError" in completed.stderr


def test_module_with_failing_import_names_file(store_url, tmp_path):
    module = tmp_path / "missing_dependency.py"
    module.write_text("import numpy\nimport a_package_that_is_not_installed\n")
    completed = theorybench("run", "--impl", str(module), store_url=store_url, check_code=2)
    text = completed.stderr.replace("\n", "")
    assert f"{module}:2" in text
    assert "ModuleNotFoundError" in text


def test_module_without_contract_class(store_url, tmp_path):
    module = tmp_path / "no_contract.py"
    module.write_text("class Optimizer:\n    name = 'fake'\n")
    completed = theorybench("run", "--impl", str(module), store_url=store_url, check_code=2)
    assert "defines no implementation" in completed.stderr.replace("\n", "")


def test_corrupt_store_exits_4(tmp_path):
    path = tmp_path / "theorybench.db"
    path.write_text("garbage" * 1000)
    completed = theorybench("leaderboard", store_url=f"sqlite:///{path}", check_code=4)
    assert "is not a SQLite database" in completed.stderr.replace("\n", "")


def test_list_shows_tasks_with_bounds(store_url):
    payload = json.loads(theorybench("list", "--json", store_url=store_url, check_code=0).stdout)
    optimization = next(suite for suite in payload if suite["suite"] == "optimization")
    assert all(task["bound"] for task in optimization["tasks"])


def test_empty_store_leaderboard_explains(store_url):
    completed = theorybench("leaderboard", store_url=store_url, check_code=0)
    assert "theorybench run --tier quick" in completed.stdout


def test_cuda_cells_are_skipped_without_gpu(store_url):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU, so CUDA cells run")
    completed = theorybench("run", "--suite", "optimization", "--task", "least_squares", "--impl", FAULTY,
                            "--impl", "test-good", "--seeds", "1", "--device", "cuda", store_url=store_url, check_code=2)
    assert "select no cell" in completed.stderr


def test_auto_device_resolves_to_cpu_without_gpu():
    import torch

    from theorybench.plan import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"


def test_run_rejects_module_that_reaches_into_counters(store_url, tmp_path):
    module = tmp_path / "tamper.py"
    module.write_text(
        "from theorybench.suites.optimization import Optimizer\n\n"
        "class Tamper(Optimizer):\n"
        "    name = 'tamper'\n\n"
        "    def run(self, problem, x0):\n"
        "        counter = getattr(problem, '_' + 'counter')\n"
        "        problem._counter._total = 0.0\n"
        "        yield x0\n"
    )
    completed = theorybench("run", "--impl", str(module), "--impl", "tamper", store_url=store_url, check_code=2)
    text = completed.stderr.replace("\n", " ")
    assert "failed the static check" in text
    assert f"{module}:7" in text
    assert f"{module}:8" in text
    assert Store(store_url).results() == []


@pytest.mark.parametrize("url_form", ["plain-path", "folder", "missing-folder", "unknown-scheme"])
def test_unusable_store_argument_exits_2(tmp_path, url_form):
    url = {
        "plain-path": str(tmp_path / "store.db"),
        "folder": f"sqlite:///{tmp_path}",
        "missing-folder": f"sqlite:///{tmp_path / 'missing' / 'store.db'}",
        "unknown-scheme": "nosuchdb://localhost/x",
    }[url_form]
    completed = theorybench("leaderboard", store_url=url, check_code=2)
    assert "store" in completed.stderr


def test_export_to_a_file_path_exits_2(store_url, tmp_path):
    target = tmp_path / "existing.txt"
    target.write_text("keep me")
    completed = theorybench("export", "--format", "csv", "--output", str(target), store_url=store_url, check_code=2)
    assert "is a file" in completed.stderr
    assert target.read_text() == "keep me"


def test_sigterm_marks_run_interrupted_and_resumable(store_url):
    command = [sys.executable, "-m", "theorybench", "run", "--suite", "optimization", "--task", "least_squares",
               "--impl", FAULTY, "--impl", "test-slow", "--seeds", "3", "--workers", "1", "--store", store_url]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    store = None
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            store = Store(store_url)
        except Exception:
            continue
        if store.results():
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    run = store.runs()[0]
    assert run.status == "interrupted"
    assert f"theorybench run --resume {run.id}" in stderr.replace("\n", "")
