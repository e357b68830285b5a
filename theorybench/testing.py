"""Helpers for suites' tests: build a cell for an implementation class and run it in-process."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from theorybench.contracts import Cell, Implementation, Limits
from theorybench.seeds import PUBLIC_SALT
from theorybench.worker import CellResult, execute_cell, load_suite


def make_cell(
    suite: str,
    task: str,
    params: Mapping[str, Any],
    implementation: type[Implementation],
    tier: str = "quick",
    device: str = "cpu",
    trial: int = 0,
    salt: str = PUBLIC_SALT,
    limits: Limits | None = None,
) -> Cell:
    """Return the cell that runs `implementation` (a class importable from its module) on one instance."""
    module = inspect.getmodule(implementation)
    return Cell(
        suite=suite,
        task=task,
        params=dict(params),
        implementation=implementation.name,
        module=implementation.__module__,
        module_path=getattr(module, "__file__", "") or "",
        class_name=implementation.__qualname__,
        tier=tier,
        device=device,
        trial=trial,
        salt=salt,
        limits=limits or load_suite(suite).limits(tier),
    )


def run_in_process(
    suite: str,
    task: str,
    params: Mapping[str, Any],
    implementation: type[Implementation],
    **cell_options: Any,
) -> CellResult:
    """Run one cell in this process, without isolation or a memory limit, and return its result."""
    cell = make_cell(suite, task, params, implementation, **cell_options)
    return execute_cell(cell, enforce_memory_limit=False)
