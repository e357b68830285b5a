"""The result store: runs, results, curves and submissions in SQLAlchemy 2.

Default: a SQLite file (WAL mode) named `theorybench.db` in the working directory; any
SQLAlchemy URL through `--store` or `THEORYBENCH_STORE` (PostgreSQL for teams and clusters).
Results are append-only and every finished cell is committed in its own transaction, so a run
killed at any point keeps everything it finished. The store handles rows and runs, not suites.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError

from theorybench.contracts import Cell, Limits
from theorybench.errors import StoreError, StoreUsageError

logger = logging.getLogger(__name__)

STORE_ENVIRONMENT_VARIABLE = "THEORYBENCH_STORE"
DEFAULT_SQLITE_FILE = "theorybench.db"
SCHEMA_VERSION = "2"
SQLITE_MAGIC = b"SQLite format 3\x00"

metadata = sa.MetaData()

meta_table = sa.Table(
    "theorybench_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False, default="run"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("command", sa.Text, nullable=False, default=""),
    sa.Column("tier", sa.String(16), nullable=False, default=""),
    sa.Column("executor", sa.String(16), nullable=False, default=""),
    sa.Column("salt", sa.String(64), nullable=False, default="public"),
    sa.Column("git_commit", sa.String(64), nullable=False, default=""),
    sa.Column("git_dirty", sa.Boolean, nullable=False, default=False),
    sa.Column("fingerprint_id", sa.String(32), nullable=False, default=""),
    sa.Column("fingerprint", sa.JSON, nullable=False, default=dict),
    sa.Column("packages", sa.JSON, nullable=False, default=dict),
    sa.Column("plan", sa.JSON, nullable=False, default=list),
    sa.Column("label", sa.String(128), nullable=False, default=""),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)

implementations_table = sa.Table(
    "implementations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("suite", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.String(64), nullable=False, default=""),
    sa.Column("source_hash", sa.String(64), nullable=False, default=""),
    sa.Column("origin", sa.String(16), nullable=False, default=""),
    sa.Column("path", sa.Text, nullable=False, default=""),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
)

results_table = sa.Table(
    "results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("cell_key", sa.String(32), nullable=False),
    sa.Column("suite", sa.String(64), nullable=False),
    sa.Column("task", sa.String(128), nullable=False),
    sa.Column("instance", sa.String(512), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("implementation", sa.String(128), nullable=False),
    sa.Column("source_hash", sa.String(64), nullable=False, default=""),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("device", sa.String(16), nullable=False),
    sa.Column("trial", sa.Integer, nullable=False),
    sa.Column("salt", sa.String(64), nullable=False, default="public"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("traceback", sa.Text, nullable=False, default=""),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("info", sa.JSON, nullable=False),
    sa.Column("fingerprint_id", sa.String(32), nullable=False, default=""),
    sa.Column("git_commit", sa.String(64), nullable=False, default=""),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("wall_s", sa.Float, nullable=False, default=0.0),
    sa.Column("worker_pid", sa.Integer, nullable=False, default=0),
    sa.Index("ix_results_run_cell", "run_id", "cell_key"),
    sa.Index("ix_results_lookup", "suite", "task", "implementation", "tier", "device"),
)

curves_table = sa.Table(
    "curves",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("result_id", sa.Integer, sa.ForeignKey("results.id"), nullable=False, index=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("x_label", sa.String(128), nullable=False),
    sa.Column("y_label", sa.String(128), nullable=False),
    sa.Column("point", sa.Integer, nullable=False),
    sa.Column("x", sa.Float, nullable=True),
    sa.Column("y", sa.Float, nullable=True),
)

submissions_table = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("suite", sa.String(64), nullable=False, default=""),
    sa.Column("implementation", sa.String(128), nullable=False, default=""),
    sa.Column("source_hash", sa.String(64), nullable=False, default=""),
    sa.Column("tier", sa.String(16), nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("run_id", sa.String(40), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


def default_store_url() -> str:
    """Return the store URL from THEORYBENCH_STORE, else the SQLite file in the working directory."""
    return os.environ.get(STORE_ENVIRONMENT_VARIABLE) or f"sqlite:///{DEFAULT_SQLITE_FILE}"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_run_id() -> str:
    """Return a sortable, readable run id such as `20261204-201500-3fa9c1`."""
    return _utc_now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _check_sqlite_file(path: Path, url: str) -> None:
    """Raise StoreError when `path` exists but is not a SQLite database."""
    if not path.exists():
        if not path.parent.exists():
            raise StoreUsageError(f"cannot create the store {url}: folder {path.parent} does not exist")
        return
    if path.is_dir():
        raise StoreUsageError(f"the store path {path} is a folder; give a file path such as {path / DEFAULT_SQLITE_FILE}")
    if path.stat().st_size == 0:
        return
    with open(path, "rb") as file:
        header = file.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not a SQLite database (corrupt, or another kind of file); "
            f"move it away or choose another store with --store or {STORE_ENVIRONMENT_VARIABLE}"
        )
    # Read the table names through a read-only connection, so a foreign database is rejected
    # before the engine's first connection switches it to WAL mode.
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"cannot read {path}: {error}; the file may be corrupt: move it away or choose another store"
        ) from error
    if tables and meta_table.name not in tables:
        raise StoreError(
            f"{path} contains a database that is not a TheoryBench store (tables: {', '.join(sorted(tables)[:5])}); "
            "choose another path"
        )


@dataclasses.dataclass
class RunRecord:
    """A run as the store returns it."""

    id: str
    kind: str
    status: str
    command: str
    tier: str
    executor: str
    salt: str
    git_commit: str
    git_dirty: bool
    fingerprint_id: str
    fingerprint: dict
    packages: dict
    plan: list
    label: str
    started_at: dt.datetime
    finished_at: dt.datetime | None

    def cells(self) -> list[Cell]:
        return [cell_from_dict(item) for item in self.plan]


def cell_to_dict(cell: Cell) -> dict[str, Any]:
    """Serialize a cell for the run's stored plan; the salt is replaced by its digest."""
    from theorybench.seeds import salt_digest

    data = dataclasses.asdict(cell)
    data["salt"] = salt_digest(cell.salt)
    return data


def cell_from_dict(data: Mapping[str, Any]) -> Cell:
    values = dict(data)
    values["limits"] = Limits(**values["limits"])
    return Cell(**values)


class Store:
    """Access to one store. Every method opens and commits its own transaction."""

    def __init__(self, url: str | None = None, create: bool = True):
        self.url = url or default_store_url()
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as error:
            raise StoreUsageError(f"invalid store URL {self.url!r}: {error}; use a URL like sqlite:///theorybench.db") from error
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        #: The URL with any password masked, for messages and logs.
        self.display_url = parsed.render_as_string(hide_password=True)
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            _check_sqlite_file(Path(parsed.database), self.url)
        try:
            self.engine: Engine = sa.create_engine(parsed, future=True, pool_pre_ping=not self.is_sqlite)
        except sa.exc.ArgumentError as error:
            raise StoreUsageError(f"invalid store URL {self.display_url}: {error}; use a URL like sqlite:///theorybench.db") from error
        except (SQLAlchemyError, ImportError) as error:
            raise StoreError(f"cannot open the store {self.display_url}: {error}") from error
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite)
        self._initialize(create)

    def _initialize(self, create: bool) -> None:
        try:
            inspector = sa.inspect(self.engine)
            tables = set(inspector.get_table_names())
        except (DatabaseError, OperationalError) as error:
            advice = (
                "the file may be corrupt: move it away or choose another store" if self.is_sqlite
                else "check that the database server is running and the URL, user and password are right"
            )
            raise StoreError(f"cannot read the store {self.display_url}: {getattr(error, 'orig', error)}; {advice}") from error
        if tables and meta_table.name not in tables:
            raise StoreError(
                f"{self.display_url} contains a database that is not a TheoryBench store (tables: {', '.join(sorted(tables)[:5])}); "
                "choose another path"
            )
        if not tables and not create:
            raise StoreError(f"{self.display_url} has no TheoryBench results yet; run `theorybench run --tier quick` first")
        try:
            metadata.create_all(self.engine)
            with self.engine.begin() as connection:
                version = connection.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).scalar_one_or_none()
                if version is None:
                    connection.execute(meta_table.insert().values(key="schema_version", value=SCHEMA_VERSION))
                elif version != SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.display_url} has store schema version {version}, this TheoryBench reads version {SCHEMA_VERSION}"
                    )
        except (DatabaseError, OperationalError) as error:
            raise StoreError(f"cannot initialize the store {self.display_url}: {getattr(error, 'orig', error)}") from error

    def dispose(self) -> None:
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        command: str,
        tier: str,
        executor: str,
        salt: str,
        git_commit: str,
        git_dirty: bool,
        fingerprint: Mapping[str, Any],
        packages: Mapping[str, str],
        cells: Sequence[Cell],
        implementations: Iterable[Any] = (),
        kind: str = "run",
        label: str = "",
    ) -> str:
        run_id = new_run_id()
        with self._begin() as connection:
            connection.execute(
                runs_table.insert().values(
                    id=run_id, kind=kind, status="running", command=command, tier=tier, executor=executor,
                    salt=salt, git_commit=git_commit, git_dirty=git_dirty,
                    fingerprint_id=fingerprint.get("id", ""), fingerprint=dict(fingerprint),
                    packages=dict(packages), plan=[cell_to_dict(cell) for cell in cells], label=label,
                    started_at=_utc_now(), finished_at=None,
                )
            )
            self._insert_implementations(connection, run_id, implementations)
        logger.info("created run %s with %d cells", run_id, len(cells))
        return run_id

    def _insert_implementations(self, connection: sa.Connection, run_id: str, implementations: Iterable[Any]) -> None:
        rows = [
            dict(
                run_id=run_id, suite=ref.suite, name=ref.name, version=str(ref.metadata.get("version", "")),
                source_hash=ref.source_hash, origin=ref.origin, path=ref.path, metadata=dict(ref.metadata),
            )
            for ref in implementations
        ]
        if rows:
            connection.execute(implementations_table.insert(), rows)

    def add_implementations(self, run_id: str, implementations: Iterable[Any]) -> None:
        with self._begin() as connection:
            self._insert_implementations(connection, run_id, implementations)

    def set_run_status(self, run_id: str, status: str, finished: bool = True) -> None:
        with self._begin() as connection:
            connection.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(status=status, finished_at=_utc_now() if finished else None)
            )

    def get_run(self, run_id: str) -> RunRecord:
        with self._connect() as connection:
            row = connection.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).mappings().first()
            if row is None:
                candidates = connection.execute(
                    sa.select(runs_table.c.id).where(runs_table.c.id.like(f"{run_id}%"))
                ).scalars().all()
                if len(candidates) == 1:
                    return self.get_run(candidates[0])
                raise StoreUsageError(f"no run {run_id!r} in {self.display_url}; `theorybench show` lists the runs") from None
        return RunRecord(**dict(row))

    def runs(self, limit: int | None = None) -> list[RunRecord]:
        query = sa.select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self._connect() as connection:
            return [RunRecord(**dict(row)) for row in connection.execute(query).mappings()]

    def latest_run_id(self) -> str | None:
        with self._connect() as connection:
            return connection.execute(
                sa.select(runs_table.c.id).order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc()).limit(1)
            ).scalar_one_or_none()

    # -- results ------------------------------------------------------------------------------

    def add_result(
        self,
        run_id: str,
        result: Any,
        fingerprint_id: str = "",
        git_commit: str = "",
        source_hash: str = "",
        salt: str = "public",
    ) -> int:
        """Store one cell's result and its curves in one transaction; return the result id."""
        cell: Cell = result.cell
        with self._begin() as connection:
            result_id = connection.execute(
                results_table.insert().values(
                    run_id=run_id, cell_key=cell.key, suite=cell.suite, task=cell.task, instance=cell.instance,
                    params=dict(cell.params), implementation=cell.implementation, source_hash=source_hash,
                    tier=cell.tier, device=cell.device, trial=cell.trial, salt=salt, status=result.status,
                    reason=result.reason or "", traceback=result.traceback or "", metrics=result.metrics or {},
                    info=result.info or {}, fingerprint_id=fingerprint_id, git_commit=git_commit,
                    started_at=result.started_at, finished_at=result.finished_at, wall_s=float(result.wall_s),
                    worker_pid=int(result.worker_pid),
                )
            ).inserted_primary_key[0]
            points = [
                dict(result_id=result_id, name=curve.name, x_label=curve.x_label, y_label=curve.y_label,
                     point=index, x=_finite_or_none(x), y=_finite_or_none(y))
                for curve in result.curves
                for index, (x, y) in enumerate(zip(curve.x, curve.y))
            ]
            if points:
                connection.execute(curves_table.insert(), points)
        return int(result_id)

    def finished_cell_keys(self, run_id: str) -> set[str]:
        with self._connect() as connection:
            return set(
                connection.execute(sa.select(results_table.c.cell_key).where(results_table.c.run_id == run_id)).scalars()
            )

    def results(
        self,
        *,
        run_ids: Sequence[str] | None = None,
        suites: Sequence[str] | None = None,
        tasks: Sequence[str] | None = None,
        implementations: Sequence[str] | None = None,
        tiers: Sequence[str] | None = None,
        devices: Sequence[str] | None = None,
        fingerprint_ids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        include_traceback: bool = False,
    ) -> list[dict[str, Any]]:
        """Return result rows as dicts, oldest first, filtered with bound parameters only."""
        columns = [column for column in results_table.c if include_traceback or column.name != "traceback"]
        query = sa.select(*columns).order_by(results_table.c.id)
        filters = {
            "run_id": run_ids, "suite": suites, "task": tasks, "implementation": implementations,
            "tier": tiers, "device": devices, "fingerprint_id": fingerprint_ids, "status": statuses,
        }
        for name, values in filters.items():
            if values:
                query = query.where(results_table.c[name].in_(list(values)))
        with self._connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def curves(self, result_ids: Sequence[int]) -> list[dict[str, Any]]:
        if not result_ids:
            return []
        rows: list[dict[str, Any]] = []
        ids = list(result_ids)
        with self._connect() as connection:
            for start in range(0, len(ids), 500):
                query = (
                    sa.select(curves_table)
                    .where(curves_table.c.result_id.in_(ids[start:start + 500]))
                    .order_by(curves_table.c.result_id, curves_table.c.name, curves_table.c.point)
                )
                rows.extend(dict(row) for row in connection.execute(query).mappings())
        return rows

    def implementation_records(self, suite: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(implementations_table).order_by(implementations_table.c.id)
        if suite:
            query = query.where(implementations_table.c.suite == suite)
        if name:
            query = query.where(implementations_table.c.name == name)
        with self._connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    # -- submissions --------------------------------------------------------------------------

    def create_submission(self, *, path: str, suite: str = "", implementation: str = "", source_hash: str = "", tier: str = "") -> int:
        now = _utc_now()
        with self._begin() as connection:
            return int(
                connection.execute(
                    submissions_table.insert().values(
                        path=path, suite=suite, implementation=implementation, source_hash=source_hash, tier=tier,
                        status="pending", reason="", run_id=None, created_at=now, updated_at=now,
                    )
                ).inserted_primary_key[0]
            )

    def update_submission(self, submission_id: int, **values: Any) -> None:
        allowed = {"suite", "implementation", "source_hash", "status", "reason", "run_id", "tier"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"cannot update submission fields {sorted(unknown)}")
        with self._begin() as connection:
            connection.execute(
                submissions_table.update().where(submissions_table.c.id == submission_id).values(updated_at=_utc_now(), **values)
            )

    def submissions(self) -> list[dict[str, Any]]:
        with self._connect() as connection:
            query = sa.select(submissions_table).order_by(submissions_table.c.id.desc())
            return [dict(row) for row in connection.execute(query).mappings()]

    # -- transactions -------------------------------------------------------------------------

    def _connect(self) -> Any:
        return _Guarded(self, begin=False)

    def _begin(self) -> Any:
        return _Guarded(self, begin=True)


class _Guarded:
    """A connection context that turns database errors into StoreError with the store's URL."""

    def __init__(self, store: Store, begin: bool):
        self._store = store
        self._begin = begin
        self._context: Any = None

    def __enter__(self) -> sa.Connection:
        try:
            self._context = self._store.engine.begin() if self._begin else self._store.engine.connect()
            return self._context.__enter__()
        except (DatabaseError, OperationalError) as error:
            raise StoreError(f"cannot use the store {self._store.display_url}: {getattr(error, 'orig', error)}") from error

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        try:
            self._context.__exit__(exc_type, exc, tb)
        except (DatabaseError, OperationalError) as error:
            raise StoreError(f"cannot write to the store {self._store.display_url}: {getattr(error, 'orig', error)}") from error
        if isinstance(exc, (DatabaseError, OperationalError)):
            raise StoreError(f"store {self._store.display_url} failed: {getattr(exc, 'orig', exc)}") from exc
        return False


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None
