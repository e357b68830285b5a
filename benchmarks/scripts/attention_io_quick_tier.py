"""Time the quick tier of the attention_io suite through the CLI and list the slowest cells.

Runs `theorybench run --suite attention_io --tier quick --device cpu --workers 2` against a fresh
SQLite store, reports the wall time and the exit code, then reads the per-cell wall times back
from the store and sums them by task and by implementation.

Usage: python benchmarks/scripts/attention_io_quick_tier.py [--workers 2]
"""

from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the local executor")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "quick.db"
        command = [
            sys.executable, "-m", "theorybench", "run", "--suite", "attention_io", "--tier", "quick",
            "--device", "cpu", "--workers", str(args.workers), "--no-leaderboard", "--store", f"sqlite:///{store}",
        ]
        print(f"load average before the run: {os.getloadavg()[0]:.1f}")
        start = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
        print(f"wall time {wall:.1f} s, exit code {completed.returncode}")
        if completed.returncode not in (0, 1, 3):
            print(completed.stderr[-2000:])
            return

        connection = sqlite3.connect(store)
        rows = connection.execute("select task, implementation, instance, status, wall_s from results").fetchall()
        connection.close()

    statuses = collections.Counter(status for _, _, _, status, _ in rows)
    print(f"{len(rows)} cells: " + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())))
    print(f"sum of cell times {sum(row[4] for row in rows):.1f} s")
    for index, label in ((0, "task"), (1, "implementation")):
        totals = collections.Counter()
        for row in rows:
            totals[row[index]] += row[4]
        print(f"by {label}: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in totals.most_common()))
    slowest = sorted(rows, key=lambda row: -row[4])[:5]
    print("slowest cells:")
    for task, implementation, instance, status, seconds in slowest:
        print(f"  {seconds:6.1f} s  {task} {implementation} {instance} ({status})")


if __name__ == "__main__":
    main()
