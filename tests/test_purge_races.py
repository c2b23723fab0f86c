"""The trash purge racing restores: a file answered as restored is never purged, and a
restore of a file purged under it is NotFound (404), never an error of the database."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from filewallball.database import Database
from filewallball.errors import NotFound
from filewallball.maintenance import purge_trash
from filewallball.models import FileInfo, utcnow
from filewallball.operations import files
from filewallball.storage import LocalBlobStore
from tests import factories

SERVERS = pytest.mark.parametrize(
    "server",
    [
        pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
        pytest.param("postgresql", marks=pytest.mark.postgresql, id="postgresql"),
    ],
    indirect=True,
)
RETENTION = timedelta(days=1)


@pytest.fixture
def fresh(migrated: Engine) -> Database:
    return Database(migrated, sessionmaker(migrated, expire_on_commit=False))


def _trash(database: Database, count: int) -> list[str]:
    """``count`` files deleted two days ago, past the retention of one day."""
    with database.transaction() as session:
        made = [files.create_file(session, factories.spec()) for _ in range(count)]
        for file in made:
            file.is_deleted, file.deleted_at = True, utcnow() - 2 * RETENTION
        return [file.file_uuid for file in made]


def _live(database: Database, uuids: list[str]) -> set[str]:
    with database.transaction() as session:
        found = session.scalars(
            sa.select(FileInfo.file_uuid).where(
                FileInfo.file_uuid.in_(uuids), FileInfo.is_deleted == sa.false()
            )
        )
        return set(found)


@SERVERS
def test_a_file_restored_after_the_purge_read_it_is_not_purged(fresh: Database) -> None:
    """The purge reads its batch, a restore commits, then the purge deletes the batch."""
    [file_uuid] = _trash(fresh, 1)
    with fresh.transaction() as purging:
        batch = files.purge_candidates(purging, RETENTION, limit=10_000)
        assert file_uuid in {file.file_uuid for file in batch}
        with fresh.transaction() as restoring:
            files.restore_file(restoring, file_uuid)
        deleted = files.delete_for_good(purging, batch, deleted_before=utcnow() - RETENTION)
    assert _live(fresh, [file_uuid]) == {file_uuid}
    assert deleted == len(batch) - 1


@SERVERS
def test_no_file_answered_as_restored_is_ever_purged(fresh: Database, tmp_path: Path) -> None:
    """Rounds of one purge (small batches, so that it runs a while) against four threads
    restoring the same trash in random orders. Every restore that committed must leave
    a live file; every other must be NotFound."""
    store = LocalBlobStore(tmp_path / "blobs")
    rng = random.Random(10)
    restored: set[str] = set()
    refused: list[BaseException] = []
    lock = threading.Lock()
    purged = 0
    for _ in range(5):
        uuids = _trash(fresh, 30)
        start = threading.Barrier(5)

        def purge(start: threading.Barrier = start) -> None:
            nonlocal purged
            start.wait()
            purged += purge_trash(fresh, store, RETENTION, batch_size=4).files

        def restore(mine: list[str], start: threading.Barrier = start) -> None:
            start.wait()
            for file_uuid in mine:
                try:
                    with fresh.transaction() as session:
                        files.restore_file(session, file_uuid)
                except NotFound:
                    continue
                except BaseException as error:  # reported by the main thread
                    with lock:
                        refused.append(error)
                    continue
                with lock:
                    restored.add(file_uuid)

        shuffled = rng.sample(uuids, len(uuids))
        threads = [threading.Thread(target=purge)] + [
            threading.Thread(target=restore, args=(shuffled[part::4],)) for part in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert restored - _live(fresh, sorted(restored)) == set()  # none lost
    assert refused == []
    assert restored  # the restores won some races...
    assert purged  # ...and the purge others
