"""The one place that makes engines and sessions.

Transactions belong to the edge: a request (``get_db``) or a CLI command
(``Database.transaction``) opens one, operations receive the session and never commit,
and the edge commits when the work succeeded or rolls back on any exception.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from filewallball.settings import Settings, get_settings

__all__ = [
    "Database",
    "DatabaseHealth",
    "PoolStatus",
    "create_database_engine",
    "get_database",
    "get_db",
]


def create_database_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, settings)
    options: dict[str, Any] = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_recycle": settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
        "pool_timeout": settings.pool_timeout,
    }
    if backend in ("mysql", "mariadb"):
        url = url.update_query_dict({"charset": "utf8mb4"}) if "charset" not in url.query else url
        # DATETIME columns hold naive UTC; NOW() and friends must agree with them.
        options["connect_args"] = {"init_command": "SET time_zone = '+00:00'"}
        engine = sa.create_engine(url, **options)
        event.listen(engine, "handle_error", _check_violation_is_integrity_error)
        return engine
    return sa.create_engine(url, **options)


MARIADB_CHECK_VIOLATION = 4025


def _check_violation_is_integrity_error(context: ExceptionContext) -> DBAPIError | None:
    """PyMySQL raises a failed CHECK as OperationalError; other drivers, IntegrityError."""
    error = context.original_exception
    if context.is_disconnect or not error.args or error.args[0] != MARIADB_CHECK_VIOLATION:
        return None
    return IntegrityError(context.statement, context.parameters, error)


def _sqlite_engine(url: URL, settings: Settings) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    busy_timeout = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT;
        # switch it off and emit BEGIN ourselves (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()
        # SQLite's own lower() knows only ASCII; case-insensitive search must match "Ü" too.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
        # would otherwise fail at once (SQLITE_BUSY_SNAPSHOT) when another writer committed
        # in between, which busy_timeout cannot help. Writers queue instead; WAL keeps the
        # wait short. Concurrency beyond that is what MariaDB and PostgreSQL are for.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class PoolStatus:
    size: int | None
    checked_out: int | None
    overflow: int | None


@dataclass(frozen=True)
class DatabaseHealth:
    reachable: bool
    dialect: str
    round_trip_ms: float | None
    pool: PoolStatus
    error: str | None = None


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_database_engine(settings)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed if the block succeeds, else rolled back."""
        with self.sessions.begin() as session:
            yield session

    def health(self) -> DatabaseHealth:
        dialect = self.engine.dialect
        started = time.perf_counter()
        try:
            self._probe()
        except (SQLAlchemyError, dialect.loaded_dbapi.Error) as error:
            return DatabaseHealth(False, dialect.name, None, self.pool_status(), _short(error))
        elapsed_ms = (time.perf_counter() - started) * 1000
        return DatabaseHealth(True, dialect.name, round(elapsed_ms, 3), self.pool_status())

    def _probe(self) -> None:
        """One query straight through the driver, outside any transaction, so that no
        writer's lock delays the answer; on SQLite it reads the database file itself."""
        sqlite = self.engine.dialect.name == "sqlite"
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA schema_version" if sqlite else "SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            connection.close()

    def pool_status(self) -> PoolStatus:
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            return PoolStatus(pool.size(), pool.checkedout(), max(pool.overflow(), 0))
        return PoolStatus(None, None, None)

    def dispose(self) -> None:
        self.engine.dispose()


def _short(error: Exception) -> str:
    """The driver's message without the SQL statement or parameters."""
    original = getattr(error, "orig", None)
    return str(original if original is not None else error).splitlines()[0]


@lru_cache(maxsize=1)
def get_database() -> Database:
    return Database.from_settings(get_settings())


def get_db() -> Iterator[Session]:
    """FastAPI dependency: one transaction per request, committed when the handler returns."""
    with get_database().transaction() as session:
        yield session
