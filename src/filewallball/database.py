"""The one place that makes engines and sessions.

Transactions belong to the edge: a request (``get_db``) or a CLI command
(``Database.transaction``) opens one, operations receive the session and never commit,
and the edge commits when the work succeeded or rolls back on any exception. The edge
also says whether the transaction only reads (``read_only``): on SQLite a reader then
takes no lock at all, while a writer takes the write lock when it begins.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, AdaptedConnection, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool, PoolResetState, QueuePool

from filewallball.settings import Settings, get_settings

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "CHECKPOINT_SECONDS",
    "GROUP_COMMIT",
    "READ_ONLY",
    "AsyncDatabase",
    "Database",
    "DatabaseHealth",
    "PoolStatus",
    "WalFlush",
    "create_async_database_engine",
    "create_database_engine",
    "get_database",
    "get_db",
    "is_deadlock",
    "off_the_event_loop",
]


# The execution option a read-only transaction's connection carries (see _begin).
READ_ONLY = "filewallball_read_only"
# The execution option of a SQLite transaction whose commit is made durable afterwards,
# by WalFlush, instead of inside COMMIT (see _begin).
GROUP_COMMIT = "filewallball_group_commit"


def create_database_engine(settings: Settings) -> Engine:
    """The engine of the CLI, the migrations and the tests: the blocking drivers."""
    url, options = _engine_arguments(settings, settings.sqlalchemy_url)
    engine = sa.create_engine(url, **options)
    _configure(engine, settings)
    return engine


# The service's drivers for each blocking driver a URL may name; the same servers and
# the same configuration, so the operations run unchanged through AsyncSession.run_sync.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "mysql": "asyncmy", "mariadb": "asyncmy"}


def create_async_database_engine(settings: Settings) -> AsyncEngine:
    """The engine of the HTTP service; configured exactly like the blocking one."""
    url = settings.sqlalchemy_url
    backend = url.get_backend_name()
    if backend in ASYNC_DRIVERS:
        url = url.set(drivername=f"{backend}+{ASYNC_DRIVERS[backend]}")
    elif backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is sync and async
    url, options = _engine_arguments(settings, url)
    engine = create_async_engine(url, **options)
    _configure(engine.sync_engine, settings)
    return engine


def _engine_arguments(settings: Settings, url: URL) -> tuple[URL, dict[str, Any]]:
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return url, {"pool_reset_on_return": None}  # see _reset_if_in_transaction
    options: dict[str, Any] = {
        "pool_reset_on_return": None,
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
    return url, options


def _configure(engine: Engine, settings: Settings) -> None:
    backend = engine.dialect.name
    event.listen(engine, "reset", _reset_if_in_transaction)
    if backend == "sqlite":
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
    elif backend in ("mysql", "mariadb"):
        event.listen(engine, "handle_error", _check_violation_is_integrity_error)


def _reset_if_in_transaction(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
    """The pool's reset of a connection coming back, instead of its unconditional ROLLBACK.
    A session commits, then returns its connection: that ROLLBACK was one round trip in
    four of a metadata GET, for nothing. The driver knows from the server's last answer
    whether a transaction is open; when it is (or we cannot tell), roll back."""
    if state.asyncio_safe and not state.transaction_was_reset:
        driver_connection = getattr(record, "driver_connection", None) or dbapi_connection
        if _transaction_open(driver_connection):
            dbapi_connection.rollback()


MYSQL_IN_TRANSACTION = 1  # SERVER_STATUS_IN_TRANS of every OK and EOF packet


def _transaction_open(driver_connection: Any) -> bool:
    if hasattr(driver_connection, "in_transaction"):  # sqlite3, aiosqlite
        return bool(driver_connection.in_transaction)
    if hasattr(driver_connection, "get_transaction_status"):  # asyncmy
        return bool(driver_connection.get_transaction_status())
    if isinstance(getattr(driver_connection, "server_status", None), int):  # PyMySQL
        return bool(driver_connection.server_status & MYSQL_IN_TRANSACTION)
    info = getattr(driver_connection, "info", None)  # psycopg: pq.TransactionStatus
    status = getattr(info, "transaction_status", None)
    return getattr(status, "name", None) != "IDLE"


MARIADB_CHECK_VIOLATION = 4025


def _check_violation_is_integrity_error(context: ExceptionContext) -> DBAPIError | None:
    """The MySQL drivers raise a failed CHECK as OperationalError; others, IntegrityError."""
    error = context.original_exception
    if context.is_disconnect or not error.args or error.args[0] != MARIADB_CHECK_VIOLATION:
        return None
    return IntegrityError(context.statement, context.parameters, error)


MARIADB_DEADLOCK = 1213  # ER_LOCK_DEADLOCK: the whole transaction was rolled back
POSTGRESQL_DEADLOCK = "40P01"  # deadlock_detected: likewise


def is_deadlock(error: BaseException) -> bool:
    """Whether the database broke a deadlock by rolling back this transaction, entirely
    (a lock wait timeout, MariaDB 1205, rolls back only the statement: not this)."""
    original = getattr(error, "orig", None)
    if getattr(original, "sqlstate", None) == POSTGRESQL_DEADLOCK:
        return True
    args: tuple[object, ...] = getattr(original, "args", ())
    return bool(args) and args[0] == MARIADB_DEADLOCK


# SQLite's own checkpoint after a commit never waits: while some reader always holds a
# place in the write-ahead log, the log is never started again and only grows, and the
# first command after a crash of the service replays and copies back all of it. So the
# service checkpoints every CHECKPOINT_SECONDS, waiting up to CHECKPOINT_WAIT_MS (writers
# wait for it meanwhile) for the log to be free and then emptying it; and a log that
# SQLite starts again is cut back to WAL_SIZE_LIMIT.
WAL_SIZE_LIMIT = 16 * 1024 * 1024
CHECKPOINT_SECONDS = 10.0
CHECKPOINT_WAIT_MS = 200


def _configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT;
        # switch it off and emit BEGIN ourselves (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")  # see _begin
        cursor.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        cursor.close()
        # SQLite's own lower() knows only ASCII; case-insensitive search must match "Ü" too.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # A writer begins IMMEDIATE, taking the write lock up front: a transaction that
        # reads and then writes would otherwise fail at once (SQLITE_BUSY_SNAPSHOT) when
        # another writer committed in between, which busy_timeout cannot help. Writers
        # queue instead; WAL keeps the wait short. Concurrency beyond that is what MariaDB
        # and PostgreSQL are for. A reader begins deferred: in WAL mode it takes no lock,
        # so however long it reads, it never delays a writer; query_only makes SQLite
        # refuse any write it attempts, so a transaction cannot claim to read and write.
        #
        # A 2xx survives a power cut (SPEC section 13), so a commit must be on stable
        # storage before anyone is told of it. FULL fsyncs the log inside COMMIT, while
        # the write lock is held: each writer waits for every other writer's fsync. In a
        # group commit (GROUP_COMMIT, which only a caller that then waits for
        # WalFlush.flushed may ask for) COMMIT just writes the log (NORMAL) and one
        # fsync after the lock is released covers every commit made meanwhile. NORMAL
        # alone would survive a crash of the process, not of the machine.
        options = connection.get_execution_options()
        read_only = bool(options.get(READ_ONLY))
        synchronous = "NORMAL" if options.get(GROUP_COMMIT) else "FULL"
        pragmas = connection.connection.info  # lives as long as the driver's connection
        if pragmas.get("query_only", False) is not read_only:
            connection.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
            pragmas["query_only"] = read_only
        if pragmas.get("synchronous", "FULL") != synchronous:
            connection.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")
            pragmas["synchronous"] = synchronous
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


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
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in a transaction: committed if the block succeeds, else rolled back.
        ``read_only`` for one that never writes (see the module's docstring)."""
        with self.sessions(execution_options={READ_ONLY: read_only}) as session, session.begin():
            yield session

    def health(self) -> DatabaseHealth:
        dialect = self.engine.dialect
        started = time.perf_counter()
        try:
            connection = self.engine.raw_connection()
            try:
                _probe(connection, dialect.name)
            finally:
                connection.close()
        except (SQLAlchemyError, dialect.loaded_dbapi.Error) as error:
            return DatabaseHealth(False, dialect.name, None, self.pool_status(), _short(error))
        return DatabaseHealth(True, dialect.name, _ms_since(started), self.pool_status())

    def pool_status(self) -> PoolStatus:
        return _pool_status(self.engine.pool)

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class AsyncDatabase:
    """The service's database: the same engine configuration on the asyncio drivers.
    Operations stay plain functions over a Session; requests call them through
    ``AsyncSession.run_sync`` (SQLite's write transactions: on the blocking driver, in a
    worker thread; see ``run``), so there is one implementation of each."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    wal: WalFlush | None = None  # SQLite's group commit, for ``run``
    # SQLite's writers in this process, one at a time (see ``run``).
    writers: asyncio.Lock | None = None
    # SQLite's write transactions, on the blocking driver in a worker thread (``run``).
    writing: sessionmaker[Session] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AsyncDatabase:
        engine = create_async_database_engine(settings)
        url = engine.url
        wal, writers, writing = None, None, None
        if url.get_backend_name() == "sqlite":
            writers = asyncio.Lock()
            if url.database not in (None, "", ":memory:"):
                wal = WalFlush(Path(str(url.database)))
                blocking = create_database_engine(settings)
                writing = sessionmaker(blocking, expire_on_commit=False)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        return cls(engine, sessions, wal, writers, writing)

    async def run(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``work(session, ...)`` in one transaction: committed if it returns, else rolled
        back. Begin, work, commit and close all run in the one greenlet of ``run_sync``:
        each step in a greenlet of its own cost a sixth of a metadata GET. Returns once
        the commit is on stable storage.

        On SQLite the writers of this process queue here, first come first served, for
        the database's one write lock. Left to SQLite, a writer that finds the lock taken
        sleeps in the busy handler, in steps growing to 100 ms, and gets the lock only if
        it is free when it wakes: the lock stands idle while the next writer sleeps, and
        an unlucky one waits for seconds while later ones go first. Here each begins as
        soon as the one before committed, and none holds a pooled connection while it
        waits. Writers of other processes (a second worker, a command) still meet in
        the busy handler. The group commit's fsync comes after the turn, so the next
        writer does not wait for it.

        And on a SQLite file, the turn is one worker thread running the whole transaction
        on the blocking driver. Through aiosqlite every statement went to the driver's
        thread and back through the event loop, which, busy with other requests, made
        each of them wait: the write lock was held for those waits, and every writer
        queued behind them. The thread needs the event loop only to start and to end."""
        options = {READ_ONLY: False, GROUP_COMMIT: self.wal is not None}
        if self.writers is None:
            session = self.sessions(execution_options=options)
            result = await session.run_sync(_in_transaction, work, *args, **kwargs)
        elif self.writing is None:
            async with self.writers:
                session = self.sessions(execution_options=options)
                result = await session.run_sync(_in_transaction, work, *args, **kwargs)
        else:
            blocking = self.writing(execution_options=options)
            call = functools.partial(_in_transaction, blocking, work, *args, **kwargs)
            async with self.writers:
                result = await anyio.to_thread.run_sync(call)
        if self.wal is not None:
            await self.wal.flushed()
        return result

    async def read(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``run`` for work that only reads: on SQLite it takes no lock, so no number of
        readers delays a writer."""
        session = self.sessions(execution_options={READ_ONLY: True})
        return await session.run_sync(_in_transaction, work, *args, **kwargs)

    async def health(self) -> DatabaseHealth:
        dialect = self.engine.dialect
        started = time.perf_counter()
        try:
            async with self.engine.connect() as connection:
                await connection.run_sync(
                    lambda sync: _probe(sync.connection.dbapi_connection, dialect.name)
                )
        except (SQLAlchemyError, OSError, dialect.loaded_dbapi.Error) as error:
            return DatabaseHealth(False, dialect.name, None, self.pool_status(), _short(error))
        return DatabaseHealth(True, dialect.name, _ms_since(started), self.pool_status())

    async def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database and empty it, if no reader or
        writer uses it within CHECKPOINT_WAIT_MS; else copy what no reader still needs.
        WalFlush's fsync of an emptied log is still right: the checkpoint synced the
        database before emptying it."""
        if self.wal is not None:
            async with self.engine.connect() as connection:
                await connection.run_sync(
                    lambda sync: _checkpoint(sync.connection.dbapi_connection)
                )

    def pool_status(self) -> PoolStatus:
        return _pool_status(self.engine.pool)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.writing is not None:
            bind = self.writing.kw["bind"]
            await anyio.to_thread.run_sync(bind.dispose)


class WalFlush:
    """Group commit for SQLite: makes every commit made before the call durable, with
    as few fsyncs of the write-ahead log as concurrent callers allow.

    Each caller takes a ticket after its commit. One fsync at a time runs, in a worker
    thread; when it starts it covers every ticket taken so far, so a caller whose ticket
    an earlier fsync already covered returns without one of its own, while an fsync
    that was already running when the ticket was taken never counts for it. fsync
    flushes the file whichever process wrote it, so several workers each keeping their
    own count is still correct."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.log = database.with_name(database.name + "-wal")
        self._taken = 0
        self._covered = 0
        self._lock = asyncio.Lock()

    async def flushed(self) -> None:
        self._taken += 1
        ticket = self._taken
        async with self._lock:
            if self._covered >= ticket:
                return
            covering = self._taken
            await asyncio.to_thread(self._fsync)
            self._covered = covering

    def _fsync(self) -> None:
        try:
            descriptor = os.open(self.log, os.O_RDONLY)
        except FileNotFoundError:
            # The last connection checkpointed the log into the database and removed
            # it (SQLite syncs a checkpoint): the database file is the one to flush.
            descriptor = os.open(self.database, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _in_transaction(
    session: Session,
    work: Callable[Concatenate[Session, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    with session, session.begin():
        return work(session, *args, **kwargs)


def off_the_event_loop(
    session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Blocking file-system work inside ``session``'s transaction. A transaction of the
    service (``AsyncDatabase.run``) runs in a greenlet on the event loop's thread: there
    the work goes to a worker thread, and the greenlet waits for it while the event loop
    serves other requests, the transaction and its locks held all along. Anywhere else
    (the commands, and the service's SQLite writers, in a worker thread already) it
    simply runs."""
    connection = session.connection().connection.dbapi_connection
    if isinstance(connection, AdaptedConnection):
        call = functools.partial(work, *args, **kwargs)
        return connection.run_async(lambda _driver: anyio.to_thread.run_sync(call))
    return work(*args, **kwargs)


def _probe(dbapi_connection: Any, dialect_name: str) -> None:
    """One query straight through the driver, outside any transaction, so that no
    writer's lock delays the answer; on SQLite it reads the database file itself."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA schema_version" if dialect_name == "sqlite" else "SELECT 1")
        cursor.fetchall()
    finally:
        cursor.close()


def _checkpoint(dbapi_connection: Any) -> None:
    """TRUNCATE with a short wait: outside any transaction, which would hold the log."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout")
        [(busy_timeout,)] = cursor.fetchall()
        cursor.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")
    finally:
        cursor.close()


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _pool_status(pool: Pool) -> PoolStatus:
    if isinstance(pool, QueuePool):
        return PoolStatus(pool.size(), pool.checkedout(), max(pool.overflow(), 0))
    return PoolStatus(None, None, None)


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
