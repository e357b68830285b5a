"""Measure the quick tier of the optimization suite through the CLI, as a user runs it.

Runs `theorybench run --suite optimization --tier quick --workers 2` against a fresh SQLite
store in a temporary folder. It then reads the store back and reports the wall time of the
command, the cells and their statuses, the cell time per implementation and the slowest cell.
The target is under 180 s on 2 cores with 2 workers; the exit code is 1 when the run is slower.

Usage: python benchmarks/scripts/optimization_quick_tier.py [--workers N] [--keep DIR]
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
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the store, kept after the run")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="optimization-quick-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    command = [
        sys.executable, "-m", "theorybench", "run", "--suite", "optimization", "--tier", "quick",
        "--workers", str(args.workers), "--store", url, "--no-leaderboard",
    ]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode not in (0, 3):
        sys.stderr.write(completed.stdout + completed.stderr)
        return completed.returncode

    results = Store(url).results(suites=["optimization"])
    statuses = collections.Counter(row["status"] for row in results)
    per_implementation: dict[str, float] = collections.defaultdict(float)
    for row in results:
        per_implementation[row["implementation"]] += row["wall_s"] or 0.0
    slowest = max(results, key=lambda row: row["wall_s"] or 0.0)
    cell_total = sum(per_implementation.values())

    print(f"command: {' '.join(command[1:])}")
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; load average before: {load_before:.2f}")
    print(f"wall time: {wall:.1f} s (target {TARGET_S:.0f} s) for {len(results)} cells; exit code {completed.returncode}")
    print(f"statuses: {dict(statuses)}")
    print(f"sum of cell times: {cell_total:.1f} s; mean {cell_total / max(len(results), 1):.2f} s per cell")
    print(f"slowest cell: {slowest['implementation']} on {slowest['task']} ({slowest['instance']}): {slowest['wall_s']:.2f} s")
    print("cell time by implementation:")
    for name, seconds in sorted(per_implementation.items(), key=lambda item: -item[1]):
        print(f"  {name:20s} {seconds:6.1f} s")
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
