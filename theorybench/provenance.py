"""Provenance of a run: the machine fingerprint, package versions and git state."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TRACKED_PACKAGES = ("theorybench", "numpy", "scipy", "torch", "scikit-learn", "sqlalchemy", "pandas", "ray", "streamlit")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_description() -> dict[str, Any]:
    """Return the GPU model, driver and CUDA version, or empty strings without a GPU."""
    description = {"gpu": "", "gpu_count": 0, "cuda": "", "driver": ""}
    try:
        import torch
    except ImportError:
        return description
    if not torch.cuda.is_available():
        return description
    description["gpu"] = torch.cuda.get_device_name(0)
    description["gpu_count"] = torch.cuda.device_count()
    description["cuda"] = torch.version.cuda or ""
    try:
        output = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        description["driver"] = output.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        description["driver"] = "unknown"
    return description


@functools.lru_cache(maxsize=1)
def machine_fingerprint() -> dict[str, Any]:
    """Return the facts that make timings comparable, and their hash under the key `id`."""
    import numpy

    facts: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }
    try:
        import torch

        facts["torch"] = torch.__version__
    except ImportError:
        facts["torch"] = ""
    facts.update(_gpu_description())
    facts["id"] = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return facts


def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_state(path: Path | None = None) -> tuple[str, bool]:
    """Return (commit, dirty) of the git checkout containing `path`, or ("", False) outside one."""
    cwd = Path(path or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "", False
    return commit, bool(status.strip())


def source_hash(path: str | Path) -> str:
    """Return the SHA-256 of a source file, the identity of an implementation's code."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
