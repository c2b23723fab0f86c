"""SQLite's write-ahead log stays small: the service empties it when it can, and a log
that grew while readers held it is cut back, so that a crash of the service leaves
little for the next command to replay."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.database import WAL_SIZE_LIMIT, AsyncDatabase, create_database_engine
from filewallball.models import FileCategory
from filewallball.settings import Settings
from tests import factories
from tests.conftest import upgrade

ROW = "x" * 64 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    upgrade(create_database_engine(settings)).dispose()
    return settings


@pytest.fixture
def log(settings: Settings) -> Path:
    assert settings.sqlite_path is not None
    return settings.sqlite_path.with_name(settings.sqlite_path.name + "-wal")


@pytest.fixture
def reader(settings: Settings) -> Iterator[sqlite3.Connection]:
    """A connection whose read transaction holds its place in the log while it lasts."""
    connection = sqlite3.connect(str(settings.sqlite_path), isolation_level=None)
    connection.execute("BEGIN")
    connection.execute("SELECT count(*) FROM file_categories").fetchall()
    yield connection
    connection.close()


def add_categories(session: Session, first: int, count: int) -> None:
    session.add_all(factories.category(name=f"c{n}") for n in range(first, first + count))


def write_then_checkpoint(service: AsyncDatabase, log: Path, commits: int) -> tuple[int, int]:
    """Commits through the service, then its checkpoint: the categories there are and
    the size of the log (before the service closes its connections, the last of which
    would remove the log)."""

    async def work() -> tuple[int, int]:
        try:
            for n in range(commits):
                await service.run(add_categories, n * 10, 10)
            await service.checkpoint()
            count = await service.read(
                lambda session: session.scalar(sa.select(sa.func.count(FileCategory.id)))
            )
            return count or 0, log.stat().st_size
        finally:
            await service.dispose()

    return asyncio.run(work())


def test_the_service_checkpoint_empties_the_log_after_many_writes(
    settings: Settings, log: Path
) -> None:
    before, _ = write_then_checkpoint(AsyncDatabase.from_settings(settings), log, 0)
    after, size = write_then_checkpoint(AsyncDatabase.from_settings(settings), log, 200)
    assert (after, size) == (before + 2000, 0)


def test_a_reader_keeps_the_log_until_it_ends_then_the_next_checkpoint_empties_it(
    settings: Settings, log: Path, reader: sqlite3.Connection
) -> None:
    _, size = write_then_checkpoint(AsyncDatabase.from_settings(settings), log, 50)
    assert size > 0  # the checkpoint gave up waiting for the reader
    reader.execute("COMMIT")
    _, size = write_then_checkpoint(AsyncDatabase.from_settings(settings), log, 0)
    assert size == 0


def test_a_log_that_grew_past_the_limit_is_cut_back_once_sqlite_starts_it_again(
    settings: Settings, log: Path, reader: sqlite3.Connection
) -> None:
    """Without the service's checkpoint: every connection limits the log it leaves. (The
    reader keeps the log from being removed when the engine closes.)"""
    reader.execute("COMMIT")
    engine = create_database_engine(settings)
    try:
        with engine.begin() as connection:  # one transaction: the log holds all of it
            connection.exec_driver_sql("CREATE TABLE padding (x TEXT)")
            connection.exec_driver_sql(
                "INSERT INTO padding VALUES (?)", [(ROW,)] * (2 * WAL_SIZE_LIMIT // len(ROW))
            )
        assert log.stat().st_size > WAL_SIZE_LIMIT
        with engine.begin() as connection:  # after SQLite's checkpoint of that commit,
            connection.exec_driver_sql("INSERT INTO padding VALUES ('')")  # the log restarts
        assert log.stat().st_size <= WAL_SIZE_LIMIT
    finally:
        engine.dispose()
