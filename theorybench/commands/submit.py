"""`theorybench validate`, `submit` and `submissions`: check a new implementation, run it, rank it."""

from __future__ import annotations

import argparse
import json
import logging

from rich.markup import escape
from rich.table import Table

from theorybench.commands.run import add_plan_arguments, execute_with_progress, report_failures
from theorybench.errors import TheoryBenchError, UsageError
from theorybench.executors import make_executor
from theorybench.registry import Registry
from theorybench.seeds import resolve_salt
from theorybench.store import Store
from theorybench.submission import STEPS, StepOutcome, Submission, ValidationFailed, validate

logger = logging.getLogger(__name__)


def _add_validation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke-timeout", type=float, default=None, metavar="SECONDS",
                        help="wall-clock limit per smoke cell in seconds (default: the suite's quick-tier limit)")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    check = subparsers.add_parser(
        "validate", parents=[common], help="check an implementation module without running the full suite",
        description="Import the module in an isolated worker, check its contract and metadata, check its source "
                    "statically, and smoke-run it twice on tiny instances. Exit code 1 when a step fails.",
    )
    check.add_argument("path", metavar="PATH", help="the implementation's .py file")
    check.add_argument("--suite", action="append", default=[], help="look for this suite's contract only (repeatable)")
    check.add_argument("--task", action="append", default=[], help="smoke-run only this task (repeatable)")
    check.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes of the smoke run (default: min(2, cores))")
    _add_validation_arguments(check)
    check.set_defaults(handler=validate_command)

    submit = subparsers.add_parser(
        "submit", parents=[common], help="validate an implementation, run its suite at a tier and print its rank",
        description="Validate the module (as `theorybench validate`), run its suite at the tier with it, store the "
                    "results and the submission's status, and print its rank beside the leaderboard.",
    )
    submit.add_argument("path", metavar="PATH", help="the implementation's .py file")
    add_plan_arguments(submit, default_tier="standard")
    _add_validation_arguments(submit)
    submit.add_argument("--with-baselines", action="store_true",
                        help="also run the suite's other implementations in the same run, so the rank has rivals "
                             "measured at the same commit and on the same machine")
    submit.add_argument("--no-leaderboard", action="store_true", help="print only the rank, not the leaderboard")
    submit.set_defaults(handler=submit_command)

    listing = subparsers.add_parser("submissions", parents=[common], help="list submissions and their status")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=submissions_command)


def _print_step(outcome: StepOutcome) -> None:
    from theorybench.cli import console, error_console

    number = STEPS.index(outcome.step) + 1
    if outcome.ok:
        detail = f" — {'; '.join(outcome.notes)}" if outcome.notes else ""
        console.print(f"[green]ok[/green]     {number}. {outcome.step}{detail}", highlight=False)
        return
    error_console.print(f"[bold red]failed[/bold red] {number}. {outcome.step}", highlight=False)
    for problem in outcome.problems:
        error_console.print(f"  {problem}", highlight=False, markup=False)


def validate_command(args: argparse.Namespace) -> int:
    from theorybench.cli import EXIT_REGRESSION, console

    report = validate(args.path, suites=args.suite, tasks=args.task, smoke_timeout_s=args.smoke_timeout,
                      workers=args.workers, on_step=_print_step)
    if not report.ok:
        return EXIT_REGRESSION
    console.print(f"{args.path}: valid ({', '.join(report.names)}, suite {report.suite})", highlight=False, markup=False)
    return 0


def submit_command(args: argparse.Namespace) -> int:
    from theorybench.cli import EXIT_IMPLEMENTATION_FAILED, EXIT_REGRESSION, console, error_console

    store = Store(args.store)
    submission = Submission(store, args.path, args.tier)
    error_console.print(f"submission {submission.id}: validating {args.path}", highlight=False, markup=False)
    try:
        report = validate(args.path, suites=args.suite, tasks=args.task, smoke_timeout_s=args.smoke_timeout,
                          workers=args.workers, on_step=_print_step)
    except (TheoryBenchError, KeyboardInterrupt) as error:
        submission.fail(f"validation did not complete: {error or type(error).__name__}")
        raise
    if not report.ok:
        if report.classes:
            submission.accept(report)
        failed = report.failed_step
        submission.fail(ValidationFailed(failed.step, failed.problems).args[0] if failed else "validation failed")
        return EXIT_REGRESSION
    submission.accept(report)

    try:
        registry = Registry(extra_paths=[args.path])
        salt = resolve_salt(args.salt)
        cells, refs = submission.plan(registry, args.task, args.device, args.seeds, salt, args.timeout, args.memory_mb,
                                      args.with_baselines)
        if not cells:
            raise UsageError(f"the tier {args.tier!r} selects no cell for {', '.join(report.names)}; try another --tier or --task")
        run_id = submission.start(cells, refs, args.executor, salt)
        preload = (*registry.suite(report.suite).preload, f"theorybench.suites.{report.suite}")
        executor = make_executor(args.executor, workers=args.workers, preload=preload, address=args.ray_address)
        error_console.print(f"run {run_id}: {len(cells)} cells, tier {args.tier}, store {store.display_url}", highlight=False, markup=False)
        try:
            summary = execute_with_progress(store, run_id, cells, executor, {(ref.suite, ref.name): ref.source_hash for ref in refs},
                                            error_console)
        finally:
            executor.close()
    except (TheoryBenchError, KeyboardInterrupt) as error:
        submission.fail(f"the run did not complete: {error or type(error).__name__}")
        raise
    submission.finish(len(summary.failures), len(cells))
    report_failures(error_console, summary)

    device = cells[0].device
    ranking = submission.rank(registry, args.task, device)
    if not args.no_leaderboard:
        from theorybench.report import print_leaderboard

        print_leaderboard(console, ranking.leaderboard, registry.suites())
    for entry in ranking.entries:
        console.print(
            f"[bold]{entry.implementation}[/bold]: rank {entry.rank} of {ranking.competitors} in {entry.suite} "
            f"(tier {entry.tier}, {entry.device}); score {entry.score:.3f}, solved {entry.solved}/{entry.problems}, "
            f"{entry.failed_cells} failed cells", highlight=False,
        )
    if ranking.competitors <= len(ranking.entries):
        console.print(
            f"no other implementation has results for these tasks at tier {args.tier} on {device}; "
            f"run `theorybench run --suite {report.suite} --tier {args.tier}` or submit with --with-baselines to rank against them",
            highlight=False,
        )
    console.print(f"submission {submission.id} finished: run {run_id}; details: theorybench show {run_id}", highlight=False)
    return EXIT_IMPLEMENTATION_FAILED if summary.failures else 0


def submissions_command(args: argparse.Namespace) -> int:
    from theorybench.cli import console

    store = Store(args.store)
    if args.json:
        console.file.write(json.dumps(store.submissions(), indent=2, default=str) + "\n")
        return 0
    table = Table(title=escape(f"submissions in {store.display_url}"))
    for column in ("id", "status", "suite", "implementation", "tier", "run", "updated", "path", "reason"):
        table.add_column(column, overflow="fold")
    for record in store.submissions():
        color = {"finished": "green", "failed": "red", "running": "yellow"}.get(record["status"], "white")
        table.add_row(
            str(record["id"]), f"[{color}]{record['status']}[/{color}]", record["suite"], record["implementation"],
            record["tier"], record["run_id"] or "-", record["updated_at"].strftime("%Y-%m-%d %H:%M:%S"),
            escape(record["path"]), escape(record["reason"]),
        )
    console.print(table)
    return 0
