"""The database module: transactions at the edge, the FastAPI dependency, health, SQLite set-up."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.database import (
    AsyncDatabase,
    Database,
    WalFlush,
    create_database_engine,
    get_database,
    get_db,
    off_the_event_loop,
)
from filewallball.migrations import alembic_config
from filewallball.models import FileCategory, FileTag
from filewallball.settings import Settings
from tests import factories
from tests.conftest import upgrade
from tests.servers import only_on, settings_for


class Boom(Exception):
    pass


def _category_count(bind: sa.Connection | Engine, name: str) -> int:
    statement = (
        sa.select(sa.func.count()).select_from(FileCategory).where(FileCategory.name == name)
    )
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return int(connection.scalar(statement) or 0)
    return int(bind.scalar(statement) or 0)


@pytest.fixture
def committing(engine: Engine) -> Iterator[Database]:
    """A Database that really commits; the test cleans up what it made."""
    yield Database(engine, sessionmaker(engine))
    with engine.begin() as connection:
        connection.execute(sa.delete(FileCategory).where(FileCategory.name.like("tx-%")))


def test_transaction_commits_on_success(committing: Database, engine: Engine) -> None:
    with committing.transaction() as session:
        session.add(factories.category(name="tx-kept"))
    assert _category_count(engine, "tx-kept") == 1


def _add_then_fail(database: Database, name: str) -> None:
    with database.transaction() as session:
        session.add(factories.category(name=name))
        session.flush()  # the row reached the database inside the transaction
        assert _category_count(session.connection(), name) == 1
        raise Boom


def test_transaction_rolls_back_on_any_exception(committing: Database, engine: Engine) -> None:
    with pytest.raises(Boom):
        _add_then_fail(committing, "tx-lost")
    assert _category_count(engine, "tx-lost") == 0


def test_nested_rollback_inside_a_test_transaction(
    database: Database, connection: sa.Connection
) -> None:
    """The test fixtures' savepoint mode behaves like a real transaction (SQLite included)."""
    with database.transaction() as session:
        session.add(factories.category(name="tx-outer"))
    with pytest.raises(Boom):
        _add_then_fail(database, "tx-inner")
    assert _category_count(connection, "tx-outer") == 1
    assert _category_count(connection, "tx-inner") == 0


def test_sessions_never_commit_by_themselves(database: Database, connection: sa.Connection) -> None:
    session: Session = database.sessions()
    session.add(factories.category(name="tx-uncommitted"))
    session.flush()
    session.close()
    assert _category_count(connection, "tx-uncommitted") == 0


@pytest.fixture
def one_connection(migrated: Engine) -> Iterator[Engine]:
    """An engine whose pool hands out one and the same connection every time."""
    engine = create_database_engine(settings_for(migrated.url, pool_size=1, max_overflow=0))
    yield engine
    engine.dispose()


def _tags_named(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        statement = sa.select(sa.func.count()).select_from(FileTag).where(FileTag.tag_name == name)
        return int(connection.scalar(statement) or 0)


def test_a_connection_given_back_in_a_transaction_is_rolled_back(one_connection: Engine) -> None:
    """The pool asks the driver instead of always rolling back; an open transaction
    (here a raw connection's) must still end before the connection serves again."""
    raw = one_connection.raw_connection()
    cursor = raw.cursor()
    if one_connection.dialect.name == "sqlite":
        cursor.execute("BEGIN")  # the engine leaves transactions to SQLAlchemy
    cursor.execute(
        "INSERT INTO file_tags (tag_name, created_at) VALUES ('left-open', CURRENT_TIMESTAMP)"
    )
    cursor.close()
    raw.close()  # back to the pool, the transaction open
    assert _tags_named(one_connection, "left-open") == 0  # the same connection, rolled back


def _statement_counts(engine: Engine) -> tuple[int, int]:
    """COMMITs and ROLLBACKs of the pool's one connection so far (MariaDB counts them)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Com_commit', 'Com_rollback')")
        counts = {name: int(value) for name, value in cursor.fetchall()}
        cursor.close()
    finally:
        raw.close()
    return counts["Com_commit"], counts["Com_rollback"]


# MariaDB counts the statements of each connection; the others only per database, late.
@only_on("mariadb")
def test_a_committed_connection_comes_back_without_a_rollback(one_connection: Engine) -> None:
    commits, rollbacks = _statement_counts(one_connection)
    with Session(one_connection) as session, session.begin():
        session.add(factories.tag(tag_name="committed"))
    assert _statement_counts(one_connection) == (commits + 1, rollbacks)


class TestGetDb:
    @pytest.fixture
    def configured(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
        monkeypatch.setenv("FILEWALLBALL_DATA_DIR", str(tmp_path / "data"))
        command.upgrade(alembic_config(), "head")
        return get_database()

    def test_commits_when_the_request_succeeds(self, configured: Database) -> None:
        dependency = get_db()
        next(dependency).add(factories.category(name="req-ok"))
        assert next(dependency, "done") == "done"
        assert _category_count(configured.engine, "req-ok") == 1

    def test_rolls_back_when_the_request_fails(self, configured: Database) -> None:
        dependency = get_db()
        next(dependency).add(factories.category(name="req-failed"))
        with pytest.raises(Boom):
            dependency.throw(Boom())
        assert _category_count(configured.engine, "req-failed") == 0

    def test_uses_the_configured_sqlite_file(self, configured: Database, tmp_path: Path) -> None:
        assert configured.engine.url.database == str(tmp_path / "data" / "filewallball.db")


def test_health_of_a_reachable_database(database: Database) -> None:
    health = database.health()
    assert health.reachable
    assert health.error is None
    assert health.round_trip_ms is not None
    assert 0 < health.round_trip_ms < 60_000
    assert health.dialect == database.engine.dialect.name
    assert health.pool.size is not None
    assert health.pool.checked_out is not None
    assert health.pool.checked_out >= 1  # the test's own connection


def test_health_of_an_unreachable_database() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", pool_timeout=1)
    database = Database.from_settings(settings)
    health = database.health()
    assert not health.reachable
    assert health.round_trip_ms is None
    assert health.error
    assert "SELECT" not in health.error
    assert (health.pool.size, health.pool.checked_out, health.pool.overflow) == (20, 0, 0)


SQLITE_SYNCHRONOUS_FULL = 2


class TestSqlite:
    @pytest.fixture
    def engine(self, tmp_path: Path) -> Iterator[Engine]:
        engine = create_database_engine(Settings(data_dir=tmp_path, sqlite_busy_timeout_ms=1234))
        yield engine
        engine.dispose()

    def test_pragmas(self, engine: Engine) -> None:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == 1234

    def test_commits_are_on_stable_storage_inside_commit_unless_grouped(
        self, tmp_path: Path
    ) -> None:
        """synchronous=FULL (2) for the CLI and for every service session but a request's
        write transaction, which commits with NORMAL (1) and is made durable by the
        group commit that ``run`` waits for (SPEC section 13)."""
        settings = Settings(data_dir=tmp_path)
        cli = Database.from_settings(settings)
        service = AsyncDatabase.from_settings(settings)

        async def in_the_service() -> tuple[int, int, int]:
            try:
                grouped = await service.run(_synchronous)
                read = await service.read(_synchronous)
                async with service.sessions() as session:  # as housekeeping has it
                    alone = await session.run_sync(_in_a_transaction, _synchronous)
                return grouped, read, alone
            finally:
                await service.dispose()

        try:
            with cli.transaction() as session:
                assert _synchronous(session) == SQLITE_SYNCHRONOUS_FULL
        finally:
            cli.dispose()
        assert service.wal is not None
        assert asyncio.run(in_the_service()) == (
            SQLITE_SYNCHRONOUS_NORMAL,
            SQLITE_SYNCHRONOUS_FULL,  # a reader writes nothing; its setting is the default
            SQLITE_SYNCHRONOUS_FULL,
        )

    def test_a_service_commit_returns_after_the_log_holding_it_is_flushed(
        self, tmp_path: Path
    ) -> None:
        settings = Settings(data_dir=tmp_path)
        upgrade(create_database_engine(settings)).dispose()
        service = AsyncDatabase.from_settings(settings)
        assert service.wal is not None
        seen: list[str] = []
        database_file = service.wal.database

        class Watched(WalFlush):
            def _fsync(self) -> None:
                with sqlite3.connect(database_file) as other:
                    count = other.execute(
                        "SELECT count(*) FROM file_categories WHERE name = 'flushed'"
                    ).fetchone()[0]
                seen.append(f"fsync of a log holding {count} row")
                super()._fsync()
                seen.append("fsync done")

        service = dataclasses.replace(service, wal=Watched(database_file))

        async def commit() -> None:
            try:
                await service.run(lambda session: session.add(factories.category(name="flushed")))
                seen.append("returned")
            finally:
                await service.dispose()

        asyncio.run(commit())
        assert seen == ["fsync of a log holding 1 row", "fsync done", "returned"]

    def test_the_services_writers_take_turns_in_the_order_they_came(self, tmp_path: Path) -> None:
        """Each writer holds the write lock far longer than SQLite's busy timeout: left to
        SQLite's busy handler all but one would fail with "database is locked"; queued in
        the process, every one commits, in the order it asked."""
        settings = Settings(data_dir=tmp_path, sqlite_busy_timeout_ms=10)
        upgrade(create_database_engine(settings)).dispose()
        service = AsyncDatabase.from_settings(settings)
        committed: list[int] = []

        def write(session: Session, number: int) -> None:
            session.add(factories.category(name=f"turn-{number}"))
            session.flush()  # the write lock is taken: held until the commit
            off_the_event_loop(session, time.sleep, 0.1)
            committed.append(number)

        async def writers() -> None:
            try:
                await asyncio.gather(*(service.run(write, number) for number in range(5)))
            finally:
                await service.dispose()

        asyncio.run(writers())
        assert committed == list(range(5))
        engine = create_database_engine(settings)
        try:
            assert [_category_count(engine, f"turn-{number}") for number in range(5)] == [1] * 5
        finally:
            engine.dispose()

    def test_a_service_writer_needs_no_event_loop_while_it_holds_the_lock(
        self, tmp_path: Path
    ) -> None:
        """The write transaction runs whole in a worker thread: with the event loop
        blocked after it began, it still gets through its statements."""
        settings = Settings(data_dir=tmp_path)
        upgrade(create_database_engine(settings)).dispose()
        service = AsyncDatabase.from_settings(settings)
        began, wrote = threading.Event(), threading.Event()

        def write(session: Session) -> int:
            began.set()
            session.add(factories.category(name="loop-free"))
            session.flush()
            count = _category_count(session.connection(), "loop-free")
            wrote.set()
            return count

        async def blocked_loop() -> tuple[bool, int]:
            try:
                writing = asyncio.get_running_loop().create_task(service.run(write))
                while not began.is_set():
                    await asyncio.sleep(0.001)
                in_time = wrote.wait(timeout=10)  # blocks the event loop
                return in_time, await writing
            finally:
                await service.dispose()

        assert asyncio.run(blocked_loop()) == (True, 1)

    def test_savepoints_really_roll_back(self, engine: Engine) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            savepoint = connection.begin_nested()
            connection.exec_driver_sql("INSERT INTO t VALUES (2)")
            savepoint.rollback()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]

    @staticmethod
    def _insert_then_fail(engine: Engine) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            raise Boom

    def test_a_failed_transaction_leaves_nothing(self, engine: Engine) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with pytest.raises(Boom):
            self._insert_then_fail(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


SQLITE_SYNCHRONOUS_NORMAL = 1


def _synchronous(session: Session) -> int:
    return int(session.connection().exec_driver_sql("PRAGMA synchronous").scalar_one())


def _in_a_transaction(session: Session, work: Callable[[Session], int]) -> int:
    with session.begin():
        return work(session)


class TestGroupCommit:
    """WalFlush: one fsync covers every commit made before it started, never one made
    while it ran."""

    def test_callers_during_a_flush_wait_for_the_next_one_and_share_it(
        self, tmp_path: Path
    ) -> None:
        database = tmp_path / "group.db"
        database.write_bytes(b"")
        release = threading.Event()
        started: list[int] = []

        class Slow(WalFlush):
            def _fsync(self) -> None:
                started.append(self._taken)
                if len(started) == 1:
                    release.wait(10)
                super()._fsync()

        flush = Slow(database)

        async def scenario() -> list[str]:
            order: list[str] = []

            async def caller(name: str) -> None:
                await flush.flushed()
                order.append(name)

            first = asyncio.create_task(caller("first"))
            while not started:  # the first fsync is running, and blocked
                await asyncio.sleep(0.001)
            later = [asyncio.create_task(caller(f"later {i}")) for i in range(5)]
            await asyncio.sleep(0.05)
            assert order == []  # the running fsync started before their commits
            release.set()
            await asyncio.gather(first, *later)
            return order

        order = asyncio.run(scenario())
        assert order[0] == "first"
        assert sorted(order[1:]) == [f"later {i}" for i in range(5)]
        # One fsync for the first caller, one for the five that came during it.
        assert started == [1, 6]

    def test_a_missing_log_flushes_the_database_file(self, tmp_path: Path) -> None:
        database = tmp_path / "alone.db"
        database.write_bytes(b"")
        asyncio.run(WalFlush(database).flushed())  # no -wal file: no error
