"""The local executor: a pool of warm worker processes with per-cell time and memory limits.

Workers are forked from a forkserver that has already imported torch and the suites' modules,
so a new worker starts in milliseconds and CUDA stays usable (the server never initializes it).
The parent process watches every busy worker: a cell past its wall-clock limit is killed, a
worker whose RSS passes the cell's memory limit is killed, and a worker that dies (os._exit, a
signal) is noticed through its process sentinel. Each of these becomes a result with its reason,
the worker is replaced, and the run goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from typing import Any, Iterable, Iterator

import psutil

from theorybench.contracts import Cell
from theorybench.errors import ExecutorError
from theorybench.worker import CellResult

logger = logging.getLogger(__name__)

BASE_PRELOAD = ("numpy", "scipy", "torch", "theorybench.worker")
POLL_INTERVAL_S = 0.05
#: Time a worker may take to import a cell's suite and implementation before the cell's own
#: wall-clock limit starts.
LOAD_GRACE_S = 120.0
#: The parent kills a worker whose RSS passes the cell's limit by this factor. Below it, the
#: worker's own RLIMIT_DATA makes the allocation fail with a MemoryError first.
RSS_BACKSTOP_FACTOR = 1.25


def _worker_main(connection: multiprocessing.connection.Connection, preload: tuple[str, ...], threads: int) -> None:
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _fix_threads(threads)
    for module in preload:
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 - a broken preload must not kill the worker
            logging.getLogger(__name__).warning("worker could not preload %s: %s", module, error)

    from theorybench.worker import execute_cell

    connection.send(("ready", os.getpid()))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        result = execute_cell(message, on_start=lambda: connection.send(("started", None)))
        try:
            connection.send(("result", result))
        except (OSError, ValueError, TypeError) as error:
            # An unpicklable metric value: send the failure instead of dying.
            fallback = CellResult(cell=message, status="error", reason=f"result could not be sent to the runner: {error}")
            connection.send(("result", fallback))


def _fix_threads(threads: int) -> None:
    """Fix the thread count of torch and of numpy's BLAS in this worker, so workers do not oversubscribe."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


@dataclasses.dataclass
class _Worker:
    process: Any
    connection: multiprocessing.connection.Connection
    ready: bool = False
    cell: Cell | None = None
    deadline: float = 0.0
    started: float = 0.0
    started_at: dt.datetime | None = None
    baseline_rss: int = 0


class LocalExecutor:
    """Run cells in a pool of warm worker processes on this machine."""

    name = "local"

    def __init__(
        self,
        workers: int | None = None,
        preload: tuple[str, ...] = (),
        start_method: str = "forkserver",
        threads: int | None = None,
    ):
        self.workers = max(1, workers or min(2, os.cpu_count() or 1))
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.workers)
        self.preload = tuple(dict.fromkeys(BASE_PRELOAD + tuple(preload)))
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(list(self.preload))
        self._pool: list[_Worker] = []

    # -- worker life cycle --------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, args=(child_end, self.preload, self.threads), daemon=True)
        try:
            process.start()
        except OSError as error:
            raise ExecutorError(f"cannot start a worker process: {error}") from error
        child_end.close()
        worker = _Worker(process=process, connection=parent_end)
        self._pool.append(worker)
        return worker

    def _await_ready(self, worker: _Worker, timeout: float = 300.0) -> None:
        if worker.ready:
            return
        if not worker.connection.poll(timeout):
            self._kill(worker)
            raise ExecutorError(f"a worker process did not start within {timeout:.0f} s")
        try:
            kind, _ = worker.connection.recv()
        except (EOFError, OSError) as error:
            self._kill(worker)
            raise ExecutorError(f"a worker process died while starting (exit code {worker.process.exitcode})") from error
        worker.ready = kind == "ready"
        worker.baseline_rss = _rss(worker.process.pid)

    def _kill(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=10)
        worker.connection.close()
        if worker in self._pool:
            self._pool.remove(worker)

    def warm_up(self) -> None:
        """Start every worker now and wait until each has imported its preload modules."""
        while len(self._pool) < self.workers:
            self._start_worker()
        for worker in list(self._pool):
            self._await_ready(worker)

    def close(self) -> None:
        for worker in list(self._pool):
            try:
                if worker.cell is None and worker.process.is_alive():
                    worker.connection.send(None)
                    worker.process.join(timeout=5)
            except (OSError, ValueError):
                pass
            self._kill(worker)

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- running cells ------------------------------------------------------------------------

    def run(self, cells: Iterable[Cell]) -> Iterator[CellResult]:
        """Yield one result per cell in completion order; faults of a cell never stop the others."""
        pending = deque(cells)
        if not pending:
            return
        while len(self._pool) < min(self.workers, len(pending)):
            self._start_worker()

        while pending or any(worker.cell is not None for worker in self._pool):
            for worker in list(self._pool):
                if worker.cell is None and pending:
                    self._await_ready(worker)
                    self._dispatch(worker, pending.popleft())
            yield from self._collect()

    def _dispatch(self, worker: _Worker, cell: Cell) -> None:
        worker.cell = cell
        worker.started = time.monotonic()
        worker.started_at = dt.datetime.now(dt.timezone.utc)
        worker.deadline = worker.started + LOAD_GRACE_S + cell.limits.timeout_s
        try:
            worker.connection.send(cell)
        except (OSError, ValueError) as error:
            logger.warning("could not send a cell to worker %s: %s", worker.process.pid, error)

    def _collect(self) -> Iterator[CellResult]:
        busy = [worker for worker in self._pool if worker.cell is not None]
        if not busy:
            return
        now = time.monotonic()
        timeout = max(0.0, min(POLL_INTERVAL_S, min(worker.deadline for worker in busy) - now))
        waitables: list[Any] = [worker.connection for worker in busy] + [worker.process.sentinel for worker in busy]
        ready = set(multiprocessing.connection.wait(waitables, timeout=timeout))

        for worker in busy:
            if worker.connection in ready:
                result = self._receive(worker)
                if result is not None:
                    yield result
                    continue
                if worker.cell is not None and worker.process.is_alive() and worker.connection.poll(0):
                    continue
            if worker.process.sentinel in ready or not worker.process.is_alive():
                yield self._crashed(worker)
                continue
            if time.monotonic() > worker.deadline:
                yield self._replace(worker, "timeout", f"exceeded the wall-clock limit of {worker.cell.limits.timeout_s:g} s; "
                                    "the worker was killed (raise --timeout if the cell needs longer)")
                continue
            limit = worker.cell.limits.memory_mb * 1024 * 1024
            rss = _rss(worker.process.pid) - worker.baseline_rss
            if rss > limit * RSS_BACKSTOP_FACTOR:
                yield self._replace(worker, "memory", f"memory limit of {worker.cell.limits.memory_mb} MiB exceeded "
                                    f"(RSS grew by {rss / 2**20:.0f} MiB); the worker was killed")

    def _receive(self, worker: _Worker) -> CellResult | None:
        """Read one message; return the result, or None after a start notice or a closed pipe."""
        try:
            kind, result = worker.connection.recv()
        except (EOFError, OSError):
            return None
        if kind == "started":
            assert worker.cell is not None
            worker.deadline = time.monotonic() + worker.cell.limits.timeout_s
            return None
        worker.cell = None
        return result

    def _crashed(self, worker: _Worker) -> CellResult:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            description = f"was killed by {name}"
            status = "memory" if -code == signal.SIGKILL else "crashed"
            if status == "memory":
                description += " (most often the kernel's out-of-memory killer)"
        else:
            description = f"exited with code {code} (os._exit or a fatal error in native code)"
            status = "crashed"
        return self._replace(worker, status, f"the worker process {description} while running the cell")

    def _replace(self, worker: _Worker, status: str, reason: str) -> CellResult:
        cell = worker.cell
        assert cell is not None
        logger.warning("cell %s/%s [%s] %s trial %d: %s", cell.suite, cell.task, cell.instance, cell.implementation, cell.trial, reason)
        result = CellResult(
            cell=cell, status=status, reason=reason, started_at=worker.started_at,
            finished_at=dt.datetime.now(dt.timezone.utc), wall_s=time.monotonic() - worker.started,
            worker_pid=worker.process.pid or 0,
        )
        worker.cell = None
        self._kill(worker)
        self._start_worker()
        return result


def _rss(pid: int | None) -> int:
    if not pid:
        return 0
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0
