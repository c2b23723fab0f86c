"""Housekeeping: event expiry across committed batches, the scheduled retention jobs and
their leases; hashing in chunks, human-readable sizes."""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from filewallball import maintenance
from filewallball.database import Database
from filewallball.hashing import sha256_of_file, sha256_of_stream
from filewallball.maintenance import (
    JOB_INTERVAL,
    JOB_LEASE,
    JOBS,
    RETRY_AFTER,
    purge_old_events,
    run_due_jobs,
)
from filewallball.models import FileInfo, FileView, HousekeepingJob, utcnow
from filewallball.operations import files
from filewallball.operations.database_size import database_size
from filewallball.operations.housekeeping import claim_job, finish_job
from filewallball.storage import BlobStore, LocalBlobStore
from filewallball.units import human_size
from tests import factories


@pytest.fixture
def fresh(migrated: Engine) -> Database:
    return Database(migrated, sessionmaker(migrated, expire_on_commit=False))


def test_purge_old_events_commits_batch_by_batch(fresh: Database) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with fresh.transaction() as session:
        file = files.create_file(session, factories.spec())
        session.add_all(
            FileView(file_id=file.id, created_at=now - timedelta(days=d)) for d in range(25)
        )
    batches: list[int] = []
    sa.event.listen(fresh.engine, "commit", lambda _conn: batches.append(1))
    expired = purge_old_events(fresh, timedelta(days=10), batch_size=4, now=now)
    assert (expired.events, expired.complete) == (14, True)  # days 11..24
    assert len(batches) == 4  # 4 + 4 + 4 + 2: a short batch was the last
    with fresh.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(FileView)) == 11


def _stored(store: BlobStore, content: bytes) -> files.FileSpec:
    with store.stage() as staged:
        staged.write(content)
        staged.finish()
        store.place(staged)
    return factories.spec(content=content)


def test_retention_runs_with_no_manual_step(fresh: Database, tmp_path: Path) -> None:
    """What the service's schedule runs: the trash and the events past their retention
    (trash_retention_days 30, log_retention_days 90, as seeded) go, the rest stays."""
    store = LocalBlobStore(tmp_path / "blobs")
    now = utcnow()
    with fresh.transaction() as session:
        old = files.create_file(session, _stored(store, b"deleted 31 days ago"))
        recent = files.create_file(session, factories.spec())
        old.is_deleted, old.deleted_at = True, now - timedelta(days=31)
        recent.is_deleted, recent.deleted_at = True, now - timedelta(days=29)
        session.add_all(
            FileView(file_id=recent.id, created_at=now - timedelta(days=days))
            for days in (1, 89, 91, 365)
        )
        old_id, old_hash, recent_id = old.id, old.file_hash, recent.id
    ran = run_due_jobs(fresh, store, "worker", now=now)
    assert ran == {
        "expire_events": "2 events older than 90 days deleted",
        "purge_trash": "1 files deleted more than 30 days ago purged, "
        "1 contents (19 bytes) removed",
    }
    with fresh.transaction() as session:
        left = set(
            session.scalars(sa.select(FileInfo.id).where(FileInfo.id.in_([old_id, recent_id])))
        )
        assert left == {recent_id}
        assert session.scalar(sa.select(sa.func.count()).select_from(FileView)) == 2
    assert store.stat(old_hash) is None


def test_due_jobs_run_once_whichever_worker_looks(fresh: Database, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert set(run_due_jobs(fresh, store, "worker-a", now=now)) == set(JOBS)
    assert run_due_jobs(fresh, store, "worker-a", now=now) == {}
    assert run_due_jobs(fresh, store, "worker-b", now=now + JOB_INTERVAL / 2) == {}
    assert set(run_due_jobs(fresh, store, "worker-b", now=now + JOB_INTERVAL)) == set(JOBS)


def test_a_job_stopped_at_its_bound_goes_on_at_the_next_check(
    fresh: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "SCHEDULED_BATCHES", 1)
    monkeypatch.setattr(maintenance, "EVENTS_BATCH", 2)
    now = utcnow()
    with fresh.transaction() as session:
        file = files.create_file(session, factories.spec())
        session.add_all(
            FileView(file_id=file.id, created_at=now - timedelta(days=100)) for _ in range(3)
        )
    store = LocalBlobStore(tmp_path / "blobs")
    assert run_due_jobs(fresh, store, "worker", now=now)["expire_events"].startswith("2 events")
    assert run_due_jobs(fresh, store, "worker", now=now)["expire_events"].startswith("1 events")
    assert "expire_events" not in run_due_jobs(fresh, store, "worker", now=now)


def test_a_failing_job_is_retried_later_and_the_others_still_run(
    fresh: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> tuple[str, bool]:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(JOBS, "expire_events", broken)
    store = LocalBlobStore(tmp_path / "blobs")
    now = datetime(2030, 1, 1, tzinfo=UTC)
    ran = run_due_jobs(fresh, store, "worker", now=now)
    assert ran["expire_events"] == "failed: disk on fire"
    assert ran["purge_trash"].startswith("0 files")
    assert run_due_jobs(fresh, store, "worker", now=now + RETRY_AFTER / 2) == {}
    assert set(run_due_jobs(fresh, store, "worker", now=now + RETRY_AFTER)) == {"expire_events"}


def test_a_lease_that_ran_out_is_taken_over(fresh: Database) -> None:
    """A worker that died holding a lease holds it until it runs out; when it comes back
    it cannot hand back what another worker took."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with fresh.transaction() as session:
        assert claim_job(session, "job", "a", now=now, hold_for=JOB_LEASE)
    with fresh.transaction() as session:
        assert not claim_job(session, "job", "b", now=now + JOB_LEASE / 2, hold_for=JOB_LEASE)
    with fresh.transaction() as session:
        assert claim_job(session, "job", "b", now=now + JOB_LEASE, hold_for=JOB_LEASE)
    with fresh.transaction() as session:
        assert not finish_job(session, "job", "a", now=now, next_run_at=now, result="late")
        assert finish_job(session, "job", "b", now=now, next_run_at=now, result="done")
        [row] = session.scalars(sa.select(HousekeepingJob).where(HousekeepingJob.job == "job"))
        assert (row.held_by, row.held_until, row.last_result) == (None, None, "done")


def test_of_many_workers_claiming_at_once_exactly_one_gets_the_lease(fresh: Database) -> None:
    """Six threads claim one job at the same moment, each time it is due."""
    for round_number in range(8):
        moment = utcnow() + round_number * JOB_INTERVAL
        start = threading.Barrier(6)
        won: list[str] = []

        def claim(
            holder: str,
            moment: datetime = moment,
            start: threading.Barrier = start,
            won: list[str] = won,
        ) -> None:
            start.wait()
            with fresh.transaction() as session:
                if claim_job(session, "purge_trash", holder, now=moment, hold_for=JOB_LEASE):
                    won.append(holder)

        threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(won) == 1, won
        with fresh.transaction() as session:
            next_run = moment + JOB_INTERVAL
            finish_job(session, "purge_trash", won[0], now=moment, next_run_at=next_run, result="")


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
