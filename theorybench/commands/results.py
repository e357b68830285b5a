"""`theorybench leaderboard`, `show` and `export`: read the store, score, render."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from rich.markup import escape
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
    board.add_argument("--serve", action="store_true",
                       help="serve the Streamlit leaderboard app on --address:--port instead of printing (needs the app extra)")
    board.add_argument("--port", type=int, default=8501, help="with --serve: TCP port of the app (default: 8501)")
    board.add_argument("--address", default="127.0.0.1",
                       help="with --serve: address the app listens on (default: 127.0.0.1, this machine only)")
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

    if args.serve:
        return serve_app(args)
    store = Store(args.store)
    _check_names(store, args)
    registry = Registry()
    leaderboard = build_leaderboard(_filtered_results(store, args), registry.suites())
    if args.format == "table":
        print_leaderboard(console, leaderboard, registry.suites(), detail=not args.summary)
        return 0
    text = render_records(leaderboard_records(leaderboard, suite_scores=args.suite_scores), args.format)
    console.file.write(text if text.endswith("\n") else text + "\n")
    return 0


def leaderboard_app_path() -> Path:
    """Return the Streamlit app's script, `leaderboard/app.py` beside the `theorybench` package."""
    return Path(__file__).resolve().parents[2] / "leaderboard" / "app.py"


def serve_app(args: argparse.Namespace) -> int:
    """Run `streamlit run leaderboard/app.py` in the foreground until it exits or is interrupted.

    The store URL reaches the app through THEORYBENCH_STORE. The leaderboard's filter flags do
    not apply here; the app has its own filters.
    """
    import importlib.util
    import os
    import subprocess
    import sys

    from theorybench.store import STORE_ENVIRONMENT_VARIABLE, default_store_url

    app = leaderboard_app_path()
    if not app.is_file():
        raise UsageError(f"the leaderboard app is missing at {app}; --serve needs a source checkout (pip install -e '.[app]')")
    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("streamlit is not installed; install the app extra: pip install -e '.[app]'")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port; give 1 to 65535")
    store_url = args.store or default_store_url()
    environment = dict(os.environ, **{STORE_ENVIRONMENT_VARIABLE: _absolute_sqlite_url(store_url)})
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    shown_url = _masked(store_url)
    logger.info("serving the leaderboard of %s at http://%s:%d", shown_url, args.address, args.port)
    from theorybench.cli import EXIT_INFRASTRUCTURE, console

    console.print(f"leaderboard of {shown_url} at http://{args.address}:{args.port} (Ctrl+C stops it)", highlight=False, markup=False)
    completed = subprocess.run(command, env=environment, check=False)
    if completed.returncode not in (0, -2, 130):
        logger.error("streamlit exited with status %d", completed.returncode)
        return EXIT_INFRASTRUCTURE
    return 0


def _absolute_sqlite_url(url: str) -> str:
    """Return `url` with a relative SQLite path made absolute, so the app finds the same file."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return url
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)


def show_command(args: argparse.Namespace) -> int:
    from theorybench.cli import console

    store = Store(args.store)
    if args.run_id is None:
        table = Table(title=escape(f"runs in {store.display_url}"))
        table.add_column("run", no_wrap=True)
        for column in ("kind", "status", "tier", "started", "commit", "label", "command"):
            table.add_column(column, overflow="fold")
        for run in store.runs():
            commit = "-"
            if run.git_commit:
                commit = run.git_commit[:10] + ("+dirty" if run.git_dirty else "")
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
        console.print(f"[bold]{name}[/bold]: " + escape(str(value)), highlight=False)
    failures = [row for row in rows if row["status"] not in ("ok", "skipped")]
    if failures:
        console.rule("failed cells")
    for row in failures:
        console.print(
            f"[red]{row['status']}[/red] "
            + escape(f"{row['suite']}/{row['task']} [{row['instance']}] {row['implementation']} trial {row['trial']}: {row['reason']}"),
            highlight=False,
        )
        if args.traceback and row.get("traceback"):
            console.print(row["traceback"], highlight=False, markup=False)
    if run.status in ("running", "interrupted") and len(rows) < len(run.plan):
        console.print(f"resume with: theorybench run --resume {run.id}")
    return 0


def _masked(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def _check_names(store: Store, args: argparse.Namespace) -> None:
    """Raise UsageError for a --suite or --tier value no suite or tier has, listing the known ones."""
    from theorybench.contracts import TIERS
    from theorybench.registry import discover_suites

    known_suites = discover_suites()
    unknown = [name for name in args.suite if name not in known_suites]
    if unknown:
        raise UsageError(f"unknown suite {', '.join(unknown)}; known suites: {', '.join(known_suites)}")
    unknown = [name for name in args.tier if name not in TIERS]
    if unknown:
        raise UsageError(f"unknown tier {', '.join(unknown)}; choose from {', '.join(TIERS)}")


def export_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from theorybench.cli import console

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder to write results.{args.format} and curves.{args.format} into")
    store = Store(args.store)
    _check_names(store, args)
    rows = _filtered_results(store, args)
    if not rows:
        raise UsageError("no results match the filters; nothing to export")
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
