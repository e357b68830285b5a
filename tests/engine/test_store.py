import datetime as dt
import sqlite3
import uuid

import pytest
import sqlalchemy as sa

from theorybench.contracts import Cell, Curve, Limits
from theorybench.errors import StoreError
from theorybench.store import Store
from theorybench.worker import CellResult


def make_cell(trial: int = 0, implementation: str = "gd") -> Cell:
    return Cell(
        suite="optimization", task="least_squares", params={"kappa": 100}, implementation=implementation,
        module="m", module_path="/tmp/m.py", class_name="C", tier="quick", device="cpu", trial=trial,
        salt="secret-salt", limits=Limits(timeout_s=5, memory_mb=100),
    )


def make_result(cell: Cell, status: str = "ok") -> CellResult:
    now = dt.datetime.now(dt.timezone.utc)
    return CellResult(
        cell=cell, status=status, reason="" if status == "ok" else "boom", metrics={"calls": 12, "rate": 0.5},
        curves=[Curve("progress", "calls", "suboptimality", [1, 2, 3], [1.0, 0.1, float("nan")])],
        started_at=now, finished_at=now, wall_s=0.1,
    )


def fill(store: Store, results: int = 3) -> str:
    cells = [make_cell(trial) for trial in range(results)]
    run_id = store.create_run(
        command="theorybench run", tier="quick", executor="local", salt="public", git_commit="abc", git_dirty=False,
        fingerprint={"id": "fp1", "cpu": "x"}, packages={"numpy": "2"}, cells=cells,
    )
    for cell in cells:
        store.add_result(run_id, make_result(cell), fingerprint_id="fp1", git_commit="abc")
    return run_id


def test_store_round_trip(store_url):
    store = Store(store_url)
    run_id = fill(store)
    rows = store.results(run_ids=[run_id])
    assert len(rows) == 3
    assert rows[0]["metrics"] == {"calls": 12, "rate": 0.5}
    assert rows[0]["fingerprint_id"] == "fp1"
    curves = store.curves([rows[0]["id"]])
    assert [point["x"] for point in curves] == [1.0, 2.0, 3.0]
    assert curves[2]["y"] is None
    stored_cell = store.get_run(run_id).cells()[0]
    assert stored_cell.key == make_cell(0).key
    assert stored_cell.salt.startswith("private:")


def test_store_never_keeps_private_salt(store_url, tmp_path):
    store = Store(store_url)
    fill(store)
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("store.db*"))
    assert b"secret-salt" not in raw


def test_sqlite_store_uses_wal(store_url):
    store = Store(store_url)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_finished_cell_keys_for_resume(store_url):
    store = Store(store_url)
    run_id = fill(store, results=2)
    assert store.finished_cell_keys(run_id) == {make_cell(0).key, make_cell(1).key}


def test_get_run_by_prefix_and_unknown(store_url):
    store = Store(store_url)
    run_id = fill(store, results=1)
    assert store.get_run(run_id[:-2]).id == run_id
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.get_run("nope")


def test_corrupt_file_gives_clear_error(tmp_path):
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        Store(f"sqlite:///{path}")


def test_truncated_sqlite_gives_clear_error(tmp_path):
    path = tmp_path / "store.db"
    Store(f"sqlite:///{path}").dispose()
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\x00" * 50)
    with pytest.raises(StoreError):
        store = Store(f"sqlite:///{path}")
        store.results()


def test_foreign_sqlite_database_is_rejected(tmp_path):
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id INTEGER)")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="not a TheoryBench store"):
        Store(f"sqlite:///{path}")


def test_missing_folder_gives_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(f"sqlite:///{tmp_path / 'missing' / 'store.db'}")


def test_invalid_url_gives_clear_error():
    with pytest.raises(StoreError, match="invalid store URL"):
        Store("not a url")


def test_submissions_life_cycle(store_url):
    store = Store(store_url)
    submission = store.create_submission(path="/tmp/x.py", suite="optimization")
    store.update_submission(submission, status="running", run_id="r1")
    records = store.submissions()
    assert records[0]["status"] == "running"
    assert records[0]["run_id"] == "r1"
    with pytest.raises(ValueError):
        store.update_submission(submission, bogus=1)


def test_postgres_store_round_trip(postgres_url):
    schema = f"tb_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = postgres_url + ("&" if "?" in postgres_url else "?") + f"options=-csearch_path%3D{schema}"
        store = Store(url)
        run_id = fill(store, results=4)
        rows = store.results(run_ids=[run_id])
        assert len(rows) == 4
        assert rows[0]["metrics"]["calls"] == 12
        assert len(store.curves([row["id"] for row in rows])) == 12
        assert store.finished_cell_keys(run_id) == {make_cell(trial).key for trial in range(4)}
        store.dispose()
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_foreign_sqlite_database_is_left_unchanged(tmp_path):
    import hashlib

    path = tmp_path / "foreign.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE runs (id INTEGER)")
    connection.commit()
    connection.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="not a TheoryBench store"):
        Store(f"sqlite:///{path}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["foreign.db"]
