"""Suite leaderboard: one row per implementation with its rank and per-task figures, with filters."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import leaderboard_data as data

SCORE_HELP = "area under the performance profile on [1, 4]; 1 = best on every problem"

st.title("Suite leaderboard")
state = data.require_store()
if state is not None:
    key = data.cache_key(state)
    suites = data.suites()
    suite_name = data.pick_suite(key)
    if suite_name is None:
        st.stop()
    suite = suites[suite_name]
    facets = data.facets(*key, suite_name)
    st.caption(suite.summary)

    present = facets["tier_device_tasks"]
    tier = data.pick("tier", sorted({tier for tier, _, _ in present}), key="tier", query_parameter="tier")
    device = data.pick("device", sorted({device for t, device, _ in present if t == tier}), key="device", query_parameter="device")
    task_names = sorted({task for t, d, task in present if (t, d) == (tier, device)})
    tasks = st.sidebar.multiselect("tasks", task_names, default=task_names, key="suite_tasks",
                                   help="the suite score is recomputed over the selected tasks")
    chosen_fingerprints = st.sidebar.multiselect(
        "fingerprints", facets["fingerprints"], default=[], key="suite_fingerprints",
        help="machine fingerprints; empty keeps all. Timings compare only within one fingerprint.",
    )
    first_day, last_day = facets["first_day"], facets["last_day"]
    days = st.sidebar.date_input("result dates (UTC)", value=(first_day, last_day), min_value=first_day,
                                 max_value=last_day, key="suite_days")
    if isinstance(days, (tuple, list)) and len(days) == 2:
        day_range = (days[0], days[1])
    elif isinstance(days, (tuple, list)) and len(days) == 1:
        day_range = (days[0], days[0])
    elif isinstance(days, dt.date):
        day_range = (days, days)
    else:
        day_range = (first_day, last_day)
    if day_range == (first_day, last_day):
        # The full range: no date condition, so results without a start time stay in.
        day_range = (None, None)

    if not tasks:
        st.info("Select at least one task in the sidebar.")
        st.stop()
    rows, scores = data.leaderboard(
        *key, suite_name, tasks=tuple(tasks), tiers=(tier,), devices=(device,),
        fingerprints=tuple(chosen_fingerprints), first_day=day_range[0], last_day=day_range[1],
    )
    if scores.empty:
        st.info("No results match the filters.")
        st.stop()

    for score_group in sorted(scores["group"].unique()):
        table = data.views.suite_table(rows, scores, suite, tier, device, score_group)
        table.insert(2, "page", [f"/implementation?suite={suite_name}&implementation={name}" for name in table["implementation"]])
        config = {
            "rank": st.column_config.NumberColumn("rank", format="%d"),
            "page": st.column_config.LinkColumn("details", display_text="open"),
            "score": st.column_config.ProgressColumn("suite score", min_value=0.0, max_value=1.0, format="%.3f", help=SCORE_HELP),
            "geometric-mean ratio": st.column_config.NumberColumn(format="%.3g", help="geometric mean of the ratio to the best, over solved problems"),
            "solved": st.column_config.NumberColumn(help="problems with a finite cost"),
        }
        for column in table.columns:
            if column.endswith(" score") and column != "score":
                config[column] = st.column_config.ProgressColumn(column, min_value=0.0, max_value=1.0, format="%.3f",
                                                                 help=f"mean instance score on {column[:-6]}")
            elif column not in config and column not in ("implementation", "problems", "failed cells"):
                task_name, _, metric = column.partition(" ")
                config[column] = st.column_config.NumberColumn(column, format="%.4g", help=data.views.metric_help(suite, task_name, metric))
        group_scores = scores[scores["group"] == score_group]
        label = f" [{score_group}]" if score_group else ""
        st.subheader(f"{suite_name}{label} · {tier} · {device}")
        st.dataframe(table, hide_index=True, column_config=config, key=f"suite_table_{score_group}" if score_group else "suite_table")
        st.caption(f"{len(table)} implementations · {int(group_scores['problems'].max())} problems · "
                   f"{len(tasks)} of {len(task_names)} tasks")

    st.subheader("Per task instance")
    for task_name in sorted(rows["task"].unique()):
        task_rows = rows[rows["task"] == task_name]
        metrics = data.views.task_metric_columns(suite, task_name, task_rows)
        columns = ["instance", "implementation", "status", "score", "ratio", "trials", "failed", *metrics, "reason"]
        with st.expander(f"{task_name} — bound: {suite.task(task_name).bound or 'none declared'}", expanded=len(tasks) == 1):
            instance_config = {
                "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.3f", help=SCORE_HELP),
                "ratio": st.column_config.NumberColumn("geometric-mean ratio", format="%.3g"),
            }
            for metric in metrics:
                instance_config[metric] = st.column_config.NumberColumn(metric, format="%.4g", help=data.views.metric_help(suite, task_name, metric))
            st.dataframe(task_rows[[column for column in columns if column in task_rows]], hide_index=True,
                         column_config=instance_config, key=f"instances_{task_name}")
            st.page_link("app_pages/task.py", label=f"charts of {task_name}", icon=":material/show_chart:",
                         query_params={"suite": suite_name, "task": task_name, "tier": tier, "device": device})
