"""Implementation: metadata, source hashes, results across tasks and history over commits."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import leaderboard_charts as charts
import leaderboard_data as data

st.title("Implementation")
state = data.require_store()
if state is not None:
    key = data.cache_key(state)
    suites = data.suites()
    suite_name = data.pick_suite(key)
    if suite_name is None:
        st.stop()
    suite = suites[suite_name]
    implementation = data.pick("implementation", data.facets(*key, suite_name)["implementations"], key="implementation",
                               query_parameter="implementation")
    mine = data.results(*key, suite_name, implementations=(implementation,), latest_only=False)
    records = data.implementation_records(*key, suite_name, implementation)

    st.header(f"{implementation} ({suite_name})")
    if len(records):
        latest = records.iloc[-1]
        metadata = latest["metadata"] if isinstance(latest["metadata"], dict) else {}
        facts = pd.DataFrame([
            {"field": "version", "value": str(metadata.get("version", latest["version"]))},
            {"field": "authors", "value": ", ".join(metadata.get("authors", [])) or "-"},
            {"field": "reference", "value": metadata.get("reference", "") or "-"},
            {"field": "devices", "value": ", ".join(metadata.get("devices", [])) or "-"},
            {"field": "restricted to tasks", "value": ", ".join(metadata.get("tasks", [])) or "all"},
            {"field": "origin", "value": latest["origin"]},
            {"field": "path", "value": latest["path"]},
            {"field": "source hash (latest run)", "value": latest["source_hash"]},
        ])
        st.dataframe(facts, hide_index=True, key="implementation_facts")
    else:
        st.info("No run recorded this implementation's metadata; the figures below come from its results.")

    hashes = (
        mine.groupby("source_hash")
        .agg(first_result=("started_at", "min"), last_result=("started_at", "max"), results=("id", "size"),
             commits=("git_commit", lambda commits: ", ".join(sorted({data.short_commit(c) for c in commits}))))
        .reset_index().sort_values("first_result")
    )
    st.subheader("Source hashes")
    st.caption("A new hash means the implementation's source file changed between results.")
    st.dataframe(hashes, hide_index=True, key="implementation_hashes")

    st.subheader("Results across tasks")
    rows, _ = data.leaderboard(*key, suite_name)
    own_rows = rows[rows["implementation"] == implementation]
    columns = ["task", "instance", "tier", "device", "status", "score", "ratio", "trials", "failed", "reason"]
    st.dataframe(
        own_rows[columns], hide_index=True, key="implementation_rows",
        column_config={"score": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f",
                                                                help="performance-profile score on this instance"),
                       "ratio": st.column_config.NumberColumn("geometric-mean ratio", format="%.3g")},
    )

    st.subheader("History over commits")
    history = data.views.commit_history(mine, suite, implementation)
    sparklines = data.views.history_sparklines(history)
    st.dataframe(
        sparklines, hide_index=True, key="implementation_history",
        column_config={
            "history": st.column_config.LineChartColumn("score metric over commits", help="median per commit, oldest first"),
            "latest": st.column_config.NumberColumn(format="%.4g"),
        },
    )
    if len(history):
        st.plotly_chart(charts.history_figure(history, f"{implementation}: score metric per commit"), key="history_chart")
