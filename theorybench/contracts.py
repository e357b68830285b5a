"""Contracts between the engine, the suites and the implementations.

The engine reaches suites only through the `Suite` base class below. A suite is a folder under
`suites/` whose `__init__.py` defines one subclass of `Suite`; its tasks subclass `Task` and its
contract subclasses `Implementation`. Behaviour is set by class attributes, as in benchopt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, ClassVar, Literal, Mapping, Sequence

import numpy as np

TIERS = ("quick", "standard", "large")
DEVICES = ("cpu", "cuda")

#: Every status a result can have. "ok" and "skipped" are not failures; every other status is.
STATUSES = ("ok", "skipped", "error", "invalid", "timeout", "crashed", "memory")
FAILED_STATUSES = frozenset(STATUSES) - {"ok", "skipped"}


@dataclasses.dataclass(frozen=True)
class Metric:
    """A figure a task reports per cell, with how to read it."""

    name: str
    unit: str = ""
    direction: Literal["min", "max", "none"] = "min"
    kind: Literal["count", "time", "memory", "value"] = "value"
    help: str = ""

    @property
    def machine_independent(self) -> bool:
        """Whether results from different fingerprints may be compared on this metric."""
        return self.kind in ("count", "value")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-cell resource limits the executor enforces."""

    timeout_s: float = 60.0
    memory_mb: int = 4096


class Task:
    """A seeded problem family inside a suite.

    Subclasses set the class attributes. `tiers` maps a tier name to the parameter sets
    (instances) of that tier; every parameter value must be JSON-serializable.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    bound: ClassVar[str] = ""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    score_metric: ClassVar[str] = ""
    tiers: ClassVar[Mapping[str, Sequence[Mapping[str, Any]]]] = {}
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    #: Metrics shown as columns of the terminal leaderboard; the score metric when empty.
    leaderboard_metrics: ClassVar[tuple[str, ...]] = ()
    #: Tasks of one suite with the same group share a suite score; suites whose tasks measure
    #: different things (I/O counts and run times, say) give each family its own group.
    score_group: ClassVar[str] = ""

    def instances(self, tier: str) -> list[dict[str, Any]]:
        """Return the parameter sets of `tier` (empty when the task has none there)."""
        return [dict(params) for params in self.tiers.get(tier, ())]

    def bound_value(self, params: Mapping[str, Any]) -> float | None:
        """Return the bound's numeric value for one instance, or None when it has none."""
        return None

    def metric(self, name: str) -> Metric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"task {self.name!r} has no metric {name!r}")

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


class Implementation:
    """Base of every suite's contract. Subclasses set the metadata as class attributes.

    `name` is a unique slug (lowercase letters, digits, '-', '_' and '.'). `devices` lists the
    devices the implementation supports. `tasks`, when not empty, restricts it to those task
    names, because conjugate gradient only makes sense on quadratics, for example.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.1"
    authors: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[str] = ""
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    tasks: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def supports(cls, task: Task, device: str) -> bool:
        """Return whether a cell of `task` on `device` should be planned for this class."""
        if device not in cls.devices:
            return False
        return not cls.tasks or task.name in cls.tasks

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "version": cls.version,
            "authors": list(cls.authors),
            "reference": cls.reference,
            "devices": list(cls.devices),
            "tasks": list(cls.tasks),
        }


@dataclasses.dataclass(frozen=True)
class Curve:
    """One series of a metric against a budget, stored in long format."""

    name: str
    x_label: str
    y_label: str
    x: Sequence[float]
    y: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"curve {self.name!r}: x has {len(self.x)} points, y has {len(self.y)}")


@dataclasses.dataclass
class CellOutput:
    """The metrics, curves and free-form info a suite's harness returns for one cell."""

    metrics: dict[str, Any]
    curves: list[Curve] = dataclasses.field(default_factory=list)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


class Suite:
    """A family of tasks sharing one contract and one scoring rule.

    The engine calls `tasks`, `trials`, `limits` and `supports` in the main process to plan
    cells, and `run_cell` inside a worker process. `problem_costs` turns the results of one
    (task instance, implementation) group into the costs that feed the performance profile.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    contract: ClassVar[type[Implementation]] = Implementation
    trials_per_tier: ClassVar[Mapping[str, int]] = {"quick": 2, "standard": 5, "large": 5}
    limits_per_tier: ClassVar[Mapping[str, Limits]] = {
        "quick": Limits(timeout_s=60, memory_mb=4096),
        "standard": Limits(timeout_s=600, memory_mb=8192),
        "large": Limits(timeout_s=3600, memory_mb=16384),
    }
    #: Modules a warm worker imports before it receives cells of this suite.
    preload: ClassVar[tuple[str, ...]] = ()

    def tasks(self) -> list[Task]:
        raise NotImplementedError

    def task(self, name: str) -> Task:
        for task in self.tasks():
            if task.name == name:
                return task
        known = ", ".join(task.name for task in self.tasks())
        raise KeyError(f"suite {self.name!r} has no task {name!r} (known: {known})")

    def smoke_instances(self, task: Task) -> list[dict[str, Any]]:
        """Return the tiny parameter sets `theorybench validate` smoke-runs a new implementation on.

        The default is the first quick-tier instance of the task (none when the task has no quick
        tier). Suites override this to offer smaller instances than their quick tier.
        """
        return task.instances("quick")[:1]

    def trials(self, tier: str) -> int:
        return int(self.trials_per_tier.get(tier, 1))

    def limits(self, tier: str) -> Limits:
        return self.limits_per_tier.get(tier, Limits())

    def supports(self, task: Task, implementation: type[Implementation], device: str) -> bool:
        return device in task.devices and implementation.supports(task, device)

    def run_cell(self, context: "CellContext", implementation: Implementation) -> CellOutput:
        raise NotImplementedError

    def problem_costs(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Map each problem label of one instance to this implementation's cost (lower is better).

        `results` are the result rows of every trial (dicts with `status` and `metrics`).
        The default is the median of the task's `score_metric` over the trials, turned into a
        cost by its direction; infinity when no trial succeeded. Suites override this when one
        instance yields several problems (one per target, say).
        """
        metric = task.metric(task.score_metric)
        values = [row["metrics"].get(metric.name) for row in results if row["status"] == "ok"]
        values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not values:
            return {"": math.inf}
        value = float(np.median(values))
        if metric.direction == "max":
            return {"": 1.0 / value if value > 0 else math.inf}
        return {"": value}

    def summarize(self, task: Task, params: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Aggregate the trials of one (task instance, implementation) group for the leaderboard.

        The default is the median over successful trials of every numeric metric. Suites
        override this to add intervals or expected runtimes.
        """
        ok = [row["metrics"] for row in results if row["status"] == "ok"]
        names = sorted({name for metrics in ok for name, value in metrics.items() if _is_number(value)})
        summary: dict[str, Any] = {}
        for name in names:
            values = [float(metrics[name]) for metrics in ok if _is_number(metrics.get(name))]
            summary[name] = float(np.median(values)) if values else None
        return summary


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (task instance, implementation, tier, device, trial) execution, as sent to a worker."""

    suite: str
    task: str
    params: Mapping[str, Any]
    implementation: str
    module: str
    module_path: str
    class_name: str
    tier: str
    device: str
    trial: int
    salt: str
    limits: Limits

    @property
    def instance(self) -> str:
        """The canonical label of the parameter set, such as `kappa=100,n=200`."""
        return instance_label(self.params)

    @property
    def key(self) -> str:
        """A hash identifying the cell within a run, for resuming."""
        payload = [self.suite, self.task, self.instance, self.implementation, self.tier, self.device, self.trial]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:24]


def instance_label(params: Mapping[str, Any]) -> str:
    """Return a stable, readable label for a parameter set."""
    return ",".join(f"{key}={_format_value(params[key])}" for key in sorted(params))


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ";".join(_format_value(item) for item in value) + "]"
    return str(value)


class CellContext:
    """The cell, its seed and its random streams, as a suite's harness receives them in the worker."""

    def __init__(self, cell: Cell, seed: int):
        self.cell = cell
        self.seed = seed

    @property
    def params(self) -> Mapping[str, Any]:
        return self.cell.params

    @property
    def device(self) -> str:
        return self.cell.device

    @property
    def tier(self) -> str:
        return self.cell.tier

    def child_seed(self, stream: str) -> int:
        """Return an independent seed for a named random stream of this cell ("data", "noise", ...)."""
        from theorybench.seeds import derive_seed

        return derive_seed(self.cell.suite, self.cell.task, self.cell.params, self.cell.trial, self.cell.salt, stream=stream)

    def rng(self, stream: str) -> np.random.Generator:
        return np.random.default_rng(self.child_seed(stream))
