"""`theorybench compare` and `history`: changes between two runs or commits, and a metric over commits."""

from __future__ import annotations

import argparse
import json
import logging

from rich.markup import escape
from rich.table import Table

from theorybench import stats
from theorybench.compare import MIN_TIMING_SAMPLES, Comparison, compare
from theorybench.history import metric_history
from theorybench.registry import Registry
from theorybench.report import format_number
from theorybench.store import Store

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "compare", parents=[common], help="compare the results of two runs, commits or tags",
        description="Compare stored results of A (before) and B (after). A and B are run ids (or unique prefixes), or "
                    "commits, tags or branches (`git rev-parse` resolves them; every stored run at that commit takes part). "
                    "Counts and values compare cell by cell, exactly. Timings compare only on one machine fingerprint, "
                    f"flagged when a Mann-Whitney U test, Benjamini-Hochberg adjusted over the call, gives p < {stats.TIMING_ALPHA} "
                    "and the median ratio passes --factor. Exit code 1 on a regression, 3 when a cell of B failed.",
    )
    parser.add_argument("before", metavar="A", help="run id, commit or tag of the baseline")
    parser.add_argument("after", metavar="B", help="run id, commit or tag to check against A")
    parser.add_argument("--factor", type=float, default=stats.TIMING_FACTOR,
                        help=f"median timing ratio a significant change must pass (default: {stats.TIMING_FACTOR})")
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative tolerance for metrics of kind value (counts always compare exactly; default: 0)")
    parser.add_argument("--suite", action="append", default=[], help="only this suite (repeatable)")
    parser.add_argument("--task", action="append", default=[], help="only this task (repeatable)")
    parser.add_argument("--impl", action="append", default=[], metavar="NAME", help="only this implementation (repeatable)")
    parser.add_argument("--tier", action="append", default=[], help="only this tier (repeatable)")
    parser.add_argument("--device", action="append", default=[], help="only this device (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(handler=compare_command)

    history = subparsers.add_parser(
        "history", parents=[common], help="a metric of one task and implementation over commits, with change points",
        description="Print the median of a metric per commit for each instance of the task, in git order, and mark "
                    "the commits where the level changes (PELT change points).",
    )
    history.add_argument("--task", required=True, help="the task")
    history.add_argument("--impl", required=True, metavar="NAME", help="the implementation")
    history.add_argument("--metric", default=None, help="the metric (default: the task's score metric; cell_wall_s for wall time)")
    history.add_argument("--suite", default=None, help="the suite, when several have the task")
    history.add_argument("--tier", default=None, help="only this tier")
    history.add_argument("--device", default=None, help="only this device")
    history.add_argument("--fingerprint", default=None, metavar="ID",
                         help="only results from this machine fingerprint (default for timings: the most frequent one)")
    history.add_argument("--instance", action="append", default=[], help="only this instance label (repeatable)")
    history.add_argument("--json", action="store_true", help="print the history as JSON")
    history.set_defaults(handler=history_command)


def _exit_code(comparison: Comparison) -> int:
    from theorybench.cli import EXIT_IMPLEMENTATION_FAILED, EXIT_REGRESSION

    if comparison.failed_after:
        return EXIT_IMPLEMENTATION_FAILED
    if comparison.regressions:
        return EXIT_REGRESSION
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from theorybench.cli import console, error_console

    store = Store(args.store, create=False)
    filters = {"suites": args.suite, "tasks": args.task, "implementations": args.impl, "tiers": args.tier, "devices": args.device}
    comparison = compare(store, Registry().suites(), args.before, args.after, factor=args.factor, rtol=args.rtol, filters=filters)
    if args.json:
        payload = {
            "before": comparison.before.label, "after": comparison.after.label,
            "changes": [change.as_dict() for change in comparison.changes],
            "compared_cells": comparison.compared_cells, "compared_values": comparison.compared_values,
            "timing_comparisons": comparison.timing_comparisons, "timings_refused": comparison.timings_refused,
            "failed_cells_after": comparison.failed_after, "regressions": len(comparison.regressions),
        }
        console.file.write(json.dumps(payload, indent=2, default=str) + "\n")
        return _exit_code(comparison)

    console.print(f"A: {comparison.before.label}\nB: {comparison.after.label}", highlight=False)
    for side in (comparison.before, comparison.after):
        if side.dirty:
            error_console.print(f"note: {side.label} includes runs from a checkout with uncommitted changes", highlight=False)
    if comparison.timings_refused:
        error_console.print(f"[yellow]{comparison.timings_refused}[/yellow]", highlight=False)
    if comparison.changes:
        table = Table(title="changes from A to B")
        for column in ("verdict", "kind", "task", "instance", "implementation", "metric", "A", "B", "ratio", "p (BH)", "trials"):
            table.add_column(column, overflow="fold")
        colors = {"regression": "red", "failed": "red", "improvement": "green", "fixed": "green"}
        for change in sorted(comparison.changes, key=lambda c: (c.verdict not in ("failed", "regression"), c.suite, c.task, c.instance)):
            color = colors.get(change.verdict, "yellow")
            table.add_row(
                f"[{color}]{change.verdict}[/{color}]", change.kind, f"{change.suite}/{change.task}", escape(change.instance),
                change.implementation, change.metric, escape(format_number(change.before)), escape(format_number(change.after)),
                format_number(change.ratio), format_number(change.p_adjusted), change.trials,
            )
        console.print(table)
    else:
        console.print("no changes")
    console.print(
        f"{comparison.compared_cells} cells and {comparison.compared_values} count or value figures compared exactly; "
        f"{comparison.timing_comparisons} timing comparisons"
        + (f" ({comparison.underpowered_timings} with fewer than {MIN_TIMING_SAMPLES} samples a side, which cannot reach "
           f"significance)" if comparison.underpowered_timings else "")
        + f"; {comparison.only_before} cells only in A, {comparison.only_after} only in B; "
        f"{len(comparison.regressions)} regressions, {comparison.failed_after} failed cells in B",
        highlight=False,
    )
    return _exit_code(comparison)


def history_command(args: argparse.Namespace) -> int:
    from theorybench.cli import console

    store = Store(args.store, create=False)
    history = metric_history(store, Registry().suites(), args.task, args.impl, args.metric, suite=args.suite, tier=args.tier,
                             device=args.device, fingerprint=args.fingerprint, instances=args.instance)
    if args.json:
        payload = {
            "suite": history.suite, "task": history.task, "implementation": history.implementation,
            "metric": history.metric, "unit": history.unit, "fingerprint": history.fingerprint,
            "series": {instance: [
                {"commit": point.commit, "started_at": str(point.started_at), "value": point.value, "trials": point.trials,
                 "runs": point.runs, "dirty": point.dirty, "change": point.change,
                 "shift": point.shift if point.change else None}
                for point in points] for instance, points in history.series.items()},
        }
        console.file.write(json.dumps(payload, indent=2, default=str) + "\n")
        return 0
    unit = f" ({history.unit})" if history.unit else ""
    for instance, points in history.series.items():
        table = Table(title=escape(f"{history.suite}/{history.task} [{instance}] {history.implementation}: {history.metric}{unit}"),
                      title_justify="left")
        for column in ("commit", "first run", "runs", "trials", "median", "change point"):
            table.add_column(column, overflow="fold")
        for point in points:
            marker = f"[bold]level x{point.shift:.3g}[/bold]" if point.change else ""
            table.add_row(point.commit[:10] + ("+dirty" if point.dirty else ""), point.started_at.strftime("%Y-%m-%d %H:%M"),
                          str(point.runs), str(point.trials), format_number(point.value), marker)
        console.print(table)
    if history.skipped_without_commit:
        console.print(f"{history.skipped_without_commit} results without a git commit were left out", highlight=False)
    return 0
