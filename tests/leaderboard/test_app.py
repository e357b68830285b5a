"""Every page of the Streamlit app, run with AppTest against a store filled by real runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from theorybench import views
from theorybench.registry import Registry
from theorybench.store import STORE_ENVIRONMENT_VARIABLE, Store

APP = Path(__file__).resolve().parents[2] / "leaderboard" / "app.py"
SUITE = "optimization"
TASKS = ("least_squares", "logistic_l2")
IMPLEMENTATIONS = ("gd", "nesterov")
TIMEOUT_S = 120


@pytest.fixture(scope="module", autouse=True)
def _same_selection(filled_store):
    assert (filled_store.suite, filled_store.tasks, filled_store.implementations) == (SUITE, TASKS, IMPLEMENTATIONS)


def _app(monkeypatch: pytest.MonkeyPatch, url: str, page: str | None = None) -> AppTest:
    monkeypatch.setenv(STORE_ENVIRONMENT_VARIABLE, url)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    if page is not None:
        app.switch_page(f"app_pages/{page}.py")
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    return app


#: Columns that identify each table of the app.
TABLES = {
    "suites": ("suite", "leader"),
    "scores": ("rank", "implementation", "geometric_mean_ratio"),
    "suite_table": ("rank", "page", "score"),
    "sweep_table": ("group", "x", "bound"),
    "task_rows": ("instance", "implementation", "status", "score"),
    "implementation_facts": ("field", "value"),
    "implementation_rows": ("task", "instance", "score"),
    "implementation_history": ("history", "commits"),
    "compare_table": ("verdict", "rule"),
    "submissions_table": ("path", "status"),
}


def _frame(app: AppTest, table: str):
    columns = TABLES[table]
    for element in app.dataframe:
        frame = element.value
        if all(column in frame.columns for column in columns):
            return frame
    found = [list(element.value.columns)[:6] for element in app.dataframe]
    raise AssertionError(f"no {table} table (columns {columns}); tables: {found}")


def _charts(app: AppTest) -> list:
    return list(app.get("plotly_chart"))


def test_overview_lists_suite_scores(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url)
    overview = _frame(app, "suites")
    assert list(overview["suite"]) == [SUITE]
    assert int(overview["implementations"].iloc[0]) == len(IMPLEMENTATIONS)
    assert int(overview["tasks"].iloc[0]) == len(TASKS)
    scores = _frame(app, "scores")
    assert sorted(scores["implementation"]) == sorted(IMPLEMENTATIONS)
    assert sorted(scores["rank"]) == [1, 2]


def test_suite_table_one_row_per_implementation(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "suite")
    table = _frame(app, "suite_table")
    assert sorted(table["implementation"]) == sorted(IMPLEMENTATIONS)
    assert list(table["rank"]) == [1, 2]
    for task in TASKS:
        assert f"{task} score" in table.columns
    assert table["score"].between(0, 1).all()


def test_suite_task_filter_changes_table(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "suite")
    before = _frame(app, "suite_table")
    app.multiselect(key="suite_tasks").set_value([TASKS[0]]).run()
    assert not app.exception
    after = _frame(app, "suite_table")
    assert f"{TASKS[1]} score" in before.columns
    assert f"{TASKS[1]} score" not in after.columns
    assert after["problems"].iloc[0] < before["problems"].iloc[0]


def test_suite_date_filter_keeps_result_day(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "suite")
    day = app.date_input(key="suite_days").value[0]
    app.date_input(key="suite_days").set_value((day, day)).run()
    assert not app.exception
    assert len(_frame(app, "suite_table")) == len(IMPLEMENTATIONS)


def test_results_frame_date_bounds(filled_store):
    store = Store(filled_store.url)
    everything = views.results_frame(store)
    day = everything["started_at"].min().date()
    same_day = views.results_frame(store, first_day=day, last_day=day)
    later = views.results_frame(store, first_day=day + dt.timedelta(days=1))
    earlier = views.results_frame(store, last_day=day - dt.timedelta(days=1))
    store.dispose()
    assert len(same_day) == len(everything)
    assert later.empty
    assert earlier.empty


def test_results_frame_latest_only(filled_store):
    store = Store(filled_store.url)
    everything = views.results_frame(store)
    latest = views.results_frame(store, latest_only=True)
    store.dispose()
    assert len(latest) < len(everything), "the second run repeats gd on one task"
    assert latest.equals(views.latest_per_trial(everything).reset_index(drop=True))


def test_suite_fingerprint_filter_keeps_rows(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "suite")
    fingerprint = app.multiselect(key="suite_fingerprints").options[0]
    app.multiselect(key="suite_fingerprints").set_value([fingerprint]).run()
    assert not app.exception
    assert len(_frame(app, "suite_table")) == len(IMPLEMENTATIONS)


def test_task_page_draws_curves_and_sweep(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "task")
    charts = _charts(app)
    assert len(charts) >= 3, "expected measure_vs_calls, measure_vs_time and the sweep"
    sweep = _frame(app, "sweep_table")
    assert set(sweep["implementation"]) == set(IMPLEMENTATIONS)
    assert sweep["bound"].notna().any(), "the synthetic instances declare a bound"
    rows = _frame(app, "task_rows")
    assert set(rows["implementation"]) == set(IMPLEMENTATIONS)


def test_task_page_implementation_filter(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "task")
    before = len(_charts(app))
    app.multiselect(key="task_implementations").set_value(["gd"]).run()
    assert not app.exception
    assert len(_charts(app)) == before
    assert app.multiselect(key="task_implementations").value == ["gd"]


def test_implementation_page_history(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "implementation")
    implementation = app.selectbox(key="implementation").value
    facts = _frame(app, "implementation_facts")
    assert "source hash (latest run)" in list(facts["field"])
    rows = _frame(app, "implementation_rows")
    assert set(rows["task"]) <= set(TASKS)
    assert len(rows) > 0
    history = _frame(app, "implementation_history")
    assert len(history) >= 1
    assert all(len(values) == commits for values, commits in zip(history["history"], history["commits"]))
    assert _charts(app), f"no history chart for {implementation}"


def test_compare_two_implementations(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "compare")
    table = _frame(app, "compare_table")
    assert len(table) > 0
    counts = table[table["kind"] == "count"]
    assert set(counts["rule"]) == {"exact"}
    assert {"better", "worse", "equal"} & set(counts["verdict"])


def test_compare_two_runs(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "compare")
    app.radio(key="compare_mode").set_value("two runs").run()
    assert not app.exception
    table = _frame(app, "compare_table")
    assert set(table["implementation"]) == {"gd"}
    assert set(table["task"]) == {TASKS[0]}


def test_submissions_page_status_filter(monkeypatch, filled_store):
    app = _app(monkeypatch, filled_store.url, "submissions")
    table = _frame(app, "submissions_table")
    assert sorted(table["status"]) == ["failed", "pending"]
    assert "expected (50,)" in table.loc[table["status"] == "failed", "reason"].iloc[0]
    app.multiselect(key="submission_status").set_value(["failed"]).run()
    assert list(_frame(app, "submissions_table")["status"]) == ["failed"]


@pytest.mark.parametrize("page", [None, "suite", "task", "implementation", "compare", "submissions"])
def test_missing_store_shows_first_command(monkeypatch, tmp_path, page):
    path = tmp_path / "absent.db"
    app = _app(monkeypatch, f"sqlite:///{path}", page)
    assert [element.value for element in app.code] == [views.FIRST_COMMAND]
    assert not path.exists(), "opening the app must not create the store"


def test_empty_store_shows_first_command(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store(url).dispose()
    app = _app(monkeypatch, url, "suite")
    assert [element.value for element in app.code] == [views.FIRST_COMMAND]


def test_foreign_file_shows_error(monkeypatch, tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not a database")
    app = _app(monkeypatch, f"sqlite:///{path}")
    assert app.error
    assert "not a SQLite database" in app.error[0].value


def test_views_match_leaderboard_command(filled_store):
    store = Store(filled_store.url)
    results = views.results_frame(store)
    rows, scores = views.leaderboard_frames(results, Registry().suites())
    store.dispose()
    assert len(results) == len(store_results := Store(filled_store.url).results())
    assert len(store_results) > 0
    assert set(rows["implementation"]) == set(IMPLEMENTATIONS)
    assert len(scores) == len(IMPLEMENTATIONS)
