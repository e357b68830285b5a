"""Time the first render of the suite leaderboard page over a generated store of 100k results.

Steps:
1. A real quick run of one suite (one trial per instance, two implementations) gives template
   results with realistic metrics, or `--template-store` supplies them.
2. The templates are replicated into `--results` rows under `--implementations` generated names,
   with several trials and as many runs (commits) as it takes. Each metric is scaled by a
   per-implementation factor and a small per-trial noise.
3. Fresh Python processes run the app's suite page with AppTest and a cold cache, timing
   `AppTest.run()`, and, separately, the data path alone (filter values and load, score, table).
4. Other processes render the page once (as a running server has), clear the data cache, and
   time the next render: the first render a user of a running server sees after a new run.

    python benchmarks/scripts/leaderboard_render.py --output /tmp/leaderboard-bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[2]
APP = REPOSITORY / "leaderboard" / "app.py"
logger = logging.getLogger("leaderboard_render")

TIMING_CHILD = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
started = time.perf_counter()
app = AppTest.from_file(sys.argv[1], default_timeout=600)
app.switch_page("app_pages/suite.py")
app.run()
elapsed = time.perf_counter() - started
assert not app.exception, [element.value for element in app.exception]
table = [element.value for element in app.dataframe if {"rank", "page"} <= set(element.value.columns)][0]
print(json.dumps({"render_s": elapsed, "rows": len(table)}))
"""

# A running server has imported Streamlit, the engine and the suites, and scanned its components,
# already. This child renders the page once to get there, clears the data cache (as a new run in
# the store does), then times the page's next run in the same AppTest session.
WARM_CHILD = r"""
import json, sys, time
import streamlit as st
from streamlit.testing.v1 import AppTest
warm = AppTest.from_file(sys.argv[1], default_timeout=600)
warm.switch_page("app_pages/suite.py")
warm.run()
st.cache_data.clear()
started = time.perf_counter()
warm.run()
elapsed = time.perf_counter() - started
assert not warm.exception, [element.value for element in warm.exception]
print(json.dumps({"render_s": elapsed}))
"""

DATA_CHILD = r"""
import json, sys, time
started = time.perf_counter()
from theorybench import views
from theorybench.registry import discover_suites
from theorybench.store import Store
suites = discover_suites()
imported = time.perf_counter()
store = Store(sys.argv[1], create=False)
results = views.results_frame(store, suites=[sys.argv[2]], latest_only=True)
facets = views.result_facets(store, sys.argv[2])
loaded = time.perf_counter()
rows, scores = views.leaderboard_frames(results, suites)
scored = time.perf_counter()
tier, device = scores.iloc[0]["tier"], scores.iloc[0]["device"]
table = views.suite_table(rows, scores, suites[sys.argv[2]], tier, device)
done = time.perf_counter()
print(json.dumps({"latest_results": len(results), "import_s": imported - started, "load_s": loaded - imported,
                  "score_s": scored - loaded, "table_s": done - scored, "rows": len(table)}))
"""


def template_run(url: str, suite: str) -> None:
    command = [sys.executable, "-m", "theorybench.cli", "run", "--store", url, "--suite", suite, "--tier", "quick",
               "--seeds", "1", "--impl", "gd", "--impl", "nesterov"]
    logger.info("template run: %s", " ".join(command))
    subprocess.run(command, check=True, cwd=REPOSITORY, stdout=subprocess.DEVNULL)


def generate(url: str, total: int, implementations: int, trials: int, seed: int) -> int:
    """Replicate the template results into `total` rows; return the number of runs written."""
    import sqlalchemy as sa

    from theorybench.store import Store, results_table, runs_table

    store = Store(url)
    templates = [row for row in store.results() if row["status"] == "ok"]
    if not templates:
        raise SystemExit("the template run produced no ok result")
    rng = np.random.default_rng(seed)
    names = [f"generated-{index:03d}" for index in range(implementations)]
    factors = dict(zip(names, rng.uniform(1.0, 3.0, size=implementations)))
    per_run = len(templates) * implementations * trials
    runs = math.ceil(total / per_run)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    written = 0
    with store.engine.begin() as connection:
        for run_index in range(runs):
            run_id = f"generated-{run_index:04d}"
            started = start + dt.timedelta(days=run_index)
            commit = f"{run_index:040x}"
            connection.execute(runs_table.insert().values(
                id=run_id, kind="run", status="finished", command="generated", tier="quick", executor="local",
                salt="public", git_commit=commit, git_dirty=False, fingerprint_id="generated", fingerprint={},
                packages={}, plan=[], label="generated", started_at=started, finished_at=started,
            ))
            batch = []
            for template in templates:
                for name in names:
                    for trial in range(trials):
                        if written + len(batch) >= total:
                            break
                        noise = float(rng.uniform(0.95, 1.05))
                        metrics = {
                            key: (value * factors[name] * noise if isinstance(value, float) and not key.startswith(("reached_", "success_")) else value)
                            for key, value in template["metrics"].items()
                        }
                        batch.append(dict(
                            run_id=run_id, cell_key=f"{run_index}-{name}-{trial}", suite=template["suite"], task=template["task"],
                            instance=template["instance"], params=template["params"], implementation=name,
                            source_hash="generated", tier=template["tier"], device=template["device"], trial=trial,
                            status="ok", reason="", traceback="", metrics=metrics, info={}, fingerprint_id="generated",
                            git_commit=commit, started_at=started, finished_at=started, wall_s=0.1, worker_pid=0,
                        ))
            if batch:
                connection.execute(results_table.insert(), batch)
                written += len(batch)
    with store.engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(results_table)).scalar_one()
    store.dispose()
    logger.info("generated %d results in %d runs (%d rows in the store)", written, runs, count)
    return runs


def child(code: str, *args: str, url: str) -> dict:
    environment = dict(os.environ, THEORYBENCH_STORE=url)
    completed = subprocess.run([sys.executable, "-c", code, *args], env=environment, capture_output=True, text=True,
                               check=True, cwd=REPOSITORY)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="folder for the generated store (reused when present)")
    parser.add_argument("--suite", default="optimization", help="suite of the template run (default: optimization)")
    parser.add_argument("--results", type=int, default=100_000, help="generated results (default: 100000)")
    parser.add_argument("--implementations", type=int, default=50, help="generated implementations (default: 50)")
    parser.add_argument("--trials", type=int, default=5, help="trials per cell and run (default: 5)")
    parser.add_argument("--template-store", type=Path, default=None,
                        help="a SQLite store with real results to copy as the templates, instead of the template run")
    parser.add_argument("--repeat", type=int, default=3, help="cold renders to time, each in a fresh process (default: 3)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "leaderboard-bench.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        if args.template_store is not None:
            shutil.copyfile(args.template_store, path)
        else:
            template_run(url, args.suite)
        generate(url, args.results, args.implementations, args.trials, seed=0)

    data = [child(DATA_CHILD, url, args.suite, url=url) for _ in range(args.repeat)]
    renders = [child(TIMING_CHILD, str(APP), url=url) for _ in range(args.repeat)]
    warm_renders = [child(WARM_CHILD, str(APP), url=url) for _ in range(args.repeat)]
    print(json.dumps({"data_path": data, "first_render": renders, "warm_server_render": warm_renders}, indent=1))
    print(f"first render of the suite leaderboard ({args.results} generated results, {data[0]['latest_results']} newest per trial): "
          f"median {np.median([r['render_s'] for r in renders]):.2f} s over {len(renders)} cold processes "
          f"(data path alone: facets and load {np.median([d['load_s'] for d in data]):.2f} s, "
          f"score {np.median([d['score_s'] for d in data]):.2f} s, table {np.median([d['table_s'] for d in data]):.2f} s)")
    print(f"first render on a warm server with a cleared data cache: median {np.median([r['render_s'] for r in warm_renders]):.2f} s "
          f"over {len(warm_renders)} processes")


if __name__ == "__main__":
    main()
