"""Blob rows: the lock that orders uploads and releases of one content."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.database import Database
from filewallball.models import Blob, FileInfo, utcnow
from filewallball.operations import blobs, files
from filewallball.operations.clients import Client
from filewallball.storage import BlobStore
from filewallball.uploading import CommandRunner, Upload
from tests.stores import content_of, staged_anywhere

T = TypeVar("T")


def _at_once(count: int, work: object) -> list[BaseException]:
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)  # type: ignore[operator]
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _upload(database: Database, store: BlobStore, name: str, content: bytes) -> None:
    async def upload() -> None:
        async with Upload(CommandRunner(database), store, Client()) as upload:
            await upload.start(name)
            await upload.write(content)
            await upload.finish(lambda _session, completed: completed)

    asyncio.run(upload())


def test_many_uploads_of_one_new_content_at_once(migrated: Engine, store: BlobStore) -> None:
    """Eight transactions create the same new blob row at the same moment: all succeed
    (on MariaDB, insert-then-lock deadlocked from three on), one row, one blob."""
    sessions = sessionmaker(migrated, expire_on_commit=False)
    database = Database(migrated, sessions)
    content_hashes = []
    for _ in range(3):
        content = os.urandom(1000)
        content_hash = hashlib.sha256(content).hexdigest()
        content_hashes.append(content_hash)

        def upload(index: int, content: bytes = content) -> None:
            _upload(database, store, f"same-{index}.txt", content)

        assert _at_once(8, upload) == []
        with sessions() as session:
            assert (
                session.scalar(sa.select(sa.func.count()).where(FileInfo.file_hash == content_hash))
                == 8
            )
            [blob] = session.scalars(sa.select(Blob).where(Blob.content_hash == content_hash))
            assert blob.size == 1000
        assert content_of(store, content_hash) == content
    assert list(store) == sorted(content_hashes)  # one blob per content
    assert staged_anywhere(store) == []


def test_release_keeps_referenced_content(session: Session, store: BlobStore) -> None:
    with store.stage() as staged:
        staged.write(b"shared")
        content_hash = staged.finish()
        blobs.lock_blob(session, content_hash, 6)
        store.place(staged)
    spec = files.FileSpec(
        original_filename="a.txt", file_size=6, file_hash=content_hash, storage_path="x"
    )
    first, second = files.create_file(session, spec), files.create_file(session, spec)

    files.soft_delete_file(session, first.file_uuid)
    assert (
        files.delete_for_good(session, [first], deleted_before=utcnow() + timedelta(seconds=1)) == 1
    )
    assert blobs.release_blob(session, store, content_hash) is False
    assert store.stat(content_hash) is not None

    files.soft_delete_file(session, second.file_uuid)  # soft-deleted rows still need it
    assert blobs.release_blob(session, store, content_hash) is False

    assert (
        files.delete_for_good(session, [second], deleted_before=utcnow() + timedelta(seconds=1))
        == 1
    )
    assert blobs.release_blob(session, store, content_hash) is True
    assert store.stat(content_hash) is None
    assert session.scalars(sa.select(Blob).where(Blob.content_hash == content_hash)).all() == []


def test_a_purge_racing_an_upload_never_removes_the_blob_it_needs(
    migrated: Engine, store: BlobStore
) -> None:
    sessions = sessionmaker(migrated, expire_on_commit=False)
    database = Database(migrated, sessions)

    for round_number in range(15):
        content = os.urandom(500)
        content_hash = hashlib.sha256(content).hexdigest()
        _upload(database, store, f"old-{round_number}.txt", content)
        with sessions.begin() as session:  # the old row is purged: the blob is now litter
            [row] = session.scalars(sa.select(FileInfo).where(FileInfo.file_hash == content_hash))
            files.soft_delete_file(session, row.file_uuid)
            files.delete_for_good(session, [row], deleted_before=utcnow() + timedelta(seconds=1))

        def race(
            index: int,
            content: bytes = content,
            content_hash: str = content_hash,
            n: int = round_number,
        ) -> None:
            if index == 0:
                with sessions.begin() as session:
                    blobs.release_blob(session, store, content_hash)
            else:
                _upload(database, store, f"new-{n}.txt", content)

        assert _at_once(2, race) == []
        with sessions() as session:
            named = session.scalar(
                sa.select(sa.func.count()).where(FileInfo.file_hash == content_hash)
            )
        assert named == 1
        assert content_of(store, content_hash) == content  # the new row's blob is there


class ReleasingRunner(CommandRunner):
    """Runs a release of ``content_hash`` just before the transaction that completes the
    upload: after its blob was placed, before its blob row is locked."""

    def __init__(self, database: Database, store: BlobStore, content_hash: str) -> None:
        super().__init__(database)
        self.store = store
        self.content_hash = content_hash
        self.transactions = 0
        self.released: list[bool] = []

    async def run(self, work: Callable[[Session], T]) -> T:
        self.transactions += 1
        if self.transactions == 2:  # the first began the upload
            assert self.store.stat(self.content_hash) is not None  # placed already
            with self.database.transaction() as session:
                self.released.append(blobs.release_blob(session, self.store, self.content_hash))
        return await super().run(work)


def test_a_release_between_placing_and_locking_is_repaired_under_the_lock(
    migrated: Engine, store: BlobStore
) -> None:
    """The blob an upload placed before its transaction is removed by a release of the
    same content (its last row purged) before the upload locks the blob row: the upload
    places it again, so its row never lacks its blob."""
    database = Database(migrated, sessionmaker(migrated, expire_on_commit=False))
    content = os.urandom(700)
    content_hash = hashlib.sha256(content).hexdigest()
    runner = ReleasingRunner(database, store, content_hash)

    async def upload() -> None:
        async with Upload(runner, store, Client()) as upload:
            await upload.start("raced.txt")
            await upload.write(content)
            await upload.finish(lambda _session, completed: completed)

    asyncio.run(upload())
    assert runner.released == [True]  # the release did remove the placed blob
    with database.transaction() as session:
        [row] = session.scalars(sa.select(FileInfo).where(FileInfo.file_hash == content_hash))
        [blob] = session.scalars(sa.select(Blob).where(Blob.content_hash == content_hash))
        assert (row.file_size, blob.size, blob.status) == (700, 700, "ok")
    assert content_of(store, content_hash) == content
    assert staged_anywhere(store) == []
