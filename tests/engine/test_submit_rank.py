"""A valid external implementation is submitted, run at a tier, stored and ranked."""

from __future__ import annotations

import json
import textwrap

from theorybench.cli import main
from theorybench.store import Store

MODULE = '''
import numpy as np

from theorybench.suites.optimization import Optimizer


class {cls}(Optimizer):
    name = "{name}"
    version = "1.0"
    authors = ("A. Researcher",)
    reference = "https://example.org/{name}"
    devices = ("cpu",)
    tasks = ("least_squares",)

    def run(self, problem, x0):
        x = np.array(x0, dtype=np.float64)
        step = {step} / problem.smoothness
        while True:
            x = x - step * problem.gradient(x)
            yield x
'''


def test_submit_runs_and_ranks(tmp_path, store_url, capsys):
    slow = tmp_path / "slow_gd.py"
    slow.write_text(textwrap.dedent(MODULE.format(cls="SlowGradientDescent", name="slow-gd", step=0.25)))
    fast = tmp_path / "fast_gd.py"
    fast.write_text(textwrap.dedent(MODULE.format(cls="FastGradientDescent", name="fast-gd", step=1.0)))
    selection = ["--tier", "quick", "--task", "least_squares", "--seeds", "1", "--store", store_url]

    assert main(["run", "--impl", str(slow), "--impl", "slow-gd", "--no-leaderboard", *selection]) == 0
    capsys.readouterr()
    code = main(["submit", str(fast), "--suite", "optimization", "--no-leaderboard", *selection])
    output = capsys.readouterr().out
    assert code == 0
    assert "fast-gd: rank 1 of 2 in optimization" in output

    store = Store(store_url)
    submission, = store.submissions()
    assert submission["status"] == "finished"
    assert submission["implementation"] == "fast-gd"
    assert submission["suite"] == "optimization"
    run = store.get_run(submission["run_id"])
    assert run.kind == "submission"
    rows = store.results(run_ids=[run.id])
    assert {row["implementation"] for row in rows} == {"fast-gd"}
    assert all(row["status"] == "ok" for row in rows)

    assert main(["submissions", "--json", "--store", store_url]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(record["id"], record["status"]) for record in listing] == [(submission["id"], "finished")]


def test_submit_records_failed_validation(tmp_path, store_url, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import not_an_installed_package_xyz\n")
    code = main(["submit", str(broken), "--suite", "optimization", "--tier", "quick", "--store", store_url])
    assert code == 1
    assert "1. import" in capsys.readouterr().err
    submission, = Store(store_url).submissions()
    assert submission["status"] == "failed"
    assert "No module named 'not_an_installed_package_xyz'" in submission["reason"]
