"""`theorybench list`: suites, tasks with their bounds, and implementations."""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from theorybench.contracts import TIERS
from theorybench.registry import Registry


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("list", parents=[common], help="list suites, tasks with their bounds, and implementations")
    parser.add_argument("--suite", action="append", default=[], help="only this suite (repeatable)")
    parser.add_argument("--impl", action="append", default=[], metavar="PATH", help="also load this implementation module")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    from theorybench.cli import console

    registry = Registry(extra_paths=args.impl)
    suites = [registry.suite(name) for name in args.suite] if args.suite else list(registry.suites().values())
    if args.json:
        payload = []
        for suite in suites:
            payload.append({
                "suite": suite.name,
                "summary": suite.summary,
                "tasks": [
                    {
                        "task": task.name, "summary": task.summary, "bound": task.bound,
                        "score_metric": task.score_metric,
                        "instances": {tier: len(task.instances(tier)) for tier in TIERS},
                        "metrics": [metric.name for metric in task.metrics],
                    }
                    for task in suite.tasks()
                ],
                "implementations": [dict(ref.metadata, origin=ref.origin, path=ref.path) for ref in registry.implementations(suite.name)],
            })
        console.print_json(json.dumps(payload))
        return 0

    for suite in suites:
        console.rule(f"[bold]{escape(suite.name)}[/bold] — {escape(suite.summary)}")
        tasks = Table(title="tasks", title_justify="left")
        for column in ("task", "bound", "score metric", *[f"{tier} instances" for tier in TIERS], "summary"):
            tasks.add_column(column, overflow="fold")
        for task in suite.tasks():
            tasks.add_row(
                escape(task.name), escape(task.bound), escape(task.score_metric),
                *[str(len(task.instances(tier))) for tier in TIERS], escape(task.summary),
            )
        console.print(tasks)
        implementations = Table(title="implementations", title_justify="left")
        for column in ("name", "version", "devices", "origin", "reference"):
            implementations.add_column(column, overflow="fold")
        for ref in registry.implementations(suite.name):
            implementations.add_row(
                escape(ref.name), escape(str(ref.metadata.get("version", ""))), ",".join(ref.metadata.get("devices", [])),
                ref.origin, escape(str(ref.metadata.get("reference", ""))),
            )
        console.print(implementations)
    return 0
