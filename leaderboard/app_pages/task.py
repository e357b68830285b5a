"""Task detail: the stored curves of one instance and metrics across instances, with the bound."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

import leaderboard_charts as charts
import leaderboard_data as data
from theorybench.contracts import Task

st.title("Task detail")


def _numeric_metrics(task: Task, results: pd.DataFrame) -> list[str]:
    """Return the task's metrics that have a numeric value in some ok result, declared order first."""
    ok = results[results["status"] == "ok"]
    present: set[str] = set()
    for metrics in ok["metrics"]:
        present.update(name for name, value in metrics.items() if isinstance(value, (int, float)) and not isinstance(value, bool))
    declared = [metric.name for metric in task.metrics if metric.name in present]
    return declared + sorted(present - set(declared))


def _default_sweep_metric(task: Task, results: pd.DataFrame, metrics: list[str], x_parameter: str) -> str:
    """Prefer a leaderboard metric on the bound's scale, so the bound is drawn beside it."""
    candidates = [name for name in task.leaderboard_metrics if name in metrics]
    for name in candidates:
        if data.views.bound_comparable(data.views.sweep_frame(results, task, name, x_parameter)):
            return name
    if task.score_metric in metrics:
        return task.score_metric
    return candidates[0] if candidates else metrics[0]


def _marker_metric(task: Task) -> str:
    """Return the first count metric the task shows on its leaderboard (n* or calls to a target)."""
    for name in task.leaderboard_metrics:
        try:
            if task.metric(name).kind == "count":
                return name
        except KeyError:
            continue
    return ""


def show_curves(task: Task, results: pd.DataFrame, rows: pd.DataFrame, key: tuple) -> None:
    instances = sorted(results["instance"].unique())
    instance = data.pick("instance", instances, key="task_instance", query_parameter="instance", sidebar=False)
    chosen = results[results["instance"] == instance]
    implementations = sorted(chosen["implementation"].unique())
    shown = st.multiselect("implementations", implementations, default=implementations, key="task_implementations")
    chosen = chosen[chosen["implementation"].isin(shown)]
    params = chosen["params"].iloc[0] if len(chosen) else {}
    bound = data.views.safe_bound_value(task, params) if params else math.nan
    st.markdown(f"**bound:** {task.bound or 'none declared'}" + (f" · value at this instance: **{bound:.4g}**" if math.isfinite(bound) else ""))

    curves = data.curves(*key, tuple(int(value) for value in chosen["id"]))
    if curves.empty:
        st.info("The results of this instance stored no curves.")
        return
    marker_metric = _marker_metric(task)
    markers = None
    if marker_metric:
        instance_rows = rows[(rows["instance"] == instance) & rows["implementation"].isin(shown)]
        if marker_metric in instance_rows:
            markers = pd.DataFrame({
                "implementation": instance_rows["implementation"],
                "value": pd.to_numeric(instance_rows[marker_metric], errors="coerce").astype(float),
            })
    series = data.views.split_band_curves(curves["name"].unique())
    for index, (name, ends) in enumerate(series.items()):
        labels = curves.loc[curves["name"] == name, ["x_label", "y_label"]].iloc[0]
        log_y = data.views.log_axis(curves.loc[curves["name"] == name, "y"])
        bands = data.views.curve_bands(curves, chosen, name, ends=ends, log_y=log_y)
        if bands.empty:
            continue
        band_note = "band: stored interval" if ends else "band: 95% interval over trials"
        figure = charts.curve_figure(
            bands, f"{name} ({band_note})", labels["x_label"], labels["y_label"], bound=bound,
            markers=markers, marker_label=marker_metric,
        )
        st.plotly_chart(figure, key=f"curve_{index}")


def show_sweep(task: Task, results: pd.DataFrame) -> None:
    ok = results[results["status"] == "ok"]
    numeric, _ = data.views.varying_parameters(ok.drop_duplicates("instance")["params"])
    if not numeric:
        st.info("The instances of this task do not vary a numeric parameter.")
        return
    metrics = _numeric_metrics(task, results)
    if not metrics:
        st.info("No numeric metric to plot.")
        return
    by_count = sorted(numeric, key=lambda name: -ok["params"].map(lambda params: repr(params.get(name))).nunique())
    left, right = st.columns(2)
    x_parameter = left.selectbox("parameter (x)", by_count, key="sweep_x")
    default = _default_sweep_metric(task, results, metrics, x_parameter)
    metric = right.selectbox("metric (y)", metrics, index=metrics.index(default), key="sweep_metric")
    sweep = data.views.sweep_frame(results, task, metric, x_parameter)
    if sweep.empty:
        st.info("No ok result has this metric.")
        return
    comparable = data.views.bound_comparable(sweep)
    draw_bound = st.checkbox("draw the bound on this axis", value=comparable, key=f"sweep_bound_{metric}",
                             disabled=sweep["bound"].isna().all(),
                             help="on by default when the metric and the bound have the same scale")
    unit = ""
    try:
        unit = task.metric(metric).unit
    except KeyError:
        pass
    figure = charts.sweep_figure(sweep, f"{metric} against {x_parameter} (mean and 95% interval over trials)",
                                 x_parameter, f"{metric} ({unit})" if unit else metric, draw_bound)
    if draw_bound:
        st.caption(f"dashed: the bound, {task.bound}; dotted verticals: where the bound's log-log slope changes")
    st.plotly_chart(figure, key="sweep_chart")
    st.dataframe(sweep, hide_index=True, key="sweep_table",
                 column_config={column: st.column_config.NumberColumn(format="%.4g") for column in ("y", "low", "high", "bound")})


state = data.require_store()
if state is not None:
    key = data.cache_key(state)
    suites = data.suites()
    suite_name = data.pick_suite(key)
    if suite_name is None:
        st.stop()
    suite = suites[suite_name]
    present = data.facets(*key, suite_name)["tier_device_tasks"]
    declared = {task.name for task in suite.tasks()}
    task_name = data.pick("task", sorted({task for _, _, task in present if task in declared}), key="task", query_parameter="task")
    if task_name is None:
        st.info("No results of a known task in this suite.")
        st.stop()
    task = suite.task(task_name)
    tier = data.pick("tier", sorted({t for t, _, name in present if name == task_name}), key="tier", query_parameter="tier")
    device = data.pick("device", sorted({d for t, d, name in present if (t, name) == (tier, task_name)}),
                       key="device", query_parameter="device")
    scoped = data.results(*key, suite_name, tasks=(task_name,), tiers=(tier,), devices=(device,))
    rows, _ = data.leaderboard(*key, suite_name, tasks=(task_name,), tiers=(tier,), devices=(device,))

    st.header(f"{suite_name} / {task_name}")
    st.caption(task.summary)
    metric_table = pd.DataFrame([
        {"metric": metric.name, "unit": metric.unit, "direction": metric.direction, "kind": metric.kind, "help": metric.help}
        for metric in task.metrics
    ])
    with st.expander("metrics this task declares"):
        st.dataframe(metric_table, hide_index=True, key="task_metrics")

    curves_tab, sweep_tab, rows_tab = st.tabs(["curves of one instance", "across instances", "results"])
    with curves_tab:
        show_curves(task, scoped, rows, key)
    with sweep_tab:
        show_sweep(task, scoped)
    with rows_tab:
        columns = ["instance", "implementation", "status", "score", "ratio", "trials", "failed",
                   *data.views.task_metric_columns(suite, task_name, rows), "reason"]
        st.dataframe(rows[[column for column in columns if column in rows]], hide_index=True, key="task_rows",
                     column_config={"score": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")})
