"""The production pool on MariaDB: settings reach the engine, and dead connections heal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from filewallball.database import create_database_engine
from filewallball.migrations import alembic_config
from filewallball.models import utcnow
from filewallball.operations import files
from filewallball.operations.database_size import database_size
from filewallball.settings import Settings
from tests import factories
from tests.servers import ADMIN_URLS, require_server

pytestmark = pytest.mark.mariadb

MakeEngine = Callable[..., Engine]


@pytest.fixture(scope="module")
def url() -> URL:
    require_server("mariadb")
    return make_url(ADMIN_URLS["mariadb"])


@pytest.fixture
def make_engine(url: URL) -> Iterator[MakeEngine]:
    engines: list[Engine] = []

    def make(**settings: Any) -> Engine:
        engine = create_database_engine(
            Settings(database_url=url.render_as_string(hide_password=False), **settings)
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def _pool(engine: Engine) -> QueuePool:
    assert isinstance(engine.pool, QueuePool)
    return engine.pool


def test_the_spec_defaults_reach_the_engine(make_engine: MakeEngine) -> None:
    pool = _pool(make_engine())
    assert (pool.size(), pool._max_overflow, pool._recycle, pool._pre_ping) == (20, 30, 3600, True)


def test_environment_overrides_reach_the_engine(monkeypatch: pytest.MonkeyPatch, url: URL) -> None:
    monkeypatch.setenv("FILEWALLBALL_DATABASE_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv("FILEWALLBALL_POOL_SIZE", "7")
    monkeypatch.setenv("FILEWALLBALL_MAX_OVERFLOW", "3")
    monkeypatch.setenv("FILEWALLBALL_POOL_RECYCLE", "120")
    monkeypatch.setenv("FILEWALLBALL_POOL_PRE_PING", "false")
    engine = create_database_engine(Settings())
    try:
        pool = _pool(engine)
        assert (pool.size(), pool._max_overflow, pool._recycle, pool._pre_ping) == (
            7,
            3,
            120,
            False,
        )
    finally:
        engine.dispose()


def test_pool_size_plus_overflow_is_the_ceiling(make_engine: MakeEngine) -> None:
    engine = make_engine(pool_size=2, max_overflow=1, pool_timeout=0.3)
    held = [engine.connect() for _ in range(3)]
    try:
        assert _pool(engine).checkedout() == 3
        with pytest.raises(PoolTimeout):
            engine.connect()
    finally:
        for connection in held:
            connection.close()


def test_connections_speak_utf8mb4_in_utc(make_engine: MakeEngine) -> None:
    with make_engine().connect() as connection:
        charset, zone = connection.execute(
            sa.text("SELECT @@character_set_client, @@time_zone")
        ).one()
    assert (charset, zone) == ("utf8mb4", "+00:00")


def _kill_pooled_connection(engine: Engine, url: URL) -> int:
    with engine.connect() as connection:
        victim = int(connection.scalar(sa.text("SELECT CONNECTION_ID()")) or 0)
    admin = sa.create_engine(url, poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f"KILL CONNECTION {victim}"))
    return victim


def test_pre_ping_replaces_a_killed_connection(make_engine: MakeEngine, url: URL) -> None:
    engine = make_engine(pool_size=1, max_overflow=0)
    victim = _kill_pooled_connection(engine, url)
    with engine.connect() as connection:
        survivor = connection.scalar(sa.text("SELECT CONNECTION_ID()"))
    assert survivor != victim


def test_without_pre_ping_the_killed_connection_fails(make_engine: MakeEngine, url: URL) -> None:
    """The control for the test above: the kill really breaks a pooled connection."""
    engine = make_engine(pool_size=1, max_overflow=0, pool_pre_ping=False)
    _kill_pooled_connection(engine, url)
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def test_the_mariadb_dialect_name_works_too(url: URL) -> None:
    """``mariadb+pymysql://`` selects SQLAlchemy's MariaDB dialect, named "mariadb": every
    place that checks for MariaDB must accept both names."""
    admin = sa.create_engine(url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("DROP DATABASE IF EXISTS fwb_test_mariadb_dialect")
        connection.exec_driver_sql("CREATE DATABASE fwb_test_mariadb_dialect")
    mariadb_url = url.set(drivername="mariadb+pymysql", database="fwb_test_mariadb_dialect")
    engine = create_database_engine(Settings(database_url=mariadb_url.render_as_string(False)))
    try:
        assert engine.dialect.name == "mariadb"
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
            command.check(alembic_config(connection))
        with Session(engine) as session:
            file = files.create_file(session, factories.spec(created_at=utcnow()))
            session.add(factories.setting(setting_type="yaml"))
            with pytest.raises(IntegrityError):  # CHECK violations are IntegrityErrors here too
                session.flush()
            session.rollback()
            assert file.file_uuid
            assert {size.table for size in database_size(session)} >= {"files", "file_tags"}
            with engine.connect() as connection:
                created = connection.execute(
                    sa.text(
                        "SELECT DATA_TYPE, DATETIME_PRECISION, COLLATION_NAME FROM"
                        " information_schema.columns WHERE table_schema = DATABASE()"
                        " AND table_name = 'files' AND column_name IN ('created_at', 'file_hash')"
                        " ORDER BY column_name"
                    )
                ).all()
            assert [tuple(row) for row in created] == [
                ("datetime", 6, None),
                ("varchar", None, "utf8mb4_bin"),
            ]
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql("DROP DATABASE IF EXISTS fwb_test_mariadb_dialect")
