"""Planning: the cells of a run from suites x tasks x implementations x tier x device x trials."""

from __future__ import annotations

import dataclasses
import logging
from typing import Sequence

from theorybench.contracts import DEVICES, TIERS, Cell, Limits
from theorybench.errors import UsageError
from theorybench.registry import ImplementationRef, Registry, load_implementation_class

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PlanRequest:
    """The cell selection a command requests; an empty filter selects everything."""

    suites: Sequence[str] = ()
    tasks: Sequence[str] = ()
    implementations: Sequence[str] = ()
    tier: str = "quick"
    device: str = "auto"
    trials: int | None = None
    salt: str = ""
    timeout_s: float | None = None
    memory_mb: int | None = None


def resolve_device(device: str) -> str:
    """Return "cuda" or "cpu" for `device`; "auto" picks CUDA when torch finds a GPU."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}; choose cpu, cuda or auto")
    return device


def candidate_devices(device: str) -> tuple[str, ...]:
    """Return the devices to try for each (task, implementation), best first.

    "auto" tries CUDA (when torch finds a GPU) and falls back to the CPU, so a CPU-only task
    still runs on a GPU machine; an explicit device is the only candidate.
    """
    if device == "auto":
        return ("cuda", "cpu") if resolve_device("auto") == "cuda" else ("cpu",)
    return (resolve_device(device),)


def plan_cells(registry: Registry, request: PlanRequest, added: Sequence[ImplementationRef] = ()) -> tuple[list[Cell], list[ImplementationRef]]:
    """Return the cells of the request and the implementations they use.

    Without implementation names every implementation takes part, those of modules added by path
    included; with names, only the named ones do. Unknown suite, task or implementation names
    raise UsageError listing the known ones.
    """
    if request.tier not in TIERS:
        raise UsageError(f"unknown tier {request.tier!r}; choose one of {', '.join(TIERS)}")
    if request.trials is not None and request.trials < 1:
        raise UsageError(f"--seeds must be at least 1, got {request.trials}")
    devices = candidate_devices(request.device)

    suites = [registry.suite(name) for name in request.suites] if request.suites else list(registry.suites().values())
    added_suites = {ref.suite for ref in added}
    if added and not request.suites:
        suites = [suite for suite in suites if suite.name in added_suites]

    known_tasks = {task.name for suite in suites for task in suite.tasks()}
    unknown_tasks = set(request.tasks) - known_tasks
    if unknown_tasks:
        raise UsageError(f"unknown task {', '.join(sorted(unknown_tasks))}; known tasks: {', '.join(sorted(known_tasks))}")
    known_names = {ref.name for suite in suites for ref in registry.implementations(suite.name)}
    unknown_names = set(request.implementations) - known_names
    if unknown_names:
        raise UsageError(
            f"unknown implementation {', '.join(sorted(unknown_names))}; known: {', '.join(sorted(known_names))}"
        )

    cells: list[Cell] = []
    used: dict[tuple[str, str], ImplementationRef] = {}
    for suite in suites:
        limits = suite.limits(request.tier)
        limits = Limits(
            timeout_s=request.timeout_s if request.timeout_s is not None else limits.timeout_s,
            memory_mb=request.memory_mb if request.memory_mb is not None else limits.memory_mb,
        )
        trials = request.trials or suite.trials(request.tier)
        refs = [
            ref for ref in registry.implementations(suite.name)
            if not request.implementations or ref.name in request.implementations
        ]
        for task in suite.tasks():
            if request.tasks and task.name not in request.tasks:
                continue
            instances = task.instances(request.tier)
            for ref in refs:
                implementation = load_implementation_class(ref.module, ref.path, ref.class_name)
                device = next((candidate for candidate in devices if suite.supports(task, implementation, candidate)), None)
                if device is None:
                    continue
                used[(ref.suite, ref.name)] = ref
                for params in instances:
                    for trial in range(trials):
                        cells.append(
                            Cell(
                                suite=suite.name, task=task.name, params=params, implementation=ref.name,
                                module=ref.module, module_path=ref.path, class_name=ref.class_name,
                                tier=request.tier, device=device, trial=trial, salt=request.salt, limits=limits,
                            )
                        )
    logger.info("planned %d cells", len(cells))
    return cells, list(used.values())
