"""Rendering of leaderboards and runs for the terminal and for files (table, CSV, JSON, Markdown)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Iterable, Mapping, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from theorybench.contracts import Suite
from theorybench.scoring import Leaderboard, LeaderboardRow

FORMATS = ("table", "csv", "json", "markdown")


def format_number(value: Any) -> str:
    """Format a metric for a table: integers plainly, floats with 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_number(item) for item in value) + "]"
    return str(value)


def _row_columns(rows: Sequence[LeaderboardRow], suites: Mapping[str, Suite]) -> list[str]:
    """Return the metric columns to show for the rows of one task."""
    if not rows:
        return []
    suite = suites.get(rows[0].suite)
    if suite is not None:
        task = suite.task(rows[0].task)
        wanted = list(task.leaderboard_metrics) or ([task.score_metric] if task.score_metric else [])
        if wanted:
            return wanted
    names: list[str] = []
    for row in rows:
        names.extend(name for name in row.metrics if name not in names)
    return names[:6]


def print_leaderboard(console: Console, leaderboard: Leaderboard, suites: Mapping[str, Suite], detail: bool = True) -> None:
    """Print one score table per (suite, tier, device) and, with `detail`, one table per task."""
    if not leaderboard.rows:
        console.print("No results match. Run `theorybench run --tier quick` to produce some.")
        return
    keys = sorted({(row.suite, row.tier, row.device) for row in leaderboard.rows})
    for suite_name, tier, device in keys:
        scores = [s for s in leaderboard.suite_scores if (s.suite, s.tier, s.device) == (suite_name, tier, device)]
        for score_group in sorted({entry.group for entry in scores}):
            label = f"{suite_name} [{score_group}]" if score_group else suite_name
            table = Table(title=escape(f"{label} — tier {tier}, {device}: performance-profile score (1 = best everywhere)"))
            for column in ("rank", "implementation", "score", "geo-mean ratio", "solved", "failed cells"):
                table.add_column(column, justify="right" if column not in ("implementation",) else "left")
            for entry in (entry for entry in scores if entry.group == score_group):
                table.add_row(
                    str(entry.rank), escape(entry.implementation), f"{entry.score:.3f}", format_number(entry.geometric_mean_ratio),
                    f"{entry.solved}/{entry.problems}", str(entry.failed_cells),
                )
            console.print(table)
        if not detail:
            continue
        rows = [row for row in leaderboard.rows if (row.suite, row.tier, row.device) == (suite_name, tier, device)]
        for task_name in sorted({row.task for row in rows}):
            task_rows = [row for row in rows if row.task == task_name]
            columns = _row_columns(task_rows, suites)
            bound = task_rows[0].bound
            title = f"{suite_name}/{task_name}" + (f" — bound: {bound}" if bound else "")
            task_table = Table(title=escape(title), title_justify="left")
            for column in ("instance", "implementation", "status", "score", *columns):
                task_table.add_column(column, overflow="fold")
            for row in task_rows:
                status = row.status if row.status == "ok" else f"[red]{row.status}[/red] ({row.failed}/{row.trials})"
                task_table.add_row(
                    escape(row.instance), escape(row.implementation), status, format_number(row.score),
                    *(escape(format_number(row.metrics.get(column))) for column in columns),
                )
            console.print(task_table)


def leaderboard_records(leaderboard: Leaderboard, suite_scores: bool = False) -> list[dict[str, Any]]:
    if suite_scores:
        return [score.as_dict() for score in leaderboard.suite_scores]
    return [row.as_dict() for row in leaderboard.rows]


def render_records(records: Sequence[Mapping[str, Any]], fmt: str) -> str:
    """Render a list of flat records as CSV, JSON or Markdown."""
    if fmt == "json":
        return json.dumps(list(records), indent=2, default=str)
    columns: list[str] = []
    for record in records:
        columns.extend(key for key in record if key not in columns)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _csv_value(record.get(key)) for key in columns})
        return buffer.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for record in records:
            cells = [format_number(record.get(key)).replace("|", "\\|") for key in columns]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def status_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
