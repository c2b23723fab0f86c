"""Fixtures: every data-layer test runs once per database (sqlite, mariadb, postgresql);
the HTTP tests run on SQLite unless they say otherwise (tests/api/conftest.py).

Select with markers: ``pytest -m mariadb``, ``pytest -m "not postgresql"``, and leave
the slow tests out with ``-m "not slow"``.
The schema is built by the Alembic migrations once per database per run; each test runs
inside a transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.database import Database, create_database_engine, get_database
from filewallball.migrations import alembic_config
from filewallball.settings import Settings, get_settings
from filewallball.storage import BlobStore, LocalBlobStore, open_store
from tests.servers import DIALECTS, Server, on_database, require_server, settings_for

pytest_plugins = ["tests.cli_installation", "tests.ceph"]

# Property tests judge answers, not speed (a loaded machine is no failure), and keep no
# example database in the working directory.
hypothesis.settings.register_profile("filewallball", deadline=None, database=None)
hypothesis.settings.load_profile("filewallball")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's FILEWALLBALL_* variables, .env file or cached settings,
    or writes into their data directory (the default one is under XDG_DATA_HOME)."""
    for key in list(os.environ):
        if key.startswith("FILEWALLBALL_") and not key.startswith("FILEWALLBALL_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    if get_database.cache_info().currsize:
        get_database().dispose()
        get_database.cache_clear()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.ceph)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A blob store on each kind of storage: the local directory, and a bucket on the
    run's Ceph (under a prefix, as an operator sharing a bucket would set it)."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(Settings(storage_url=f"s3://{bucket}/filewallball/blobs"))


def database_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    """The body of every ``server`` fixture: the dialect is the request's parameter."""
    require_server(request.param)
    return Server(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="session", params=[on_database(d) for d in DIALECTS])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return database_server(request, tmp_path_factory)


@pytest.fixture
def scratch_url(server: Server) -> Iterator[URL]:
    """A new, empty database for a test that changes the schema itself."""
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def scratch_engine(scratch_url: URL) -> Iterator[Engine]:
    engine = create_database_engine(settings_for(scratch_url))
    yield engine
    engine.dispose()


def upgrade(engine: Engine) -> Engine:
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
    return engine


@pytest.fixture
def migrated(scratch_engine: Engine) -> Engine:
    """A database of its own at head, for tests that commit (threads, batches)."""
    return upgrade(scratch_engine)


@pytest.fixture(scope="session")
def engine(server: Server) -> Iterator[Engine]:
    """An engine on a database migrated to head, shared by the run's tests on that dialect."""
    url = server.create_database()
    engine = upgrade(create_database_engine(settings_for(url, pool_size=5, max_overflow=5)))
    yield engine
    engine.dispose()
    server.drop_database(url)


@pytest.fixture
def dialect(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def connection(engine: Engine) -> Iterator[sa.Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def sessions(connection: sa.Connection) -> sessionmaker[Session]:
    """Sessions whose commits become savepoints of the test's rolled-back transaction."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint")


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for operations, which must never commit: the caller owns the transaction."""

    def refuse(session: Session) -> None:
        if not session.in_nested_transaction():  # releasing a SAVEPOINT is fine
            raise AssertionError("an operation committed: only the edge (request, command) may")

    with sessions() as session:
        event.listen(session, "before_commit", refuse)
        yield session


@pytest.fixture
def database(engine: Engine, sessions: sessionmaker[Session]) -> Database:
    return Database(engine, sessions)
