"""An on-disk cache of trained dense models, keyed by a content hash.

The folder is `$THEORYBENCH_CACHE` when set, else `.theorybench-cache/` in the working
directory. An entry is written to a temporary file in the same folder and renamed into place,
so a reader sees either no file or a whole one. An exclusive `flock` on a per-key lock file
makes concurrent workers that miss the same key build it once: the second waits, then reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch

logger = logging.getLogger(__name__)

CACHE_ENVIRONMENT_VARIABLE = "THEORYBENCH_CACHE"
DEFAULT_CACHE_FOLDER = ".theorybench-cache"


def cache_dir() -> Path:
    """Return the cache folder (created on first use by `load_or_build`)."""
    return Path(os.environ.get(CACHE_ENVIRONMENT_VARIABLE) or DEFAULT_CACHE_FOLDER)


def content_key(payload: Mapping[str, Any]) -> str:
    """Return the SHA-256 of `payload` serialized as canonical JSON (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _write_atomically(path: Path, entry: Mapping[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(dict(entry), buffer)
    descriptor, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable entry is rebuilt
        logger.warning("cache entry %s is unreadable (%s: %s); rebuilding it", path, type(error).__name__, error)
        return None


def load_or_build(
    kind: str, payload: Mapping[str, Any], build: Callable[[], Mapping[str, Any]], folder: Path | None = None
) -> tuple[dict[str, Any], bool]:
    """Return the cached entry for `payload`, building and storing it on a miss.

    `build` returns a dict of tensors, numbers, strings and nested dicts of those (what
    `torch.load(weights_only=True)` reads back). Returns (entry, hit).
    """
    folder = folder or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = content_key({"kind": kind, **payload})
    path = folder / f"{kind}-{key[:32]}.pt"

    entry = _read(path)
    if entry is not None:
        return entry, True
    with _locked(folder / f"{kind}-{key[:32]}.lock"):
        entry = _read(path)
        if entry is not None:
            return entry, True
        logger.info("building %s cache entry %s", kind, path.name)
        entry = dict(build())
        _write_atomically(path, entry)
    return entry, False
