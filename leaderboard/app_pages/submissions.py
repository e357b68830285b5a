"""Submissions: the status of every `theorybench submit`, with the reason of each failure."""

from __future__ import annotations

import streamlit as st

import leaderboard_data as data

STATUS_ORDER = ["pending", "running", "finished", "failed"]

st.title("Submissions")
state = data.require_store()
if state is not None:
    frame = data.submissions(*data.cache_key(state))
    if frame.empty:
        st.info("No submissions yet. Submit an implementation with `theorybench submit PATH`.")
        st.stop()
    counts = frame["status"].value_counts()
    for column, status in zip(st.columns(len(STATUS_ORDER)), STATUS_ORDER):
        column.metric(status, int(counts.get(status, 0)))
    statuses = sorted(frame["status"].unique(), key=lambda status: (STATUS_ORDER + [status]).index(status))
    chosen = st.multiselect("status", statuses, default=statuses, key="submission_status")
    shown = frame[frame["status"].isin(chosen)].copy()
    shown["run"] = ["" if not run_id else f"/suite?suite={suite}" for run_id, suite in zip(shown["run_id"], shown["suite"])]
    st.dataframe(
        shown, hide_index=True, key="submissions_table",
        column_config={
            "reason": st.column_config.TextColumn("reason", width="large"),
            "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
            "updated_at": st.column_config.DatetimeColumn("updated", format="YYYY-MM-DD HH:mm"),
            "run": st.column_config.LinkColumn("leaderboard", display_text="open"),
        },
    )
