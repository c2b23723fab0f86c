"""One upload, from its first byte to its file row, for every edge that takes files: the
HTTP routes feed it a request's chunks from the event loop, ``filewallball upload`` a
file's.

It runs the three transactions of ``operations.uploads`` around the transfer, each
through the edge's ``Runner``, and it is the one place that holds an upload's size limit
(the chunk that crosses it is refused before any of it is written) and the first
``SNIFF_BYTES`` of its content (checked before the first byte is written). Leaving its
``async with`` block any other way than through ``finish`` (an error, a refused type, a
client gone) discards the staged blob and records the failure, once.

The event loop only moves bytes; hashing and writing happen in a worker thread, a batch
at a time, so a large upload neither blocks other requests nor grows memory. The two
overlap: while the thread hashes and writes one batch, the event loop receives the next
(done one after the other, they took the time of both). So at most two batches per
upload are held, and the server reads the socket only as we ask for more, so a fast
client waits instead of filling memory. The event loop does not copy the chunks into a
batch; the thread joins them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session

from filewallball.database import Database
from filewallball.errors import FileWallBallError, TooLarge
from filewallball.operations.clients import Client
from filewallball.operations.uploads import (
    Completed,
    UploadPlan,
    begin_upload,
    check_upload,
    complete_upload,
    fail_upload,
)
from filewallball.sniffing import SNIFF_BYTES
from filewallball.storage import BlobStore, StagedBlob

log = logging.getLogger("filewallball.uploading")
BATCH_BYTES = 1024 * 1024
T = TypeVar("T")


class Runner(Protocol):
    """How an edge runs an upload's transactions."""

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction, committed when it returns."""

    def retry_later(self, work: Callable[[Session], object], what: str) -> None:
        """Run ``work`` once the database answers again: the clean-up of an upload that
        failed because the database was gone."""


@dataclass(frozen=True)
class CommandRunner:
    """The runner of a command: each transaction on its ``Database``, in its thread. The
    command's event loop has nothing else to do meanwhile."""

    database: Database

    async def run(self, work: Callable[[Session], T]) -> T:
        with self.database.transaction() as session:
            return work(session)

    def retry_later(self, work: Callable[[Session], object], what: str) -> None:
        log.warning("gave up on %s: `filewallball fsck` finds what is left", what)


class Upload:
    """One upload. ``start`` checks it and records the attempt; ``write`` takes its
    bytes; ``finish`` places the blob and writes the file row. With ``record_refusals``
    an attempt that ``start`` refuses is recorded too, as failed (the service keeps who
    tried what; a command's refusals are on its user's screen)."""

    def __init__(
        self, runner: Runner, store: BlobStore, client: Client, *, record_refusals: bool = False
    ) -> None:
        self.runner = runner
        self.store = store
        self.client = client
        self.record_refusals = record_refusals
        self.plan: UploadPlan | None = None
        self.upload_id: int | None = None
        self.staged: StagedBlob | None = None
        self.received = 0
        self.completed = False
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._head = b""  # what the content check sees
        self._writing: asyncio.Task[None] | None = None  # the batch in the worker thread
        self._checked = False

    async def start(
        self,
        filename: str,
        *,
        tags: Sequence[str] = (),
        category: str | None = None,
        is_public: bool = True,
        folder: str = "",
        replace: bool = False,
        declared_size: int | None = None,
    ) -> UploadPlan:
        client = self.client

        def begin(session: Session) -> tuple[UploadPlan, int]:
            plan = check_upload(
                session,
                filename,
                tags=tags,
                category=category,
                is_public=is_public,
                owner_id=client.user_id,
                folder=folder,
                replace=replace,
            )
            return plan, begin_upload(session, client)

        try:
            plan, self.upload_id = await self.runner.run(begin)
        except FileWallBallError:
            if self.record_refusals:
                await self._record_refusal()
            raise
        self.plan = plan
        if declared_size is not None and declared_size > plan.limit:
            raise TooLarge(plan.limit)  # refused before a byte is stored
        self.staged = await anyio.to_thread.run_sync(self.store.stage)
        return plan

    async def write(self, data: bytes) -> None:
        if self.plan is None:
            raise RuntimeError("start() the upload first")
        self.received += len(data)
        if self.received > self.plan.limit:
            raise TooLarge(self.plan.limit)  # as soon as the limit is crossed
        if len(self._head) < SNIFF_BYTES:
            self._head += data[: SNIFF_BYTES - len(self._head)]
        self._batch.append(data)
        self._batch_bytes += len(data)
        if self._batch_bytes >= BATCH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        """Hand the batch to the worker thread once it has written the previous one."""
        assert self.staged is not None
        assert self.plan is not None
        await self._written()
        if not self._checked and len(self._head) >= SNIFF_BYTES:
            self.plan.check_content(self._head)  # before the first byte is written
            self._checked = True
        if self._batch:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            writing = anyio.to_thread.run_sync(_write, self.staged, batch)
            self._writing = asyncio.get_running_loop().create_task(writing)

    async def _written(self) -> None:
        """Wait for the worker thread's batch; its error (a full disk) is raised here.
        Shielded: a cancelled request still waits here, on its way out, until the thread
        is done with the file."""
        if self._writing is not None:
            await asyncio.shield(self._writing)
            self._writing = None

    async def finish(
        self,
        answer: Callable[[Session, Completed], T],
        *,
        tags: Sequence[str] | None = None,
        category: str | None = None,
        is_public: bool | None = None,
        folder: str | None = None,
        replace: bool | None = None,
    ) -> T:
        """Place the blob and write the row; ``answer`` turns the new file into the
        edge's answer in the same transaction. Form fields that arrived after the file
        part of a multipart body are given here, and checked like the others."""
        plan, staged, upload_id, store = self.plan, self.staged, self.upload_id, self.store
        if plan is None or staged is None or upload_id is None:
            raise RuntimeError("start() the upload first")
        if not self._checked:
            plan.check_content(self._head)
            self._checked = True
        await self._flush()
        await self._written()
        await anyio.to_thread.run_sync(_finish_and_place, staged, store)

        def complete(session: Session) -> T:
            final = plan
            late = (tags, category, is_public, folder, replace)
            if any(value is not None for value in late):
                final = check_upload(
                    session,
                    plan.filename,
                    tags=plan.tags if tags is None else tags,
                    category=plan.category if category is None else category,
                    is_public=plan.is_public if is_public is None else is_public,
                    owner_id=plan.owner_id,
                    folder=plan.folder if folder is None else folder,
                    replace=plan.replace if replace is None else replace,
                )
            return answer(session, complete_upload(session, store, final, staged, upload_id))

        # Shielded: a commit in a worker thread cannot be stopped half-way, so a request
        # cancelled meanwhile must not go on to record the upload as failed.
        with anyio.CancelScope(shield=True):
            result = await self.runner.run(complete)
            self.completed = True
        with suppress(OSError):  # left behind, it is a dead temporary file to clean up
            await anyio.to_thread.run_sync(staged.discard)  # the blob is another name
        return result

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self.completed or self.upload_id is None:
            return
        with anyio.CancelScope(shield=True):  # a client that went away still gets cleaned up
            await self._clean_up(self.upload_id)

    async def _clean_up(self, upload_id: int) -> None:
        with suppress(Exception):  # reported already, if it failed
            await self._written()
        content_hash = None
        if self.staged is not None:
            await anyio.to_thread.run_sync(self.staged.discard)
            content_hash = self.staged.content_hash  # known once finished: maybe placed
        store = self.store

        def fail(session: Session) -> None:
            fail_upload(session, store, upload_id, content_hash)

        try:
            await self.runner.run(fail)
        except Exception:  # the database may be what failed: try again once it is back
            log.warning("could not record the failure of upload %s yet", upload_id)
            self.runner.retry_later(fail, f"the clean-up of upload {upload_id}")

    async def _record_refusal(self) -> None:
        store, client = self.store, self.client

        def refused(session: Session) -> None:
            fail_upload(session, store, begin_upload(session, client))

        try:
            await self.runner.run(refused)
        except Exception:
            log.warning("could not record a refused upload", exc_info=True)


def _write(staged: StagedBlob, batch: list[bytes]) -> None:
    # Joined first: one hash update and one write(), so the thread takes the GIL back
    # twice per batch rather than twice per chunk, each time from the busy event loop.
    staged.write(b"".join(batch) if len(batch) > 1 else batch[0])


def _finish_and_place(staged: StagedBlob, store: BlobStore) -> None:
    # Placed before the transaction, so that no database lock is held while the blob
    # and its directory entry are fsynced; ``complete_upload`` checks, under the lock,
    # that it is still there.
    staged.finish()
    store.place(staged)
