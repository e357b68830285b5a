"""The optimization suite end to end: CLI, warm worker processes and a real SQLite store."""

import subprocess
import sys
import textwrap

from theorybench.store import Store

BROKEN_OPTIMIZER = textwrap.dedent(
    '''
    """An optimizer whose second iterate is NaN."""

    import numpy as np

    from theorybench.suites.optimization import Optimizer


    class NaNOptimizer(Optimizer):
        name = "nan-optimizer"
        reference = "test fixture (2026)"
        tasks = ("lasso",)

        def run(self, problem, x0):
            yield problem.prox(x0 - problem.gradient(x0) / problem.smoothness, 1.0 / problem.smoothness)
            yield np.full(problem.shape, np.nan)
    '''
)


def test_lasso_run_stores_results_and_curves(tmp_path):
    module = tmp_path / "nan_optimizer.py"
    module.write_text(BROKEN_OPTIMIZER)
    url = f"sqlite:///{tmp_path / 'results.db'}"
    command = [
        sys.executable, "-m", "theorybench", "run", "--suite", "optimization", "--task", "lasso",
        "--tier", "quick", "--impl", "ista", "--impl", "fista", "--impl", str(module), "--impl", "nan-optimizer",
        "--workers", "2", "--store", url, "--no-leaderboard",
    ]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    assert completed.returncode == 3, completed.stdout + completed.stderr
    rows = Store(url).results(suites=["optimization"])
    statuses = {(row["implementation"], row["status"]) for row in rows}
    assert len(rows) == 2 * 3 * 2
    assert statuses == {("ista", "ok"), ("fista", "ok"), ("nan-optimizer", "invalid")}
    reasons = {row["reason"] for row in rows if row["status"] == "invalid"}
    assert reasons == {"iterate 2 has a non-finite entry: x[0] = nan"}

    ok_ids = [row["id"] for row in rows if row["status"] == "ok"]
    curves = Store(url).curves(ok_ids)
    assert {row["result_id"] for row in curves} == set(ok_ids)
    assert {row["name"] for row in curves} == {"measure_vs_calls", "measure_vs_time"}
