"""Executors run cells and yield their results; they never score, store or print."""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol

from theorybench.contracts import Cell
from theorybench.worker import CellResult


class Executor(Protocol):
    name: str

    def run(self, cells: Iterable[Cell]) -> Iterator[CellResult]:
        """Yield one result per cell, in completion order."""
        ...

    def close(self) -> None:
        ...


def make_executor(name: str, workers: int | None = None, preload: tuple[str, ...] = (), address: str | None = None) -> Executor:
    """Return the executor called `name` ("local" or "ray")."""
    from theorybench.errors import UsageError

    if name == "local":
        from theorybench.executors.local import LocalExecutor

        return LocalExecutor(workers=workers, preload=preload)
    if name == "ray":
        from theorybench.executors.ray_executor import RayExecutor

        return RayExecutor(address=address, max_concurrency=workers)
    raise UsageError(f"unknown executor {name!r}; choose local or ray")
