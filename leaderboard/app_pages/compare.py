"""Compare: two implementations or two runs side by side, with the rules of `theorybench compare`.

Counts and values compare exactly. Timings and memory are flagged only when a Mann-Whitney U test,
Benjamini-Hochberg adjusted across every tested row, gives p < 0.002 and the ratio of medians is
beyond 1.1 either way, and only between results of one fingerprint.
"""

from __future__ import annotations

import streamlit as st

import leaderboard_data as data

st.title("Compare")
state = data.require_store()
if state is not None:
    key = data.cache_key(state)
    suites = data.suites()
    views = data.views
    mode = st.radio("compare", ["two implementations", "two runs"], horizontal=True, key="compare_mode")

    if mode == "two implementations":
        suite_name = data.pick_suite(key)
        if suite_name is None:
            st.stop()
        results = data.results(*key, suite_name)
        implementations = sorted(results["implementation"].unique())
        if len(implementations) < 2:
            st.info(f"Suite {suite_name} has results of one implementation only.")
            st.stop()
        left, right = st.columns(2)
        first_name = left.selectbox("first (baseline)", implementations, index=0, key="compare_first")
        second_name = right.selectbox("second", implementations, index=1, key="compare_second")
        first = results[results["implementation"] == first_name].assign(implementation="")
        second = results[results["implementation"] == second_name].assign(implementation="")
        comparison = views.compare_sides(first, second, suites, key="implementation")
        labels = (first_name, second_name)
    else:
        runs = data.runs(*key)
        run_ids = [run_id for run_id, count in zip(runs["id"], runs["results"]) if count > 0]
        if len(run_ids) < 2:
            st.info("The store holds results of one run only; compare needs two.")
            st.stop()
        describe = {row.id: f"{row.id} · {row.tier} · {data.short_commit(row.git_commit)} · {row.results} results"
                    for row in runs.itertuples()}
        left, right = st.columns(2)
        first_run = left.selectbox("first run (baseline)", run_ids, index=1, format_func=describe.get, key="compare_first_run")
        second_run = right.selectbox("second run", run_ids, index=0, format_func=describe.get, key="compare_second_run")
        first = data.results(*key, run_ids=(first_run,))
        second = data.results(*key, run_ids=(second_run,))
        comparison = views.compare_sides(first, second, suites, key="run_id")
        labels = (first_run, second_run)

    if comparison.empty:
        st.info("The two sides share no task instance with ok results.")
        st.stop()
    counts = comparison["verdict"].value_counts()
    columns = st.columns(5)
    for column, verdict in zip(columns, ["better", "worse", "changed", "no significant change", "not compared"]):
        column.metric(verdict, int(counts.get(verdict, 0)))
    st.caption(f"first = {labels[0]}, second = {labels[1]}; ratio = second / first (medians over trials). "
               f"Flagged: adjusted p < {views.COMPARE_ALPHA} and ratio beyond {views.COMPARE_RATIO_THRESHOLD}; counts and values exactly.")
    only_changes = st.checkbox("only rows that changed", value=False, key="compare_only_changes")
    shown = comparison[comparison["verdict"].isin(["better", "worse", "changed"])] if only_changes else comparison
    st.dataframe(
        shown, hide_index=True, key="compare_table",
        column_config={
            "first": st.column_config.NumberColumn(f"first ({labels[0]})", format="%.4g"),
            "second": st.column_config.NumberColumn(f"second ({labels[1]})", format="%.4g"),
            "ratio": st.column_config.NumberColumn(format="%.3f"),
            "p": st.column_config.NumberColumn("p (Mann-Whitney U)", format="%.2e"),
            "p_adjusted": st.column_config.NumberColumn("p (Benjamini-Hochberg)", format="%.2e"),
        },
    )
