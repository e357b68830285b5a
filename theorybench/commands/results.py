"""`theorybench leaderboard`, `show` and `export`: read the store, score, render."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from rich.table import Table

from theorybench.errors import UsageError
from theorybench.registry import Registry
from theorybench.report import FORMATS, leaderboard_records, print_leaderboard, render_records, status_counts
from theorybench.scoring import build_leaderboard
from theorybench.store import Store

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("parquet", "csv", "json")


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", action="append", default=[], help="only this suite (repeatable)")
    parser.add_argument("--task", action="append", default=[], help="only this task (repeatable)")
    parser.add_argument("--impl", action="append", default=[], metavar="NAME", help="only this implementation (repeatable)")
    parser.add_argument("--tier", action="append", default=[], help="only this tier (repeatable)")
    parser.add_argument("--device", action="append", default=[], help="only this device (repeatable)")
    parser.add_argument("--run", action="append", default=[], metavar="RUN_ID", help="only results of this run (repeatable)")
    parser.add_argument("--fingerprint", action="append", default=[], metavar="ID", help="only results measured on this machine fingerprint")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    board = subparsers.add_parser("leaderboard", parents=[common], help="print the leaderboard from the store")
    add_filter_arguments(board)
    board.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    board.add_argument("--suite-scores", action="store_true",
                       help="with csv, json or markdown: print the per-suite scores instead of the per-task rows")
    board.add_argument("--summary", action="store_true", help="with table: print only the suite score tables")
    board.set_defaults(handler=leaderboard_command)

    show = subparsers.add_parser("show", parents=[common], help="show one run's provenance and failures, or list the runs")
    show.add_argument("run_id", nargs="?", default=None, metavar="RUN_ID", help="a run id or its unique prefix; omit to list runs")
    show.add_argument("--traceback", action="store_true", help="print the traceback of each failed cell")
    show.set_defaults(handler=show_command)

    export = subparsers.add_parser("export", parents=[common], help="write results and curves to parquet, CSV or JSON files")
    add_filter_arguments(export)
    export.add_argument("--format", choices=EXPORT_FORMATS, default="parquet", help="file format (default: parquet)")
    export.add_argument("--output", required=True, metavar="DIR", help="folder to write results.<ext> and curves.<ext> into")
    export.set_defaults(handler=export_command)


def _filtered_results(store: Store, args: argparse.Namespace, include_traceback: bool = False) -> list[dict]:
    return store.results(
        run_ids=args.run, suites=args.suite, tasks=args.task, implementations=args.impl, tiers=args.tier,
        devices=args.device, fingerprint_ids=args.fingerprint, include_traceback=include_traceback,
    )


def leaderboard_command(args: argparse.Namespace) -> int:
    from theorybench.cli import console

    store = Store(args.store)
    registry = Registry()
    leaderboard = build_leaderboard(_filtered_results(store, args), registry.suites())
    if args.format == "table":
        print_leaderboard(console, leaderboard, registry.suites(), detail=not args.summary)
        return 0
    text = render_records(leaderboard_records(leaderboard, suite_scores=args.suite_scores), args.format)
    console.file.write(text if text.endswith("\n") else text + "\n")
    return 0


def show_command(args: argparse.Namespace) -> int:
    from theorybench.cli import console

    store = Store(args.store)
    if args.run_id is None:
        table = Table(title=f"runs in {store.url}")
        for column in ("run", "kind", "status", "tier", "started", "commit", "label", "command"):
            table.add_column(column, overflow="fold")
        for run in store.runs():
            commit = (run.git_commit[:10] + ("+dirty" if run.git_dirty else "")) if run.git_commit else "-"
            table.add_row(run.id, run.kind, run.status, run.tier, run.started_at.strftime("%Y-%m-%d %H:%M:%S"), commit, run.label, run.command)
        console.print(table)
        return 0

    run = store.get_run(args.run_id)
    rows = store.results(run_ids=[run.id], include_traceback=args.traceback)
    console.rule(f"run {run.id}")
    facts = {
        "status": run.status, "kind": run.kind, "command": run.command, "tier": run.tier, "executor": run.executor,
        "salt": run.salt, "git commit": f"{run.git_commit or '-'}{' (dirty)' if run.git_dirty else ''}",
        "started": str(run.started_at), "finished": str(run.finished_at or "-"),
        "cells": f"{len(rows)} of {len(run.plan)} planned have a result",
        "statuses": ", ".join(f"{status}: {count}" for status, count in sorted(status_counts(rows).items())) or "-",
        "fingerprint": f"{run.fingerprint_id} {json.dumps({k: v for k, v in run.fingerprint.items() if k != 'id'})}",
        "packages": ", ".join(f"{name} {version}" for name, version in sorted(run.packages.items())),
    }
    for name, value in facts.items():
        console.print(f"[bold]{name}[/bold]: {value}", highlight=False)
    failures = [row for row in rows if row["status"] not in ("ok", "skipped")]
    if failures:
        console.rule("failed cells")
    for row in failures:
        console.print(
            f"[red]{row['status']}[/red] {row['suite']}/{row['task']} [{row['instance']}] {row['implementation']} "
            f"trial {row['trial']}: {row['reason']}", highlight=False,
        )
        if args.traceback and row.get("traceback"):
            console.print(row["traceback"], highlight=False, markup=False)
    if run.status in ("running", "interrupted") and len(rows) < len(run.plan):
        console.print(f"resume with: theorybench run --resume {run.id}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from theorybench.cli import console

    store = Store(args.store)
    rows = _filtered_results(store, args)
    if not rows:
        raise UsageError("no results match the filters; nothing to export")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    results = pd.json_normalize(rows, sep=".")
    for column in ("params", "info"):
        if column in results:
            results[column] = results[column].map(json.dumps)
    curves = pd.DataFrame(store.curves([row["id"] for row in rows]))
    written = []
    for name, frame in (("results", results), ("curves", curves)):
        path = output / f"{name}.{args.format}"
        if args.format == "parquet":
            frame.to_parquet(path, index=False)
        elif args.format == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_json(path, orient="records", date_format="iso", indent=1)
        written.append(f"{path} ({len(frame)} rows)")
    console.print("wrote " + ", ".join(written), highlight=False)
    return 0
