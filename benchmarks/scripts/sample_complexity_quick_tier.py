"""Measure the quick tier of the sample_complexity suite through the CLI, and check it repeats.

Runs `theorybench run --suite sample_complexity --tier quick --workers 2` twice, each against a
fresh SQLite store in a temporary folder. It reports the wall time of each command, the cell
statuses, the slowest cells, and whether both runs gave identical n* for every cell. The target
is under 180 s per run on 2 cores with 2 workers. The exit code is 1 when a run is slower or
when the n* values differ.

Usage: python benchmarks/scripts/sample_complexity_quick_tier.py [--workers N] [--runs 2]
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from theorybench.store import Store

TARGET_S = 180.0


def cpu_model() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    return next((line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("Model name:")), "unknown")


def run_once(workers: int) -> tuple[float, list[dict]]:
    folder = Path(tempfile.mkdtemp(prefix="sample-complexity-quick-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    command = [
        sys.executable, "-m", "theorybench", "run", "--suite", "sample_complexity", "--tier", "quick",
        "--workers", str(workers), "--store", url, "--no-leaderboard",
    ]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode not in (0, 3):
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(completed.returncode)
    return wall, Store(url).results(suites=["sample_complexity"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--runs", type=int, default=2, help="how many times to run the tier (default: 2)")
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    runs = []
    for index in range(args.runs):
        wall, results = run_once(args.workers)
        statuses = collections.Counter(row["status"] for row in results)
        print(f"run {index + 1}: {wall:.1f} s for {len(results)} cells, statuses {dict(statuses)}")
        runs.append((wall, results))

    slowest = sorted(runs[0][1], key=lambda row: row["wall_s"], reverse=True)[:5]
    print("slowest cells of run 1:")
    for row in slowest:
        print(f"  {row['wall_s']:7.1f} s  {row['task']} / {row['implementation']} ({row['status']})")

    def n_stars(results: list[dict]) -> dict:
        return {(row["task"], row["instance"], row["implementation"], row["trial"]): row["metrics"].get("n_star") for row in results}

    identical = all(n_stars(results) == n_stars(runs[0][1]) for _, results in runs[1:])
    print(f"identical n* across runs: {identical}")
    too_slow = [wall for wall, _ in runs if wall > TARGET_S]
    if too_slow:
        print(f"slower than the {TARGET_S:.0f} s target: {', '.join(f'{wall:.1f} s' for wall in too_slow)}")
    return 0 if identical and not too_slow else 1


if __name__ == "__main__":
    sys.exit(main())
