"""Measure the quick tier of the pruning suite through the CLI, with a cold and then a warm cache.

Runs `theorybench run --suite pruning --tier quick --workers 2` twice against fresh SQLite
stores, both with the dense-model cache (`THEORYBENCH_CACHE`) in one folder: the first run
trains and caches the dense models, the second reuses them. Reports the wall time of each run,
the statuses, the cell time per pruner and the slowest cell of the warm run. The target is
under 180 s for the warm run on 2 cores with 2 workers; the exit code is 1 when it is slower.

Usage: python benchmarks/scripts/pruning_quick_tier.py [--workers N] [--keep DIR] [--warm-only]
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
    """Return the CPU model name from lscpu, or the platform's processor string."""
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def run_tier(folder: Path, label: str, workers: int, cache: Path) -> tuple[float, list[dict], list[str], int]:
    """Run the quick tier once into `folder/<label>.db`; return wall time, result rows, command, exit code."""
    store_path = folder / f"{label}.db"
    # A store left by an earlier run would add its rows to this run's figures.
    for stale in (store_path, Path(f"{store_path}-wal"), Path(f"{store_path}-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{store_path}"
    command = [
        sys.executable, "-m", "theorybench", "run", "--suite", "pruning", "--tier", "quick",
        "--workers", str(workers), "--store", url, "--no-leaderboard",
    ]
    environment = {**os.environ, "THEORYBENCH_CACHE": str(cache)}
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=environment)
    wall = time.perf_counter() - start
    if completed.returncode not in (0, 3):
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(completed.returncode)
    return wall, Store(url).results(suites=["pruning"]), command, completed.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the stores and the cache, kept after the run")
    parser.add_argument("--warm-only", action="store_true", help="skip the cold run (the cache in --keep is already warm)")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="pruning-quick-"))
    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / "cache"
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; load average before: {os.getloadavg()[0]:.2f}")
    if not args.warm_only:
        cold_wall, cold_rows, _, _ = run_tier(folder, "cold", args.workers, cache)
        print(f"cold cache: {cold_wall:.1f} s for {len(cold_rows)} cells")

    wall, rows, command, code = run_tier(folder, "warm", args.workers, cache)
    statuses = collections.Counter(row["status"] for row in rows)
    per_pruner: dict[str, float] = collections.defaultdict(float)
    for row in rows:
        per_pruner[row["implementation"]] += row["wall_s"] or 0.0
    slowest = max(rows, key=lambda row: row["wall_s"] or 0.0)
    hits = sum(int((row.get("metrics") or {}).get("dense_cache_hit") or 0) for row in rows)

    print(f"command: THEORYBENCH_CACHE={cache} {' '.join(command[1:])}")
    print(f"warm cache: {wall:.1f} s (target {TARGET_S:.0f} s) for {len(rows)} cells; exit code {code}")
    print(f"statuses: {dict(statuses)}; dense models from the cache: {hits} of {len(rows)} cells")
    total = sum(per_pruner.values())
    print(f"sum of cell times: {total:.1f} s; mean {total / max(len(rows), 1):.2f} s per cell")
    print(f"slowest cell: {slowest['implementation']} on {slowest['task']}: {slowest['wall_s']:.2f} s")
    print("cell time by pruner:")
    for name, seconds in sorted(per_pruner.items(), key=lambda item: -item[1]):
        print(f"  {name:20s} {seconds:6.1f} s")
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
