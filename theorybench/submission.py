"""Validation and submission of an implementation module given by path.

`validate` runs four steps and stops at the first that fails:

1. import: the module is imported in a fresh worker process (spawned, so nothing it does at
   import time touches this process); a syntax error or a missing dependency is reported with
   its file and line;
2. contract: the module defines at least one class of a suite's contract, with a unique slug
   `name`, a `version`, `authors`, a `reference` (a URL, DOI, arXiv id or a citation with its
   year) and supported `devices`, and overrides every method the contract leaves abstract;
3. static check: `theorybench.static_check` finds no private-attribute access, monkeypatching,
   network or outside-file access in its source;
4. smoke run: every supported task's smoke instances (`Suite.smoke_instances`) run twice with the
   same seed in the local executor's isolated workers; each cell must finish within its limit
   with status "ok", JSON-ready metric values, and identical count and value metrics both times.

`Submission` then runs the suite at the requested tier with the implementation, keeps the
submission's status in the store (pending, running, finished, failed) and ranks it.
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import inspect
import logging
import math
import multiprocessing
import re
import textwrap
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlparse

from theorybench.contracts import DEVICES, Cell, Limits
from theorybench.errors import TheoryBenchError, UsageError
from theorybench.provenance import source_hash
from theorybench.registry import SLUG, ImplementationRef, Registry, external_module_name
from theorybench.seeds import PUBLIC_SALT
from theorybench.static_check import Finding, check_file

logger = logging.getLogger(__name__)

STEPS = ("import", "contract", "static check", "smoke run")
#: Seconds the import step may take (suites import torch and build nothing else).
IMPORT_TIMEOUT_S = 300.0
SUBMISSION_STATUSES = ("pending", "running", "finished", "failed")

_REFERENCE_PATTERNS = (
    re.compile(r"\b10\.\d{4,9}/\S+"),  # a DOI
    re.compile(r"\barxiv:\s*\d{4}\.\d{4,5}", re.IGNORECASE),
    re.compile(r"\b(1[89]|20)\d\d\b"),  # a citation with its year
)


class ValidationFailed(TheoryBenchError):
    """A validation step failed; the CLI exits with code 1."""

    exit_code = 1

    def __init__(self, step: str, problems: Sequence[str]):
        self.step = step
        self.problems = list(problems)
        super().__init__(f"{step} failed: " + "; ".join(self.problems))


@dataclasses.dataclass
class CandidateClass:
    """A class of the module that subclasses a suite's contract, as the import worker saw it."""

    suite: str
    class_name: str
    contract: str
    metadata: dict[str, Any]
    missing_methods: list[str]
    #: Names of the suite's implementations from other files (bundled or entry points).
    other_names: dict[str, str]
    tasks: list[str]


@dataclasses.dataclass
class StepOutcome:
    step: str
    ok: bool
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ValidationReport:
    """The outcome of validation: the classes, each step's outcome, the smoke cells it ran."""

    path: str
    classes: list[CandidateClass] = dataclasses.field(default_factory=list)
    steps: list[StepOutcome] = dataclasses.field(default_factory=list)
    findings: list[Finding] = dataclasses.field(default_factory=list)
    smoke_cells: int = 0

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(STEPS) and all(step.ok for step in self.steps)

    @property
    def failed_step(self) -> StepOutcome | None:
        return next((step for step in self.steps if not step.ok), None)

    @property
    def suite(self) -> str:
        return self.classes[0].suite if self.classes else ""

    @property
    def names(self) -> list[str]:
        return [candidate.metadata["name"] for candidate in self.classes]


# -- step 1: import in a spawned worker -------------------------------------------------------


def _contract_abstract_methods(contract: type) -> list[str]:
    """Return the methods of `contract` whose body only raises NotImplementedError."""
    names = []
    for name, value in vars(contract).items():
        if not inspect.isfunction(value):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(value)))
        except (OSError, TypeError, SyntaxError):
            continue
        function = tree.body[0]
        body = [node for node in function.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        if len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0]):
            names.append(name)
    return names


def inspect_module(path: str, suite_names: Sequence[str]) -> dict[str, Any]:
    """Import the module at `path` and describe its contract classes (runs in the import worker).

    Returns {"error": message or None, "classes": [CandidateClass as dict], "suites": {suite:
    contract name}}. Never raises for a fault of the module.
    """
    from theorybench.registry import load_module

    try:
        registry = Registry()
    except TheoryBenchError as error:
        return {"error": f"the installed suites or implementations failed to load: {error}", "classes": [], "suites": {}, "infrastructure": True}
    suites = registry.suites()
    if suite_names:
        unknown = [name for name in suite_names if name not in suites]
        if unknown:
            return {"error": f"unknown suite {', '.join(unknown)}; known suites: {', '.join(suites)}", "classes": [], "suites": {}}
        suites = {name: suites[name] for name in suite_names}
    file = Path(path).resolve()
    try:
        module = load_module(external_module_name(file), str(file))
    except TheoryBenchError as error:
        return {"error": str(error), "classes": [], "suites": {}}

    classes = []
    for suite in suites.values():
        contract = suite.contract
        abstract = _contract_abstract_methods(contract)
        others = {ref.name: ref.path for ref in registry.implementations(suite.name) if Path(ref.path).resolve() != file}
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, contract) or cls is contract:
                continue
            if not cls.__dict__.get("name") and cls.__subclasses__():
                continue  # an intermediate base class of the module
            missing = [name for name in abstract if getattr(cls, name) is vars(contract)[name]]
            classes.append(dataclasses.asdict(CandidateClass(
                suite=suite.name, class_name=cls.__qualname__, contract=f"{contract.__module__}.{contract.__qualname__}",
                metadata=cls.metadata(), missing_methods=missing, other_names=others,
                tasks=[task.name for task in suite.tasks()],
            )))
    contracts = {suite.name: f"{suite.contract.__module__.rsplit('.', 1)[0]}.{suite.contract.__qualname__}" for suite in suites.values()}
    return {"error": None, "classes": classes, "suites": contracts}


def import_in_worker(path: str, suite_names: Sequence[str], timeout_s: float = IMPORT_TIMEOUT_S) -> dict[str, Any]:
    """Run `inspect_module` in a spawned process and return its result."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(inspect_module, path, list(suite_names))
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
            return {"error": f"{path}: importing the module took longer than {timeout_s:g} s", "classes": [], "suites": {}}
        except concurrent.futures.process.BrokenProcessPool:
            return {"error": f"{path}: the import worker died while importing the module (os._exit or a crash at import time)",
                    "classes": [], "suites": {}}


# -- step 2: contract and metadata ------------------------------------------------------------


def _reference_problem(reference: Any) -> str | None:
    if not isinstance(reference, str) or not reference.strip():
        return "sets no `reference`; give the paper (authors, title, year), its DOI or arXiv id, or a URL"
    text = reference.strip()
    if text.lower().startswith(("http://", "https://")):
        parsed = urlparse(text)
        return None if parsed.netloc and "." in parsed.netloc else f"reference {text!r} is not a valid URL"
    if any(pattern.search(text) for pattern in _REFERENCE_PATTERNS):
        return None
    return f"reference {text!r} names no paper or URL; give a URL, a DOI, an arXiv id or a citation with its year"


def check_metadata(candidate: CandidateClass, seen: dict[str, str]) -> list[str]:
    """Return the problems of one class's metadata; `seen` maps names of this module to classes."""
    where = f"{candidate.class_name}"
    metadata = candidate.metadata
    problems = []
    name = metadata.get("name")
    if not name:
        problems.append(f"{where} sets no `name`; set a unique slug such as 'my-gradient-descent'")
    elif not isinstance(name, str) or not SLUG.match(name):
        problems.append(f"{where}.name = {name!r} is not a slug; use lowercase letters, digits, '-', '_' or '.'")
    elif name in seen:
        problems.append(f"{where}.name = {name!r} is also the name of {seen[name]} in the same module")
    elif name in candidate.other_names:
        problems.append(f"{where}.name = {name!r} is already used by {candidate.other_names[name]} in suite "
                        f"{candidate.suite!r}; choose another `name`")
    if name:
        seen.setdefault(str(name), where)
    version = metadata.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append(f"{where} sets no `version`; set a version string such as '1.0'")
    authors = metadata.get("authors") or []
    if not authors or not all(isinstance(author, str) and author.strip() for author in authors):
        problems.append(f"{where} sets no `authors`; set a tuple of author names")
    problem = _reference_problem(metadata.get("reference"))
    if problem:
        problems.append(f"{where} {problem}" if problem.startswith("sets") else f"{where}: {problem}")
    devices = metadata.get("devices") or []
    if not devices:
        problems.append(f"{where} sets no `devices`; set a tuple such as ('cpu',) or ('cpu', 'cuda')")
    unknown_devices = [device for device in devices if device not in DEVICES]
    if unknown_devices:
        problems.append(f"{where}.devices has unknown device(s) {', '.join(map(str, unknown_devices))}; known: {', '.join(DEVICES)}")
    unknown_tasks = [task for task in metadata.get("tasks") or [] if task not in candidate.tasks]
    if unknown_tasks:
        problems.append(f"{where}.tasks names unknown task(s) {', '.join(unknown_tasks)} of suite {candidate.suite!r}; "
                        f"known: {', '.join(candidate.tasks)}")
    for method in candidate.missing_methods:
        problems.append(f"{where} does not implement `{method}`, which the contract {candidate.contract} requires")
    return problems


# -- step 4: smoke run ------------------------------------------------------------------------


def smoke_cells(registry: Registry, refs: Sequence[ImplementationRef], tasks: Sequence[str] = (),
                timeout_s: float | None = None) -> list[Cell]:
    """Return one cell per (class, supported task, smoke instance) at trial 0 with the public salt."""
    from theorybench.plan import resolve_device
    from theorybench.registry import load_implementation_class

    cells = []
    for ref in refs:
        suite = registry.suite(ref.suite)
        implementation = load_implementation_class(ref.module, ref.path, ref.class_name)
        device = "cpu" if "cpu" in implementation.devices else resolve_device("auto")
        limits = suite.limits("quick")
        if timeout_s is not None:
            limits = Limits(timeout_s=timeout_s, memory_mb=limits.memory_mb)
        for task in suite.tasks():
            if tasks and task.name not in tasks:
                continue
            if not suite.supports(task, implementation, device):
                continue
            for params in suite.smoke_instances(task):
                cells.append(Cell(
                    suite=suite.name, task=task.name, params=dict(params), implementation=ref.name, module=ref.module,
                    module_path=ref.path, class_name=ref.class_name, tier="quick", device=device, trial=0,
                    salt=PUBLIC_SALT, limits=limits,
                ))
    return cells


def _is_json_ready(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_is_json_ready(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json_ready(item) for key, item in value.items())
    return False


def _location_in(traceback_text: str, path: str) -> str:
    """Return `path:line` of the last traceback frame inside `path`, or an empty string."""
    location = ""
    resolved = str(Path(path).resolve())
    for match in re.finditer(r'File "([^"]+)", line (\d+)', traceback_text or ""):
        if str(Path(match.group(1)).resolve()) == resolved:
            location = f"{path}:{match.group(2)}"
    return location


def _same(first: Any, second: Any) -> bool:
    if isinstance(first, float) and isinstance(second, float) and math.isnan(first) and math.isnan(second):
        return True
    return first == second


def check_smoke_results(registry: Registry, path: str, pairs: Mapping[str, Sequence[Any]]) -> list[str]:
    """Return the problems of the smoke results; `pairs` maps a cell key to its two results."""
    problems = []
    for results in pairs.values():
        cell = results[0].cell
        label = f"{cell.implementation} on {cell.task} [{cell.instance}]"
        failed = [result for result in results if result.status != "ok"]
        if failed:
            result = failed[0]
            location = _location_in(result.traceback, path)
            if result.status == "timeout":
                problems.append(f"{label} did not finish within {cell.limits.timeout_s:g} s on a smoke instance")
            else:
                problems.append(f"{label}: {result.status}: {result.reason}" + (f" (at {location})" if location else ""))
            continue
        for name, value in results[0].metrics.items():
            if not _is_json_ready(value):
                problems.append(f"{label}: metric {name!r} has type {type(value).__name__}, not a number")
        task = registry.suite(cell.suite).task(cell.task)
        kinds = {metric.name: metric for metric in task.metrics}
        first, second = results[0].metrics, results[1].metrics
        for name in sorted(set(first) | set(second)):
            metric = kinds.get(name)
            if metric is None or not metric.machine_independent:
                continue
            if not _same(first.get(name), second.get(name)):
                problems.append(
                    f"{label} is not deterministic: metric {name!r} was {first.get(name)!r}, then {second.get(name)!r} "
                    "with the same seed; draw every random number from the seeds the harness provides"
                )
    return problems


# -- validation -------------------------------------------------------------------------------


def validate(
    path: str | Path,
    suites: Sequence[str] = (),
    tasks: Sequence[str] = (),
    smoke_timeout_s: float | None = None,
    workers: int | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> ValidationReport:
    """Run the four validation steps on the module at `path` and return the report.

    Stops at the first failed step. Raises UsageError when `path` is not a .py file.
    """
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"implementation file not found: {path}")
    if file.suffix != ".py":
        raise UsageError(f"{path}: an implementation must be a .py file")
    path = str(file)
    report = ValidationReport(path=path)

    def record(outcome: StepOutcome) -> bool:
        report.steps.append(outcome)
        if on_step is not None:
            on_step(outcome)
        return outcome.ok

    answer = import_in_worker(path, suites)
    if answer.get("infrastructure"):
        raise TheoryBenchError(answer["error"])
    if not record(StepOutcome("import", answer["error"] is None, [answer["error"]] if answer["error"] else [])):
        return report

    report.classes = [CandidateClass(**item) for item in answer["classes"]]
    problems: list[str] = []
    if not report.classes:
        contracts = ", ".join(f"{contract} (suite {suite})" for suite, contract in answer["suites"].items())
        problems.append(f"{path} defines no implementation; subclass one of {contracts} and set its metadata")
    if len({candidate.suite for candidate in report.classes}) > 1:
        problems.append(f"{path} implements several suites' contracts; submit one module per suite")
    seen: dict[str, str] = {}
    for candidate in report.classes:
        problems.extend(check_metadata(candidate, seen))
    if not record(StepOutcome("contract", not problems, problems,
                              notes=[f"{c.class_name} ({c.metadata['name']}, suite {c.suite})" for c in report.classes])):
        return report

    try:
        report.findings = check_file(path)
    except SyntaxError as error:  # the import step parses first; a race with an editor lands here
        report.findings = []
        record(StepOutcome("static check", False, [f"{path}:{error.lineno}: SyntaxError: {error.msg}"]))
        return report
    if not record(StepOutcome("static check", not report.findings, [str(finding) for finding in report.findings])):
        return report

    record(_smoke_step(report, path, tasks, smoke_timeout_s, workers))
    return report


def _smoke_step(report: ValidationReport, path: str, tasks: Sequence[str], timeout_s: float | None,
                workers: int | None) -> StepOutcome:
    from theorybench.executors.local import LocalExecutor

    registry = Registry(extra_paths=[path])
    refs = [ref for ref in registry.added if ref.name in report.names]
    known = {task.name for ref in refs for task in registry.suite(ref.suite).tasks()}
    unknown = sorted(set(tasks) - known)
    if unknown:
        raise UsageError(f"unknown task {', '.join(unknown)}; known tasks: {', '.join(sorted(known))}")
    cells = smoke_cells(registry, refs, tasks, timeout_s)
    if not cells:
        return StepOutcome("smoke run", False, [f"{', '.join(report.names)} supports no task of suite {report.suite!r} "
                                               "on this machine's devices" + (" among the selected tasks" if tasks else "")])
    report.smoke_cells = len(cells)
    suite = registry.suite(refs[0].suite)
    preload = (*suite.preload, f"theorybench.suites.{suite.name}")
    pairs: dict[str, list[Any]] = {cell.key: [] for cell in cells}
    with LocalExecutor(workers=workers, preload=preload) as executor:
        for result in executor.run([*cells, *cells]):
            pairs[result.cell.key].append(result)
    problems = check_smoke_results(registry, path, pairs)
    return StepOutcome("smoke run", not problems, problems,
                       notes=[f"{len(cells)} smoke {'cell' if len(cells) == 1 else 'cells'}, each run twice with the same seed"])


# -- submission -------------------------------------------------------------------------------


@dataclasses.dataclass
class Ranking:
    """The submitted implementations' suite scores and the leaderboard they were ranked in."""

    leaderboard: Any
    entries: list[Any]
    competitors: int


class Submission:
    """One submission: its store record, its run, its ranking."""

    def __init__(self, store: Any, path: str | Path, tier: str):
        self.store = store
        self.path = str(Path(path).resolve()) if Path(path).exists() else str(path)
        self.tier = tier
        self.id = store.create_submission(path=self.path, tier=tier)
        self.run_id: str | None = None
        self.report: ValidationReport | None = None
        logger.info("submission %d of %s created", self.id, self.path)

    def fail(self, reason: str) -> None:
        self.store.update_submission(self.id, status="failed", reason=reason[:2000])
        logger.info("submission %d failed: %s", self.id, reason)

    def accept(self, report: ValidationReport) -> None:
        """Record the validated implementation's suite, names and source hash."""
        self.report = report
        self.store.update_submission(self.id, suite=report.suite, implementation=",".join(report.names),
                                     source_hash=source_hash(self.path))

    def plan(self, registry: Registry, tasks: Sequence[str], device: str, trials: int | None, salt: str,
             timeout_s: float | None, memory_mb: int | None, with_baselines: bool) -> tuple[list[Cell], list[ImplementationRef]]:
        """Plan the full run: the submitted implementations (and the baselines when asked) at the tier."""
        from theorybench.plan import PlanRequest, plan_cells

        assert self.report is not None
        request = PlanRequest(
            suites=[self.report.suite], tasks=tasks, implementations=() if with_baselines else self.report.names,
            tier=self.tier, device=device, trials=trials, salt=salt, timeout_s=timeout_s, memory_mb=memory_mb,
        )
        return plan_cells(registry, request, added=registry.added)

    def start(self, cells: Sequence[Cell], refs: Sequence[ImplementationRef], executor_name: str, salt: str) -> str:
        from theorybench.runner import start_run

        self.run_id = start_run(self.store, cells, refs, tier=self.tier, executor_name=executor_name, salt=salt,
                                kind="submission", label=f"submission {self.id}")
        self.store.update_submission(self.id, status="running", run_id=self.run_id)
        return self.run_id

    def finish(self, failures: int, cells: int) -> None:
        reason = f"{failures} of {cells} cells failed" if failures else ""
        self.store.update_submission(self.id, status="finished", reason=reason)

    def rank(self, registry: Registry, tasks: Sequence[str], device: str) -> Ranking:
        """Score the suite at this tier and device over the tasks the run covered."""
        from theorybench.scoring import build_leaderboard

        assert self.report is not None and self.run_id is not None
        run = self.store.get_run(self.run_id)
        covered = sorted({cell["task"] for cell in run.plan})
        rows = self.store.results(suites=[self.report.suite], tiers=[self.tier], devices=[device], tasks=covered)
        leaderboard = build_leaderboard(rows, registry.suites())
        scores = [entry for entry in leaderboard.suite_scores if (entry.suite, entry.tier, entry.device) == (self.report.suite, self.tier, device)]
        entries = [entry for entry in scores if entry.implementation in self.report.names]
        return Ranking(leaderboard=leaderboard, entries=entries, competitors=len(scores))


def submission_records(store: Any) -> list[dict[str, Any]]:
    """Return the stored submissions, newest first."""
    return store.submissions()
