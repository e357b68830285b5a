"""`theorybench run`: plan the cells, execute them in isolation, store and print the leaderboard."""

from __future__ import annotations

import argparse
import dataclasses
import logging

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from theorybench.contracts import TIERS
from theorybench.errors import UsageError
from theorybench.executors import make_executor
from theorybench.plan import PlanRequest, plan_cells
from theorybench.registry import Registry
from theorybench.runner import RunSummary, execute_run, start_run
from theorybench.scoring import build_leaderboard
from theorybench.seeds import resolve_salt, salt_digest
from theorybench.store import Store

logger = logging.getLogger(__name__)


def add_plan_arguments(parser: argparse.ArgumentParser, default_tier: str = "quick") -> None:
    """Add the flags that select cells and set limits (shared with `submit`)."""
    parser.add_argument("--suite", action="append", default=[], help="run only this suite (repeatable)")
    parser.add_argument("--task", action="append", default=[], help="run only this task (repeatable)")
    parser.add_argument("--tier", choices=TIERS, default=default_tier, help=f"size preset (default: {default_tier})")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="device of the cells; auto picks cuda when torch sees a GPU (default: auto)")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="trials per task instance (default: the suite's count for the tier)")
    parser.add_argument("--salt", default=None,
                        help="private salt for held-out instances (default: $THEORYBENCH_SALT, else the public salt)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="where cells run (default: local)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes of the local executor, or concurrent Ray tasks (default: min(2, cores))")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="address of a running Ray cluster (default: start a local one)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="wall-clock limit per cell in seconds (default: the suite's limit for the tier)")
    parser.add_argument("--memory-mb", type=int, default=None, metavar="MIB",
                        help="memory limit per cell in MiB (default: the suite's limit for the tier)")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "run", parents=[common], help="run cells and print the leaderboard",
        description="Run every (task instance, implementation, trial) cell selected by the filters, "
                    "each in an isolated worker, store each result as it finishes, then print the leaderboard.",
    )
    add_plan_arguments(parser)
    parser.add_argument("--impl", action="append", default=[], metavar="NAME_OR_PATH",
                        help="a .py path adds that implementation module; names restrict the run to the named implementations (repeatable)")
    parser.add_argument("--resume", metavar="RUN_ID", default=None,
                        help="finish an interrupted run: execute only its cells without a stored result")
    parser.add_argument("--label", default="", help="a free-form label stored with the run (a tag or a note)")
    parser.add_argument("--no-leaderboard", action="store_true", help="do not print the leaderboard at the end")
    parser.set_defaults(handler=run_command)


def split_impl_arguments(values: list[str]) -> tuple[list[str], list[str]]:
    """Split --impl values into module paths and implementation names."""
    paths = [value for value in values if value.endswith(".py") or "/" in value]
    names = [value for value in values if value not in paths]
    return paths, names


def progress_bar(console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=False,
    )


def execute_with_progress(store: Store, run_id: str, cells, executor, source_hashes, console) -> RunSummary:
    """Execute a run's cells behind a progress bar with cell counts and ETA."""
    with progress_bar(console) as progress:
        done = len(store.finished_cell_keys(run_id))
        bar = progress.add_task(f"run {run_id}", total=len(cells), completed=done, failed=0)
        failed = 0

        def on_result(result) -> None:
            nonlocal failed
            failed += int(result.failed)
            progress.update(bar, advance=1, failed=failed)

        return execute_run(store, run_id, cells, executor, source_hashes, on_result=on_result)


def report_failures(console, summary: RunSummary) -> None:
    for result in summary.failures:
        cell = result.cell
        console.print(
            f"[red]{result.status}[/red] "
            + escape(f"{cell.suite}/{cell.task} [{cell.instance}] {cell.implementation} trial {cell.trial}: {result.reason}"),
            highlight=False,
        )
    if summary.skipped:
        reasons = sorted({result.reason for result in summary.skipped})
        console.print(escape(f"{len(summary.skipped)} cells skipped: {'; '.join(reasons)}"), highlight=False)


def validate_limits(args: argparse.Namespace) -> None:
    """Raise UsageError for a non-positive --timeout, --memory-mb or --workers."""
    for flag, value in (("--timeout", args.timeout), ("--memory-mb", args.memory_mb), ("--workers", args.workers)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be positive, got {value:g}")


def check_added_modules(paths: list[str]) -> None:
    """Run the static check on modules added by path and raise RegistryError listing any finding.

    Bundled implementations are reviewed in the repository. A module from outside is checked here
    before it is imported, so one that reaches into the harness's counters never runs.
    """
    from pathlib import Path

    from theorybench.errors import RegistryError
    from theorybench.static_check import check_file

    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            findings = check_file(path)
        except SyntaxError:
            continue  # the registry reports the syntax error with its line
        if findings:
            listing = "\n  ".join(str(finding) for finding in findings)
            raise RegistryError(f"{path} failed the static check; fix these lines:\n  {listing}")


def run_command(args: argparse.Namespace) -> int:
    from theorybench.cli import EXIT_IMPLEMENTATION_FAILED, EXIT_INTERRUPTED, console, error_console

    validate_limits(args)
    store = Store(args.store)
    paths, names = split_impl_arguments(args.impl)
    check_added_modules(paths)
    registry = Registry(extra_paths=paths)

    if args.resume:
        if args.suite or args.task or names:
            raise UsageError("--resume runs the stored plan of the run; do not combine it with --suite, --task or --impl")
        run = store.get_run(args.resume)
        salt = resolve_salt(args.salt)
        if salt_digest(salt) != run.salt:
            raise UsageError(
                f"run {run.id} used salt {run.salt}; pass the same --salt or THEORYBENCH_SALT to resume it"
            )
        run_id = run.id
        cells = [dataclasses.replace(cell, salt=salt) for cell in run.cells()]
        tier = run.tier
        source_hashes = {(record["suite"], record["name"]): record["source_hash"] for record in store.implementation_records()
                         if record["run_id"] == run_id}
        suite_names = sorted({cell.suite for cell in cells})
    else:
        salt = resolve_salt(args.salt)
        request = PlanRequest(
            suites=args.suite, tasks=args.task, implementations=names, tier=args.tier, device=args.device,
            trials=args.seeds, salt=salt, timeout_s=args.timeout, memory_mb=args.memory_mb,
        )
        cells, refs = plan_cells(registry, request, added=registry.added)
        if not cells:
            raise UsageError("the filters select no cell; `theorybench list` shows suites, tasks and implementations")
        run_id = start_run(store, cells, refs, tier=args.tier, executor_name=args.executor, salt=salt, label=args.label)
        tier = args.tier
        source_hashes = {(ref.suite, ref.name): ref.source_hash for ref in refs}
        suite_names = sorted({cell.suite for cell in cells})

    preload = tuple(module for name in suite_names for module in registry.suite(name).preload)
    preload += tuple(f"theorybench.suites.{name}" for name in suite_names)
    executor = make_executor(args.executor, workers=args.workers, preload=preload, address=args.ray_address)
    error_console.print(escape(f"run {run_id}: {len(cells)} cells, tier {tier}, store {store.display_url}"), highlight=False)
    try:
        summary = execute_with_progress(store, run_id, cells, executor, source_hashes, error_console)
    except KeyboardInterrupt:
        error_console.print(f"interrupted; finished results are stored. Resume with: theorybench run --resume {run_id}")
        return EXIT_INTERRUPTED
    finally:
        executor.close()

    report_failures(error_console, summary)
    if not args.no_leaderboard:
        from theorybench.report import print_leaderboard

        rows = store.results(suites=suite_names, tiers=[tier])
        print_leaderboard(console, build_leaderboard(rows, registry.suites()), registry.suites())
    console.print(
        f"run {run_id}: {summary.executed} cells executed, {len(summary.failures)} failed, "
        f"{summary.skipped_finished} already finished; details: theorybench show {run_id}", highlight=False,
    )
    return EXIT_IMPLEMENTATION_FAILED if summary.failures else 0
