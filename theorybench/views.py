"""Read-only views of a store as pandas DataFrames, for the leaderboard app and scripts.

Every function reads through `theorybench.store` (bound parameters only) and scores through
`theorybench.scoring`; none writes to the store, imports an implementation or runs a cell. The
functions know suites only through the `Suite` and `Task` classes the registry returns, so a new
suite shows up without a change here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from theorybench import stats
from theorybench.contracts import Suite, Task
from theorybench.errors import StoreError
from theorybench.scoring import build_leaderboard
from theorybench.store import Store, curves_table, results_table, runs_table

logger = logging.getLogger(__name__)

#: The README's first command: it fills the default store with the quick tier of every suite.
FIRST_COMMAND = "pip install torch==2.13.0 -e . && theorybench run --tier quick"

#: Result columns the app reads; the traceback and the free-form info stay in the store.
RESULT_COLUMNS = (
    "id", "run_id", "suite", "task", "instance", "params", "implementation", "source_hash", "tier", "device",
    "trial", "salt", "status", "reason", "metrics", "fingerprint_id", "git_commit", "started_at", "finished_at", "wall_s",
)

#: Columns that identify one trial; the leaderboard keeps the newest result of each.
TRIAL_KEY = ["suite", "task", "instance", "implementation", "tier", "salt", "device", "trial"]

#: Significance rules of a comparison, as `theorybench compare` applies them: flag a timing only
#: when the Benjamini-Hochberg adjusted Mann-Whitney U p-value is below COMPARE_ALPHA and the
#: ratio of medians passes COMPARE_RATIO_THRESHOLD. The shared constants in `stats` win when set.
COMPARE_ALPHA = stats.TIMING_ALPHA
COMPARE_RATIO_THRESHOLD = stats.TIMING_FACTOR
#: Metric kinds that compare exactly, on any machine.
EXACT_KINDS = ("count", "value")


# ---------------------------------------------------------------------------------------------
# Store state
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StoreState:
    """What the app needs to know about a store before it reads any result.

    `state` is "missing" (no database at the URL), "empty" (no result yet), "invalid" (cannot be
    read; `message` gives the reason) or "ready".
    """

    url: str
    state: str
    message: str = ""
    latest_run_id: str = ""
    newest_result_id: int = 0

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def sqlite_path(url: str) -> Path | None:
    """Return the file of a SQLite URL, or None for other back ends and in-memory databases."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def store_state(url: str) -> StoreState:
    """Inspect the store at `url` without creating it.

    A SQLite file that does not exist is reported as missing and is not created, so opening the
    app in an empty folder leaves no stray database behind.
    """
    path = sqlite_path(url)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        return StoreState(url, "missing", f"no store at {path}")
    try:
        store = Store(url, create=False)
    except StoreError as error:
        message = str(error)
        state = "empty" if "no TheoryBench results yet" in message else "invalid"
        return StoreState(url, state, message)
    try:
        with store.engine.connect() as connection:
            newest = connection.execute(sa.select(sa.func.max(results_table.c.id))).scalar_one_or_none()
        latest = store.latest_run_id() or ""
    except (sa.exc.SQLAlchemyError, StoreError) as error:
        return StoreState(url, "invalid", f"cannot read the store {url}: {error}")
    finally:
        store.dispose()
    if not newest:
        return StoreState(url, "empty", f"{url} has no results yet", latest_run_id=latest)
    return StoreState(url, "ready", latest_run_id=latest, newest_result_id=int(newest))


# ---------------------------------------------------------------------------------------------
# Raw tables
# ---------------------------------------------------------------------------------------------


def results_frame(
    store: Store,
    *,
    suites: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    tiers: Sequence[str] | None = None,
    devices: Sequence[str] | None = None,
    fingerprints: Sequence[str] | None = None,
    implementations: Sequence[str] | None = None,
    run_ids: Sequence[str] | None = None,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    latest_only: bool = False,
) -> pd.DataFrame:
    """Return result rows (without tracebacks and info) as a DataFrame, oldest first.

    The filters run in SQL with bound parameters; days are UTC and inclusive. With `latest_only`
    only the newest result of each trial among the filtered rows is returned, which is all the
    leaderboard reads (`scoring.latest_per_trial`), so a long history is not loaded. `params` and
    `metrics` stay dicts, as `scoring.build_leaderboard` expects them.
    """
    conditions = []
    for column, values in (
        ("suite", suites), ("task", tasks), ("tier", tiers), ("device", devices), ("fingerprint_id", fingerprints),
        ("implementation", implementations), ("run_id", run_ids),
    ):
        if values:
            conditions.append(results_table.c[column].in_(list(values)))
    if first_day is not None:
        conditions.append(results_table.c.started_at >= _day_start(first_day))
    if last_day is not None:
        conditions.append(results_table.c.started_at < _day_start(last_day + dt.timedelta(days=1)))
    query = sa.select(*(results_table.c[name] for name in RESULT_COLUMNS)).order_by(results_table.c.id)
    if latest_only:
        newest = sa.select(sa.func.max(results_table.c.id)).where(*conditions).group_by(
            *(results_table.c[name] for name in TRIAL_KEY)
        )
        query = query.where(results_table.c.id.in_(newest.scalar_subquery()))
    else:
        query = query.where(*conditions)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=list(RESULT_COLUMNS))
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.timezone.utc)


def result_facets(store: Store, suite: str | None = None) -> dict[str, Any]:
    """Return the distinct suites, tasks, tiers, devices, fingerprints and implementations of the
    results (of one suite when given), the (tier, device, task) triples present, and the first
    and last day (UTC) a result started. One scan of the results table."""
    condition = [results_table.c.suite == suite] if suite else []
    names = ("suite", "task", "tier", "device", "fingerprint_id", "implementation")
    query = (
        sa.select(*(results_table.c[name] for name in names),
                  sa.func.min(results_table.c.started_at), sa.func.max(results_table.c.started_at))
        .where(*condition)
        .group_by(*(results_table.c[name] for name in names))
    )
    with store.engine.connect() as connection:
        combinations = connection.execute(query).all()
    facets: dict[str, Any] = {}
    for index, (plural, _) in enumerate(zip(("suites", "tasks", "tiers", "devices", "fingerprints", "implementations"), names)):
        facets[plural] = sorted({row[index] for row in combinations})
    firsts = [_as_datetime(row[6]) for row in combinations if row[6] is not None]
    lasts = [_as_datetime(row[7]) for row in combinations if row[7] is not None]
    facets["first_day"] = min(firsts).date() if firsts else None
    facets["last_day"] = max(lasts).date() if lasts else None
    facets["tier_device_tasks"] = sorted({(row[2], row[3], row[1]) for row in combinations})
    return facets


def _as_datetime(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def runs_frame(store: Store) -> pd.DataFrame:
    """Return every run, newest first, with its provenance and its number of results."""
    counts = (
        sa.select(results_table.c.run_id, sa.func.count().label("results"))
        .group_by(results_table.c.run_id)
        .subquery()
    )
    columns = [runs_table.c[name] for name in (
        "id", "kind", "status", "command", "tier", "executor", "git_commit", "git_dirty", "fingerprint_id",
        "label", "started_at", "finished_at",
    )]
    query = (
        sa.select(*columns, sa.func.coalesce(counts.c.results, 0).label("results"))
        .outerjoin(counts, counts.c.run_id == runs_table.c.id)
        .order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc())
    )
    with store.engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(query).mappings().all())
    if frame.empty:
        return pd.DataFrame(columns=[column.name for column in columns] + ["results"])
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def curves_frame(store: Store, result_ids: Sequence[int]) -> pd.DataFrame:
    """Return the curve points of the given results in long format (result_id, name, point, x, y)."""
    columns = ["result_id", "name", "x_label", "y_label", "point", "x", "y"]
    ids = [int(value) for value in result_ids]
    frames = []
    with store.engine.connect() as connection:
        for start in range(0, len(ids), 500):
            query = (
                sa.select(*(curves_table.c[name] for name in columns))
                .where(curves_table.c.result_id.in_(ids[start:start + 500]))
                .order_by(curves_table.c.result_id, curves_table.c.name, curves_table.c.point)
            )
            frames.append(pd.DataFrame.from_records(connection.execute(query).all(), columns=columns))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)


def implementation_records_frame(store: Store, suite: str | None = None, name: str | None = None) -> pd.DataFrame:
    """Return the implementation metadata each run recorded, with the run's start time."""
    records = store.implementation_records(suite=suite, name=name)
    frame = pd.DataFrame(records)
    if frame.empty:
        return pd.DataFrame(columns=["run_id", "suite", "name", "version", "source_hash", "origin", "path", "metadata", "started_at"])
    runs = runs_frame(store)[["id", "started_at", "git_commit"]].rename(columns={"id": "run_id"})
    return frame.merge(runs, on="run_id", how="left").sort_values("started_at")


def submissions_frame(store: Store) -> pd.DataFrame:
    """Return every submission, newest first."""
    columns = ["id", "path", "suite", "implementation", "source_hash", "tier", "status", "reason", "run_id", "created_at", "updated_at"]
    frame = pd.DataFrame(store.submissions())
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame[columns]


# ---------------------------------------------------------------------------------------------
# Filters and the leaderboard
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResultFilter:
    """A selection of results; empty tuples and None select everything."""

    tasks: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()
    implementations: tuple[str, ...] = ()
    first_day: dt.date | None = None
    last_day: dt.date | None = None


def filter_results(results: pd.DataFrame, selection: ResultFilter) -> pd.DataFrame:
    """Return the rows of `results` that `selection` keeps; days are UTC and inclusive."""
    keep = pd.Series(True, index=results.index)
    for column, values in (
        ("task", selection.tasks), ("tier", selection.tiers), ("device", selection.devices),
        ("fingerprint_id", selection.fingerprints), ("implementation", selection.implementations),
    ):
        if values:
            keep &= results[column].isin(values)
    days = results["started_at"].dt.date
    if selection.first_day is not None:
        keep &= days >= selection.first_day
    if selection.last_day is not None:
        keep &= days <= selection.last_day
    return results[keep]


def latest_per_trial(results: pd.DataFrame) -> pd.DataFrame:
    """Keep the newest result of each trial, as the leaderboard does (`scoring.latest_per_trial`)."""
    return results.sort_values("id").drop_duplicates(TRIAL_KEY, keep="last")


def leaderboard_frames(results: pd.DataFrame, suites: Mapping[str, Suite]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score `results` and return (rows, suite_scores) as DataFrames.

    rows: one per (suite, tier, device, task, instance, implementation) with the summary metrics
    as columns; suite_scores: one per (suite, score group, tier, device, implementation) with its rank.
    """
    records = results.to_dict("records")
    board = build_leaderboard(records, suites)
    rows = pd.DataFrame([row.as_dict() for row in board.rows])
    scores = pd.DataFrame([score.as_dict() for score in board.suite_scores])
    if rows.empty:
        rows = pd.DataFrame(columns=["suite", "task", "instance", "implementation", "tier", "device", "status", "score",
                                     "ratio", "trials", "failed", "reason", "bound"])
    if scores.empty:
        scores = pd.DataFrame(columns=["suite", "group", "tier", "device", "implementation", "score", "geometric_mean_ratio",
                                       "solved", "problems", "failed_cells", "rank"])
    return rows, scores


def suite_overview(results: pd.DataFrame, scores: pd.DataFrame, suites: Mapping[str, Suite]) -> pd.DataFrame:
    """Return one row per (suite, score group, tier, device): leader, its score, counts and the latest result time."""
    records = []
    for (suite, score_group, tier, device), group in scores.groupby(["suite", "group", "tier", "device"], sort=True):
        leader = group.sort_values("rank").iloc[0]
        subset = results[(results["suite"] == suite) & (results["tier"] == tier) & (results["device"] == device)]
        if suite in suites:
            subset = subset[subset["task"].map(lambda name: _task_group(suites[suite], name)) == score_group]
        records.append({
            "suite": suite,
            "group": score_group,
            "summary": suites[suite].summary if suite in suites else "",
            "tier": tier,
            "device": device,
            "leader": leader["implementation"],
            "leader score": leader["score"],
            "leader geometric-mean ratio": leader["geometric_mean_ratio"],
            "implementations": int(group["implementation"].nunique()),
            "tasks": int(subset["task"].nunique()),
            "current results": len(subset),
            "failed current results": int((~subset["status"].isin(["ok", "skipped"])).sum()),
            "latest result": subset["finished_at"].max(),
            "latest run": subset.loc[subset["id"].idxmax(), "run_id"] if len(subset) else "",
        })
    return pd.DataFrame(records)


def suite_table(rows: pd.DataFrame, scores: pd.DataFrame, suite: Suite, tier: str, device: str, group: str = "") -> pd.DataFrame:
    """Return one row per implementation of one score group: rank, suite score and, per task, its
    mean instance score and the median over instances of the task's score metric.
    """
    board = scores[(scores["suite"] == suite.name) & (scores["tier"] == tier) & (scores["device"] == device)]
    board = board[board["group"] == group].sort_values("rank")
    table = board[["rank", "implementation", "score", "geometric_mean_ratio", "solved", "problems", "failed_cells"]].copy()
    table = table.rename(columns={"geometric_mean_ratio": "geometric-mean ratio", "failed_cells": "failed cells"})
    selected = rows[(rows["suite"] == suite.name) & (rows["tier"] == tier) & (rows["device"] == device)]
    selected = selected[selected["task"].map(lambda name: _task_group(suite, name)) == group]
    for task_name in sorted(selected["task"].unique()):
        task_rows = selected[selected["task"] == task_name]
        per_implementation = task_rows.groupby("implementation")["score"].mean()
        table[f"{task_name} score"] = table["implementation"].map(per_implementation)
        metric = _task_score_metric(suite, task_name)
        if metric and metric in task_rows:
            values = pd.to_numeric(task_rows[metric], errors="coerce")
            table[f"{task_name} {metric}"] = table["implementation"].map(values.groupby(task_rows["implementation"]).median())
    return table.reset_index(drop=True)


def _task_group(suite: Suite, task_name: str) -> str:
    try:
        return suite.task(task_name).score_group
    except KeyError:
        return ""


def _task_score_metric(suite: Suite, task_name: str) -> str:
    try:
        return suite.task(task_name).score_metric
    except KeyError:
        return ""


def task_metric_columns(suite: Suite, task_name: str, rows: pd.DataFrame) -> list[str]:
    """Return the metric columns to show for one task: its declared leaderboard metrics that have
    values, else its score metric, else every summary column present."""
    try:
        task = suite.task(task_name)
    except KeyError:
        return []
    wanted = list(task.leaderboard_metrics) or ([task.score_metric] if task.score_metric else [])
    present = [name for name in wanted if name in rows and rows[name].notna().any()]
    if task.score_metric and task.score_metric in rows and task.score_metric not in present:
        present.insert(0, task.score_metric)
    return present


def metric_help(suite: Suite, task_name: str, metric_name: str) -> str:
    """Return "help (unit)" for a task's metric, or "" when the task does not declare it."""
    try:
        metric = suite.task(task_name).metric(metric_name)
    except KeyError:
        return ""
    unit = f" ({metric.unit})" if metric.unit else ""
    return f"{metric.help}{unit}"


# ---------------------------------------------------------------------------------------------
# Curves with confidence bands
# ---------------------------------------------------------------------------------------------

#: Suffixes that mark a stored curve as the lower or upper end of another curve's interval.
BAND_SUFFIXES = {"_low": "low", "_high": "high"}


def split_band_curves(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Group curve names into plotted series and the stored interval ends that belong to them.

    `error_mean`, `error_low` and `error_high` become {"error_mean": {"low": "error_low", "high":
    "error_high"}}; a bracketed suffix such as `[d=64]` is kept on every member. A name ending in
    `_low` or `_high` without a matching centre stays a series of its own.
    """
    names = sorted(set(names))
    series: dict[str, dict[str, str]] = {}
    ends: dict[tuple[str, str], dict[str, str]] = {}
    for name in names:
        stem, bracket = _split_bracket(name)
        for suffix, end in BAND_SUFFIXES.items():
            if stem.endswith(suffix):
                ends.setdefault((stem[: -len(suffix)], bracket), {})[end] = name
                break
        else:
            series[name] = {}
    used = set()
    for name in list(series):
        stem, bracket = _split_bracket(name)
        for base in (stem, stem.rsplit("_", 1)[0] if "_" in stem else stem):
            if (base, bracket) in ends and (base, bracket) not in used:
                series[name] = ends[(base, bracket)]
                used.add((base, bracket))
                break
    for key, members in ends.items():
        if key not in used:
            for name in members.values():
                series[name] = {}
    return dict(sorted(series.items()))


def _split_bracket(name: str) -> tuple[str, str]:
    if name.endswith("]") and "[" in name:
        index = name.index("[")
        return name[:index], name[index:]
    return name, ""


def curve_bands(
    curves: pd.DataFrame, results: pd.DataFrame, name: str, ends: Mapping[str, str] | None = None,
    confidence: float = 0.95, grid_points: int = 60, log_y: bool = False,
) -> pd.DataFrame:
    """Return one curve per implementation with a band: columns implementation, x, y, low, high, trials.

    With stored interval ends (`ends` = {"low": name, "high": name}) the band is their median over
    trials. Otherwise y is the mean over trials with its Student-t interval at `confidence`; when
    the trials were sampled at different x, each trial is interpolated onto a common grid
    (log-spaced when every x is positive), and a grid point only counts trials whose x range
    covers it. With `log_y` the mean and interval are taken over log10(y) (a geometric mean),
    so the band stays positive on a log axis.
    """
    columns = ["implementation", "x", "y", "low", "high", "trials"]
    points = curves[curves["name"] == name].merge(results[["id", "implementation"]], left_on="result_id", right_on="id")
    points = points.dropna(subset=["x", "y"])
    if points.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    for implementation, group in points.groupby("implementation", sort=True):
        if ends:
            frame = _stored_band(curves, group, ends)
        else:
            frame = _trial_band(group, confidence, grid_points, log_y)
        frame.insert(0, "implementation", implementation)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[columns]


def _stored_band(curves: pd.DataFrame, group: pd.DataFrame, ends: Mapping[str, str]) -> pd.DataFrame:
    ids = group["result_id"].unique()
    frame = group.groupby("x", sort=True)["y"].agg(["median", "size"]).rename(columns={"median": "y", "size": "trials"})
    for end in ("low", "high"):
        name = ends.get(end)
        subset = curves[(curves["name"] == name) & curves["result_id"].isin(ids)] if name else curves.iloc[0:0]
        frame[end] = subset.groupby("x")["y"].median().reindex(frame.index) if len(subset) else frame["y"]
    return frame.reset_index()[["x", "y", "low", "high", "trials"]]


def _trial_band(group: pd.DataFrame, confidence: float, grid_points: int, log_y: bool) -> pd.DataFrame:
    per_trial = [trial.sort_values("x") for _, trial in group.groupby("result_id")]
    shared_x = all(np.array_equal(trial["x"].to_numpy(), per_trial[0]["x"].to_numpy()) for trial in per_trial)
    if shared_x:
        grid = per_trial[0]["x"].to_numpy(dtype=float)
        matrix = np.vstack([trial["y"].to_numpy(dtype=float) for trial in per_trial])
    else:
        grid = _common_grid(group["x"].to_numpy(dtype=float), grid_points)
        matrix = np.vstack([_interpolate(trial["x"].to_numpy(dtype=float), trial["y"].to_numpy(dtype=float), grid) for trial in per_trial])
    if log_y:
        with np.errstate(divide="ignore", invalid="ignore"):
            matrix = np.where(matrix > 0, np.log10(matrix), np.nan)
    records = []
    for index, x in enumerate(grid):
        column = matrix[:, index]
        mean, low, high = stats.mean_confidence_interval(column, confidence)
        if math.isnan(mean):
            continue
        if log_y:
            mean, low, high = 10.0 ** mean, 10.0 ** low, 10.0 ** high
        records.append({"x": float(x), "y": mean, "low": low, "high": high, "trials": int(np.isfinite(column).sum())})
    return pd.DataFrame(records, columns=["x", "y", "low", "high", "trials"])


def _common_grid(x: np.ndarray, points: int) -> np.ndarray:
    low, high = float(np.min(x)), float(np.max(x))
    if low > 0 and high / low > 20:
        return np.geomspace(low, high, points)
    return np.linspace(low, high, points)


def _interpolate(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    x, unique = np.unique(x, return_index=True)
    values = np.interp(grid, x, y[unique])
    values[(grid < x[0]) | (grid > x[-1])] = np.nan
    return values


def log_axis(values: Iterable[float]) -> bool:
    """Return whether positive data spanning more than two decades should get a log axis."""
    array = np.asarray([value for value in values if value is not None], dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0 or np.any(array <= 0):
        return False
    return float(array.max() / array.min()) > 100.0


# ---------------------------------------------------------------------------------------------
# Sweeps over instances, with the bound
# ---------------------------------------------------------------------------------------------


def varying_parameters(params: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Return (numeric, other) names of the parameters that take more than one value."""
    params = list(params)
    names = sorted({name for values in params for name in values})
    numeric, other = [], []
    for name in names:
        values = [values.get(name) for values in params]
        if len({repr(value) for value in values}) < 2:
            continue
        if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
            numeric.append(name)
        else:
            other.append(name)
    return numeric, other


def sweep_frame(results: pd.DataFrame, task: Task, metric: str, x_parameter: str, confidence: float = 0.95) -> pd.DataFrame:
    """Return `metric` against one parameter across a task's instances, with the bound.

    One row per (implementation, instance): x (the parameter's value), group (the other varying
    parameters, as a label), y, low, high (mean and Student-t interval over ok trials), trials and
    bound (`task.bound_value(params)`, NaN when the task declares none or it fails).
    """
    columns = ["implementation", "instance", "group", "x", "y", "low", "high", "trials", "bound"]
    ok = results[(results["task"] == task.name) & (results["status"] == "ok")]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    _, other = varying_parameters(ok.drop_duplicates("instance")["params"])
    numeric, _ = varying_parameters(ok.drop_duplicates("instance")["params"])
    others = [name for name in numeric + other if name != x_parameter]
    records = []
    for (implementation, instance), group in ok.groupby(["implementation", "instance"], sort=True):
        params = group["params"].iloc[0]
        if x_parameter not in params:
            continue
        values = [_number(metrics.get(metric)) for metrics in group["metrics"]]
        mean, low, high = stats.mean_confidence_interval(values, confidence)
        records.append({
            "implementation": implementation,
            "instance": instance,
            "group": ", ".join(f"{name}={params.get(name)}" for name in others),
            "x": float(params[x_parameter]),
            "y": mean, "low": low, "high": high,
            "trials": int(np.isfinite(np.asarray(values, dtype=float)).sum()),
            "bound": safe_bound_value(task, params),
        })
    frame = pd.DataFrame(records, columns=columns)
    return frame.sort_values(["group", "implementation", "x"]).reset_index(drop=True)


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


def safe_bound_value(task: Task, params: Mapping[str, Any]) -> float:
    """Return `task.bound_value(params)` as a float, NaN when the task declares none or it fails."""
    try:
        value = task.bound_value(params)
    except Exception:  # noqa: BLE001 - a suite's bound formula failing on one instance hides only that point
        logger.exception("bound_value of task %s failed on %s", task.name, params)
        return math.nan
    return math.nan if value is None else float(value)


def bound_comparable(sweep: pd.DataFrame) -> bool:
    """Return whether the bound has the scale of the metric (median ratio within 100x).

    The bound is drawn on the metric's axis only then; a bound in other units (calls against an
    accuracy, say) would only flatten the chart.
    """
    both = sweep[["y", "bound"]].astype(float)
    both = both[np.isfinite(both["y"]) & np.isfinite(both["bound"]) & (both["y"] > 0) & (both["bound"] > 0)]
    if both.empty:
        return False
    return abs(float(np.median(np.log10(both["y"] / both["bound"])))) < 2.0


def regime_changes(x: Sequence[float], bound: Sequence[float], tolerance: float = 0.25) -> list[float]:
    """Return the x values where the bound's log-log slope changes by more than `tolerance`.

    A piecewise power law such as N^2 d^2 / M for M >= d^2 and N^2 d / sqrt(M) below changes slope
    from -1/2 to -1 at M = d^2; the returned x is the sample point where the change happens.
    """
    x = np.asarray(x, dtype=float)
    bound = np.asarray(bound, dtype=float)
    keep = np.isfinite(x) & np.isfinite(bound) & (x > 0) & (bound > 0)
    x, bound = x[keep], bound[keep]
    order = np.argsort(x)
    x, bound = x[order], bound[order]
    x, unique = np.unique(x, return_index=True)
    bound = bound[unique]
    if x.size < 3:
        return []
    slopes = np.diff(np.log(bound)) / np.diff(np.log(x))
    return [float(x[index + 1]) for index in range(slopes.size - 1) if abs(slopes[index + 1] - slopes[index]) > tolerance]


# ---------------------------------------------------------------------------------------------
# One implementation over commits
# ---------------------------------------------------------------------------------------------


def commit_history(results: pd.DataFrame, suite: Suite, implementation: str) -> pd.DataFrame:
    """Return one row per (task, tier, device, commit) for one implementation, oldest commit first.

    y is the median over ok results of the task's score metric at that commit (instances pooled,
    so compare a task's values only with the same task); `first_seen` orders the commits.
    """
    columns = ["task", "tier", "device", "git_commit", "first_seen", "metric", "value", "results", "failed"]
    rows = results[(results["suite"] == suite.name) & (results["implementation"] == implementation)]
    records = []
    for (task_name, tier, device, commit), group in rows.groupby(["task", "tier", "device", "git_commit"], sort=False):
        metric = _task_score_metric(suite, task_name)
        ok = group[group["status"] == "ok"]
        values = [_number(metrics.get(metric)) for metrics in ok["metrics"]] if metric else []
        finite = [value for value in values if math.isfinite(value)]
        records.append({
            "task": task_name, "tier": tier, "device": device, "git_commit": commit or "(no commit)",
            "first_seen": group["started_at"].min(), "metric": metric,
            "value": float(np.median(finite)) if finite else math.nan,
            "results": len(group), "failed": int((~group["status"].isin(["ok", "skipped"])).sum()),
        })
    frame = pd.DataFrame(records, columns=columns)
    return frame.sort_values(["task", "tier", "device", "first_seen"]).reset_index(drop=True)


def history_sparklines(history: pd.DataFrame) -> pd.DataFrame:
    """Return one row per (task, tier, device) with the score metric's values over commits as a list."""
    records = []
    for (task_name, tier, device), group in history.groupby(["task", "tier", "device"], sort=True):
        values = group["value"].tolist()
        finite = [value for value in values if math.isfinite(value)]
        records.append({
            "task": task_name, "tier": tier, "device": device, "metric": group["metric"].iloc[0],
            "commits": len(group), "history": [value if math.isfinite(value) else None for value in values],
            "latest": finite[-1] if finite else None,
            "latest commit": group["git_commit"].iloc[-1][:12],
        })
    return pd.DataFrame(records, columns=["task", "tier", "device", "metric", "commits", "history", "latest", "latest commit"])


# ---------------------------------------------------------------------------------------------
# Comparing two sides
# ---------------------------------------------------------------------------------------------


def compare_sides(
    first: pd.DataFrame, second: pd.DataFrame, suites: Mapping[str, Suite], key: str,
    alpha: float = COMPARE_ALPHA, ratio_threshold: float = COMPARE_RATIO_THRESHOLD,
) -> pd.DataFrame:
    """Compare two sets of results metric by metric.

    `key` is the column that distinguishes the sides inside a cell ("implementation" when comparing
    two implementations, "run_id" when comparing two runs); rows are matched on suite, task,
    instance, tier, device and, for runs, implementation. Counts and values (metric kinds "count"
    and "value") compare exactly: any difference of the medians over trials is a change. Time and
    memory metrics are tested with Mann-Whitney U over the trials, only when both sides were
    measured on one fingerprint; the p-values are adjusted with Benjamini-Hochberg across every
    tested row, and a row is flagged only when the adjusted p < `alpha` and the ratio of medians
    (second / first) is beyond `ratio_threshold` either way.
    """
    match = ["suite", "task", "instance", "tier", "device"] + (["implementation"] if key == "run_id" else [])
    records = []
    first_ok = first[first["status"] == "ok"]
    second_ok = second[second["status"] == "ok"]
    second_groups = {name: group for name, group in second_ok.groupby(match, sort=False)}
    for cell, group_a in first_ok.groupby(match, sort=True):
        group_b = second_groups.get(cell)
        if group_b is None:
            continue
        suite = suites.get(cell[0])
        if suite is None:
            continue
        try:
            task = suite.task(cell[1])
        except KeyError:
            continue
        same_machine = set(group_a["fingerprint_id"]) == set(group_b["fingerprint_id"]) and group_a["fingerprint_id"].nunique() == 1
        for metric in task.metrics:
            values_a = [_number(metrics.get(metric.name)) for metrics in group_a["metrics"]]
            values_b = [_number(metrics.get(metric.name)) for metrics in group_b["metrics"]]
            finite_a = [value for value in values_a if math.isfinite(value)]
            finite_b = [value for value in values_b if math.isfinite(value)]
            if not finite_a or not finite_b:
                continue
            median_a, median_b = float(np.median(finite_a)), float(np.median(finite_b))
            record = dict(zip(match, cell))
            record.update(
                metric=metric.name, kind=metric.kind, direction=metric.direction, unit=metric.unit,
                first=median_a, second=median_b, ratio=median_b / median_a if median_a else math.nan,
                trials_first=len(finite_a), trials_second=len(finite_b), p=math.nan, verdict="",
            )
            if metric.kind in EXACT_KINDS:
                record["verdict"] = "equal" if median_a == median_b else _direction_word(metric.direction, median_a, median_b)
                record["rule"] = "exact"
            elif metric.kind in ("time", "memory") and not same_machine:
                record["verdict"] = "not compared"
                record["rule"] = "different fingerprints"
            else:
                record["p"] = stats.mann_whitney_p(finite_a, finite_b)
                record["rule"] = "Mann-Whitney U"
            records.append(record)
    frame = pd.DataFrame(records)
    if frame.empty:
        return pd.DataFrame(columns=match + ["metric", "kind", "first", "second", "ratio", "p", "p_adjusted", "verdict", "rule"])
    tested = frame["rule"] == "Mann-Whitney U"
    frame["p_adjusted"] = math.nan
    frame.loc[tested, "p_adjusted"] = stats.benjamini_hochberg(frame.loc[tested, "p"].to_numpy())
    for index in frame.index[tested]:
        ratio = frame.at[index, "ratio"]
        significant = frame.at[index, "p_adjusted"] < alpha
        large = math.isfinite(ratio) and ratio > 0 and (ratio > ratio_threshold or ratio < 1.0 / ratio_threshold)
        if significant and large:
            frame.at[index, "verdict"] = _direction_word(frame.at[index, "direction"], frame.at[index, "first"], frame.at[index, "second"])
        else:
            frame.at[index, "verdict"] = "no significant change"
    return frame


def _direction_word(direction: str, first: float, second: float) -> str:
    if direction == "none" or first == second:
        return "changed" if first != second else "equal"
    better = second < first if direction == "min" else second > first
    return "better" if better else "worse"
