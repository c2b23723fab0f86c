"""Event expiry across committed batches, hashing in chunks, human-readable sizes."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from filewallball.database import Database
from filewallball.hashing import sha256_of_file, sha256_of_stream
from filewallball.maintenance import purge_old_events
from filewallball.models import FileView
from filewallball.operations import files
from filewallball.operations.database_size import database_size
from filewallball.units import human_size
from tests import factories


@pytest.fixture
def fresh(migrated: Engine) -> Database:
    return Database(migrated, sessionmaker(migrated))


def test_purge_old_events_commits_batch_by_batch(fresh: Database) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with fresh.transaction() as session:
        file = files.create_file(session, factories.spec())
        session.add_all(
            FileView(file_id=file.id, created_at=now - timedelta(days=d)) for d in range(25)
        )
    batches: list[int] = []
    sa.event.listen(fresh.engine, "commit", lambda _conn: batches.append(1))
    assert purge_old_events(fresh, timedelta(days=10), batch_size=4, now=now) == 14  # days 11..24
    assert len(batches) == 5  # 4 + 4 + 4 + 2, then an empty batch
    with fresh.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(FileView)) == 11


def test_database_size_lists_every_table(fresh: Database) -> None:
    with fresh.transaction() as session:
        files.bulk_insert_files(session, [factories.spec() for _ in range(300)])
    if fresh.engine.dialect.name != "sqlite":  # let the catalogs catch up
        with fresh.engine.begin() as connection:
            connection.exec_driver_sql(
                "ANALYZE TABLE files"
                if fresh.engine.dialect.name in ("mysql", "mariadb")
                else "ANALYZE files"
            )
    with fresh.transaction() as session:
        sizes = {size.table: size for size in database_size(session)}
    assert "files" in sizes
    assert "file_views" in sizes
    assert (
        sizes["files"].rows == 300
        if fresh.engine.dialect.name == "sqlite"
        else sizes["files"].rows > 0
    )
    assert sizes["files"].data_bytes > 0
    assert sizes["files"].index_bytes > 0


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=4096))
def test_stream_hash_matches_hashlib(content: bytes, chunk: int) -> None:
    assert sha256_of_stream(io.BytesIO(content), chunk_size=chunk) == (
        hashlib.sha256(content).hexdigest(),
        len(content),
    )


def test_file_hash_reads_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x01" * (3 * 1024 * 1024 + 17))
    reads: list[int] = []

    class Recording(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return super().read(size)

    with Recording(path) as stream:
        digest, size = sha256_of_stream(stream)  # type: ignore[arg-type]
    assert (digest, size) == sha256_of_file(path)
    assert size == 3 * 1024 * 1024 + 17
    assert max(reads) == 1024 * 1024
    assert len(reads) == 5  # four chunks and the empty read at the end


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (10 * 1024**2, "10 MiB"),
        (int(1.5 * 1024**3), "1.5 GiB"),
        (1024**2 - 1, "1 MiB"),
        (2**63 - 1, "8 EiB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_human_size_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        human_size(-1)
