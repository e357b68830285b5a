"""The Ray executor: each cell becomes a Ray task with its resource request.

A CUDA cell requests `num_gpus=1`, a CPU cell one CPU. The driver keeps at most
`max_concurrency` tasks in flight, cancels (force-kills) a task past its wall-clock limit, and
turns a dead worker or Ray's out-of-memory kill into a failed result, so the run goes on. Inside
the task the same `execute_cell` as the local pool runs.

Without an address a local Ray instance is started; with one, the cluster's nodes must have
TheoryBench installed (or a `runtime_env` that installs it).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from typing import Any, Iterable, Iterator

from theorybench.contracts import Cell
from theorybench.errors import ExecutorError
from theorybench.worker import CellResult

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2
#: Seconds a task may wait for a worker process and import its suite before its own
#: wall-clock limit counts. The driver cannot see when a task starts running, so its deadline is
#: submission time + this grace + the cell's limit.
STARTUP_GRACE_S = 60.0


def _execute_in_ray(cell: Cell) -> CellResult:
    from theorybench.worker import execute_cell

    # RLIMIT_DATA would also cap the Ray worker's own threads, which then hang, so under Ray the
    # memory limit is the task's `memory` resource request and Ray's memory monitor.
    # NOTE: Ray's monitor acts on node memory pressure, so a cell may exceed its own limit on a
    # node with memory to spare. Only the local executor enforces the limit per cell.
    return execute_cell(cell, enforce_memory_limit=False)


class RayExecutor:
    """Run cells as Ray tasks on a local or remote Ray cluster."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        max_concurrency: int | None = None,
        num_cpus: int | None = None,
        startup_grace_s: float = STARTUP_GRACE_S,
    ):
        self.startup_grace_s = startup_grace_s
        try:
            import ray
        except ImportError as error:
            raise ExecutorError("the ray executor needs Ray: pip install 'theorybench[ray]'") from error
        self._ray = ray
        self._started_here = False
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                    log_to_driver=False, logging_level=logging.WARNING, configure_logging=False,
                )
            except Exception as error:  # noqa: BLE001 - Ray raises many kinds of connection errors
                raise ExecutorError(f"cannot start or reach Ray at {address or 'a new local instance'}: {error}") from error
            self._started_here = True
        resources = ray.cluster_resources()
        self.max_concurrency = max_concurrency or max(1, int(resources.get("CPU", 1)))
        self._remote = ray.remote(max_retries=0)(_execute_in_ray)

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _submit(self, cell: Cell) -> Any:
        gpus = 1 if cell.device.startswith("cuda") and self._ray.cluster_resources().get("GPU", 0) >= 1 else 0
        memory = cell.limits.memory_mb * 1024 * 1024
        return self._remote.options(num_cpus=1, num_gpus=gpus, memory=memory).remote(cell)

    def run(self, cells: Iterable[Cell]) -> Iterator[CellResult]:
        """Yield one result per cell in completion order."""
        pending = deque(cells)
        in_flight: dict[Any, tuple[Cell, float, dt.datetime]] = {}
        while pending or in_flight:
            while pending and len(in_flight) < self.max_concurrency:
                cell = pending.popleft()
                in_flight[self._submit(cell)] = (cell, time.monotonic(), dt.datetime.now(dt.timezone.utc))
            ready, _ = self._ray.wait(list(in_flight), num_returns=1, timeout=POLL_INTERVAL_S)
            for reference in ready:
                cell, started, started_at = in_flight.pop(reference)
                yield self._fetch(reference, cell, started, started_at)
            now = time.monotonic()
            for reference, (cell, started, started_at) in list(in_flight.items()):
                # NOTE: the limit is measured from submission plus a start-up grace, so a hanging
                # cell can run up to startup_grace_s longer than its limit before it is cancelled.
                if now - started > self.startup_grace_s + cell.limits.timeout_s:
                    self._ray.cancel(reference, force=True)
                    del in_flight[reference]
                    yield _failure(cell, "timeout", f"exceeded the wall-clock limit of {cell.limits.timeout_s:g} s; "
                                   "the Ray task was cancelled (raise --timeout if the cell needs longer)", started, started_at)

    def _fetch(self, reference: Any, cell: Cell, started: float, started_at: dt.datetime) -> CellResult:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(reference)
        except exceptions.OutOfMemoryError as error:
            return _failure(cell, "memory", f"Ray killed the task for memory: {error}", started, started_at)
        except (exceptions.WorkerCrashedError, exceptions.RayActorError) as error:
            return _failure(cell, "crashed", f"the Ray worker process died while running the cell: {type(error).__name__}", started, started_at)
        except exceptions.TaskCancelledError:
            return _failure(cell, "timeout", "the Ray task was cancelled", started, started_at)
        except exceptions.RayTaskError as error:
            return _failure(cell, "error", f"the Ray task failed outside the cell: {error}", started, started_at)
        except exceptions.RaySystemError as error:
            raise ExecutorError(f"Ray failed: {error}") from error


def _failure(cell: Cell, status: str, reason: str, started: float, started_at: dt.datetime) -> CellResult:
    logger.warning("cell %s/%s [%s] %s trial %d: %s", cell.suite, cell.task, cell.instance, cell.implementation, cell.trial, reason)
    return CellResult(
        cell=cell, status=status, reason=reason, started_at=started_at,
        finished_at=dt.datetime.now(dt.timezone.utc), wall_s=time.monotonic() - started,
    )
