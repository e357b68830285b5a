"""Overview: every suite's score table, its latest result and its size."""

from __future__ import annotations

import streamlit as st

import leaderboard_data as data

st.title("TheoryBench leaderboard")
state = data.require_store()
if state is not None:
    key = data.cache_key(state)
    results = data.results(*key)
    rows, scores = data.leaderboard(*key)
    suites = data.suites()
    st.caption(f"store `{state.url}` · {len(results)} current results (the newest of each trial) · latest run `{state.latest_run_id}`")

    overview = data.views.suite_overview(results, scores, suites)
    st.subheader("Suites")
    overview["link"] = [f"/suite?suite={suite}&tier={tier}&device={device}" for suite, tier, device in
                        zip(overview["suite"], overview["tier"], overview["device"])]
    st.dataframe(
        overview,
        hide_index=True,
        column_config={
            "leader score": st.column_config.ProgressColumn("leader score", min_value=0.0, max_value=1.0, format="%.3f",
                                                            help="area under the performance profile on [1, 4], 1 = best everywhere"),
            "leader geometric-mean ratio": st.column_config.NumberColumn(format="%.3g", help="geometric mean of the ratios to the best, over solved problems"),
            "latest result": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "link": st.column_config.LinkColumn("leaderboard", display_text="open"),
        },
    )

    for (suite, score_group, tier, device), board in scores.groupby(["suite", "group", "tier", "device"], sort=True):
        label = f" [{score_group}]" if score_group else ""
        st.subheader(f"{suite}{label} · {tier} · {device}")
        if suite in suites:
            st.caption(suites[suite].summary)
        st.dataframe(
            board.sort_values("rank")[["rank", "implementation", "score", "geometric_mean_ratio", "solved", "problems", "failed_cells"]],
            hide_index=True,
            column_config={
                "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.3f"),
                "geometric_mean_ratio": st.column_config.NumberColumn("geometric-mean ratio", format="%.3g"),
                "failed_cells": st.column_config.NumberColumn("failed cells"),
            },
            key=f"overview_{suite}_{score_group}_{tier}_{device}",
        )

    known = sorted(set(suites) - set(scores["suite"]))
    if known:
        st.info("Suites without results in this store: " + ", ".join(known)
                + ". Run one with `theorybench run --suite NAME --tier quick`.")
