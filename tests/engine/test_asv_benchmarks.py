"""The asv configuration and benchmarks: `asv check` passes and every quick-tier pair is tracked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_asv_check_passes():
    if shutil.which("asv") is None:
        pytest.skip("asv is not installed; install the test extra")
    completed = subprocess.run(["asv", "check", "--python=same"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "No problems found" in completed.stdout


def test_track_benchmarks_cover_registry():
    probe = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import benchmarks.scores as scores; "
        "print(json.dumps({'pairs': sorted(scores.PAIRS), 'score_params': scores.track_score.params, "
        "'metric_benchmarks': sorted(name for name in vars(scores) if name.startswith('track_score_metric_'))}))"
    )
    environment = {key: value for key, value in os.environ.items() if key != "THEORYBENCH_ASV_SUITES"}
    completed = subprocess.run([sys.executable, "-c", probe, str(ROOT)], capture_output=True, text=True, timeout=600,
                               env=environment)
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "optimization/least_squares/gd" in found["pairs"]
    assert found["score_params"] == found["pairs"]
    assert "track_score_metric_oracle_calls" in found["metric_benchmarks"]
