"""Running one cell inside a worker process, turning every failure into a result.

`execute_cell` is what a worker (local pool or Ray task) calls. It catches every exception of
the implementation except KeyboardInterrupt: an exception, an invalid output or a spent budget
becomes a result with its status, reason and traceback. Crashes, hangs and memory blow-ups kill the worker instead; the
executor that watches it records those.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import math
import os
import resource
import time
import traceback
from typing import Any, Callable

import numpy as np

from theorybench.contracts import Cell, CellContext, CellOutput, Curve, Suite
from theorybench.errors import BudgetExceeded, InvalidOutput, NotApplicable
from theorybench.registry import load_implementation_class
from theorybench.seeds import derive_seed

logger = logging.getLogger(__name__)

_SUITES: dict[str, Suite] = {}


@dataclasses.dataclass
class CellResult:
    """The outcome of one cell, ready for the store."""

    cell: Cell
    status: str
    reason: str = ""
    traceback: str = ""
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    curves: list[Curve] = dataclasses.field(default_factory=list)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    wall_s: float = 0.0
    worker_pid: int = 0

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "skipped")


def load_suite(name: str) -> Suite:
    """Return the suite instance named `name`, importing `theorybench.suites.<name>` once."""
    if name not in _SUITES:
        from theorybench.registry import discover_suites

        package = importlib.import_module(f"theorybench.suites.{name}")
        for value in vars(package).values():
            if isinstance(value, type) and issubclass(value, Suite) and value is not Suite and value.name == name:
                _SUITES[name] = value()
                break
        else:
            _SUITES.update(discover_suites())
    return _SUITES[name]


def _plain(value: Any) -> Any:
    """Convert numpy scalars and arrays to JSON-ready Python values; non-finite floats to None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _set_memory_limit(memory_mb: int) -> None:
    """Cap the data segment (heap and anonymous mappings) at its current size plus `memory_mb`.

    An allocation past the cap fails inside the process (MemoryError in numpy, RuntimeError in
    torch), which becomes a "memory" result. The executor also watches the RSS as a backstop.
    """
    try:
        with open("/proc/self/status") as status:
            data_kb = next(int(line.split()[1]) for line in status if line.startswith("VmData:"))
    except (OSError, StopIteration):
        return
    limit = (data_kb * 1024) + memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _clear_memory_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))


def _is_memory_error(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and ("can't allocate memory" in message or "out of memory" in message)


def execute_cell(cell: Cell, enforce_memory_limit: bool = True, on_start: Callable[[], None] | None = None) -> CellResult:
    """Run one cell in this process and return its result.

    Every exception of the implementation except KeyboardInterrupt becomes a failed result.

    `on_start` is called once the suite and the implementation are loaded, right before the
    cell's own work starts; the local executor starts the cell's wall-clock limit there.
    """
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    result = CellResult(cell=cell, status="ok", started_at=started, worker_pid=os.getpid())

    if cell.device.startswith("cuda") and not _cuda_available():
        result.status = "skipped"
        result.reason = "no CUDA device on this machine; run on a GPU machine or with --device cpu"
        return _finish(result, clock)

    limit_set = False
    try:
        suite = load_suite(cell.suite)
        implementation_class = load_implementation_class(cell.module, cell.module_path, cell.class_name)
        seed = derive_seed(cell.suite, cell.task, cell.params, cell.trial, cell.salt)
        context = CellContext(cell, seed)
        if enforce_memory_limit and not cell.device.startswith("cuda"):
            _set_memory_limit(cell.limits.memory_mb)
            limit_set = True
        if on_start is not None:
            on_start()
        implementation = implementation_class()
        output = suite.run_cell(context, implementation)
        if not isinstance(output, CellOutput):
            raise TypeError(f"suite {cell.suite!r} returned {type(output).__name__}, not CellOutput")
        result.metrics = _plain(output.metrics)
        result.curves = [
            Curve(curve.name, curve.x_label, curve.y_label, _plain(list(curve.x)), _plain(list(curve.y)))
            for curve in output.curves
        ]
        result.info = _plain(output.info)
        result.info.setdefault("threads", _torch_threads())
    except InvalidOutput as error:
        result.status, result.reason = "invalid", str(error)
        result.traceback = traceback.format_exc()
    except NotApplicable as error:
        result.status, result.reason = "skipped", str(error)
    except BudgetExceeded as error:
        result.status, result.reason = "error", f"budget exceeded: {error}"
        result.traceback = traceback.format_exc()
    except BaseException as error:  # noqa: BLE001 - an implementation may raise anything, SystemExit too
        if isinstance(error, KeyboardInterrupt):
            raise
        result.status = "memory" if _is_memory_error(error) else "error"
        result.reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if result.status == "memory":
            result.reason = f"memory limit of {cell.limits.memory_mb} MiB exceeded ({result.reason})"
        result.traceback = traceback.format_exc()
    finally:
        if limit_set:
            _clear_memory_limit()
    return _finish(result, clock)


def _finish(result: CellResult, clock: float) -> CellResult:
    result.wall_s = time.perf_counter() - clock
    result.finished_at = dt.datetime.now(dt.timezone.utc)
    return result


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()
