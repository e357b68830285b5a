"""A disk cache of what the benchmarks list from the registry.

asv imports a benchmark module once to discover it and again in every process that runs one
parameter combination, so the parameter lists must be cheap to build. Building them needs the
registry, which imports every suite and implementation (torch included). This module stores each
list in a JSON file. The file name carries a fingerprint of the suites' and implementations'
source files (path, size, modification time), the installed entry points and the environment
variables the benchmarks read, so only the first import after a change pays for the registry.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Callable

logger = logging.getLogger(__name__)

ENVIRONMENT_VARIABLES = ("THEORYBENCH_ASV_SUITES",)


def _source_folders() -> list[Path]:
    folders = []
    for package in ("theorybench.suites", "theorybench.impls"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(Path(location) for location in spec.submodule_search_locations)
    return folders


def source_fingerprint() -> str:
    """Return a hash of the suites' and implementations' .py files, entry points and settings."""
    digest = hashlib.sha256()
    for folder in _source_folders():
        for path in sorted(folder.rglob("*.py")):
            status = path.stat()
            digest.update(f"{path}:{status.st_size}:{status.st_mtime_ns}\n".encode())
    for entry_point in sorted(importlib.metadata.entry_points(group="theorybench.implementations"), key=lambda e: e.name):
        digest.update(f"{entry_point.name}={entry_point.value}\n".encode())
    for name in ENVIRONMENT_VARIABLES:
        digest.update(f"{name}={os.environ.get(name, '')}\n".encode())
    return digest.hexdigest()[:20]


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "theorybench" / "asv"


def cached(name: str, compute: Callable[[], object]) -> object:
    """Return `compute()` from the cache file of `name` at the current source fingerprint."""
    path = cache_folder() / f"{name}-{source_fingerprint()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(value))
        temporary.replace(path)
    except OSError as error:
        logger.warning("could not write the benchmark cache %s: %s", path, error)
    return value
