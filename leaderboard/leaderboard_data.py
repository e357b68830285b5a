"""Cached data access and shared widgets of the leaderboard app.

Every loader is an `st.cache_data` function keyed by the store URL, the latest run id and the
newest result id, so a new run (or a result added to a running one) refreshes the pages and
nothing else does. Loaders read through `theorybench.views`; none imports implementation code.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import pandas as pd
import streamlit as st

from theorybench import views
from theorybench.contracts import Suite
from theorybench.registry import discover_suites
from theorybench.store import STORE_ENVIRONMENT_VARIABLE, Store, default_store_url

logger = logging.getLogger(__name__)


def store_url() -> str:
    """Return the store URL from THEORYBENCH_STORE, else the default SQLite file."""
    return os.environ.get(STORE_ENVIRONMENT_VARIABLE) or default_store_url()


@st.cache_resource(show_spinner=False)
def suites() -> dict[str, Suite]:
    """Return every suite by name.

    Only the suite packages are imported: the registry's implementation discovery (bundled
    modules, entry points) is skipped, so the app runs no implementation code.
    """
    return discover_suites()


def require_store() -> views.StoreState | None:
    """Return the store's state when it has results; otherwise show how to produce them and return None."""
    url = store_url()
    state = views.store_state(url)
    if state.ready:
        return state
    if state.state == "invalid":
        st.error(f"The store cannot be read: {state.message}")
        st.markdown(f"Set `{STORE_ENVIRONMENT_VARIABLE}` to a TheoryBench store URL, or produce one:")
    else:
        st.info(f"No results in `{url}` yet. Produce the quick tier of every suite with:")
    st.code(views.FIRST_COMMAND, language="bash")
    st.caption(
        f"Then start the app in the same folder with `theorybench leaderboard --serve`, or point "
        f"`{STORE_ENVIRONMENT_VARIABLE}` at the store."
    )
    return None


def _open(url: str) -> Store:
    return Store(url, create=False)


@st.cache_data(show_spinner=False, max_entries=16)
def facets(url: str, latest_run_id: str, newest_result_id: int, suite: str | None = None) -> dict[str, Any]:
    """Return the values the filters offer (`views.result_facets`)."""
    store = _open(url)
    try:
        return views.result_facets(store, suite)
    finally:
        store.dispose()


@st.cache_data(show_spinner=False, max_entries=32)
def results(
    url: str, latest_run_id: str, newest_result_id: int, suite: str | None = None, *,
    tasks: tuple[str, ...] = (), tiers: tuple[str, ...] = (), devices: tuple[str, ...] = (),
    fingerprints: tuple[str, ...] = (), implementations: tuple[str, ...] = (), run_ids: tuple[str, ...] = (),
    first_day: dt.date | None = None, last_day: dt.date | None = None, latest_only: bool = True,
) -> pd.DataFrame:
    """Return the filtered results; by default only the newest result of each trial."""
    store = _open(url)
    try:
        return views.results_frame(
            store, suites=[suite] if suite else None, tasks=tasks, tiers=tiers, devices=devices,
            fingerprints=fingerprints, implementations=implementations, run_ids=run_ids,
            first_day=first_day, last_day=last_day, latest_only=latest_only,
        )
    finally:
        store.dispose()


@st.cache_data(show_spinner=False, max_entries=32)
def leaderboard(
    url: str, latest_run_id: str, newest_result_id: int, suite: str | None = None, *,
    tasks: tuple[str, ...] = (), tiers: tuple[str, ...] = (), devices: tuple[str, ...] = (),
    fingerprints: tuple[str, ...] = (), first_day: dt.date | None = None, last_day: dt.date | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (rows, suite_scores) over the newest result of each trial that the filters keep."""
    frame = results(url, latest_run_id, newest_result_id, suite, tasks=tasks, tiers=tiers, devices=devices,
                    fingerprints=fingerprints, first_day=first_day, last_day=last_day)
    return views.leaderboard_frames(frame, suites())


@st.cache_data(show_spinner=False, max_entries=32)
def curves(url: str, latest_run_id: str, newest_result_id: int, result_ids: tuple[int, ...]) -> pd.DataFrame:
    """Return the curve points of the given results."""
    store = _open(url)
    try:
        return views.curves_frame(store, result_ids)
    finally:
        store.dispose()


@st.cache_data(show_spinner=False, max_entries=4)
def runs(url: str, latest_run_id: str, newest_result_id: int) -> pd.DataFrame:
    store = _open(url)
    try:
        return views.runs_frame(store)
    finally:
        store.dispose()


@st.cache_data(show_spinner=False, max_entries=16)
def implementation_records(url: str, latest_run_id: str, newest_result_id: int, suite: str, name: str) -> pd.DataFrame:
    store = _open(url)
    try:
        return views.implementation_records_frame(store, suite=suite, name=name)
    finally:
        store.dispose()


@st.cache_data(show_spinner=False, max_entries=4)
def submissions(url: str, latest_run_id: str, newest_result_id: int) -> pd.DataFrame:
    store = _open(url)
    try:
        return views.submissions_frame(store)
    finally:
        store.dispose()


def pick_suite(key: tuple[str, str, int]) -> str | None:
    """Show the suite selectbox over the suites with results that this installation defines.

    Shows a warning and returns None when there is none.
    """
    names = [name for name in facets(*key)["suites"] if name in suites()]
    if not names:
        st.warning("The store has results only for suites this installation does not define.")
        return None
    return pick("suite", names, key="suite", query_parameter="suite")


def cache_key(state: views.StoreState) -> tuple[str, str, int]:
    """Return the (url, latest run id, newest result id) triple every loader takes first."""
    return state.url, state.latest_run_id, state.newest_result_id


def pick(label: str, options: list[Any], key: str, query_parameter: str | None = None, sidebar: bool = True, **kwargs: Any) -> Any:
    """Show a selectbox whose default comes from the URL's query parameter or the last choice.

    The choice is written back to the query parameter, so a page's URL reproduces its view.
    """
    if not options:
        return None
    wanted = st.query_params.get(query_parameter) if query_parameter else None
    if wanted is None:
        wanted = st.session_state.get(f"last_{key}")
    index = options.index(wanted) if wanted in options else 0
    container = st.sidebar if sidebar else st
    choice = container.selectbox(label, options, index=index, key=key, **kwargs)
    st.session_state[f"last_{key}"] = choice
    if query_parameter:
        st.query_params[query_parameter] = str(choice)
    return choice


def short_commit(commit: str) -> str:
    return commit[:12] if commit else "(no commit)"
