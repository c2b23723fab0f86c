"""Receiving an upload: bytes from the network into the blob store, and the three
transactions around them (``operations.uploads``).

The event loop only moves bytes; hashing and writing happen in a worker thread, a
batch at a time, so a large upload neither blocks other requests nor grows memory.
The two overlap: while the thread hashes and writes one batch, the event loop
receives the next (done one after the other, they took the time of both). So at
most two batches per upload are held, and the server reads the socket only as we
ask for more, so a fast client waits instead of filling memory.
The event loop does not copy the chunks into a batch; the thread joins them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from types import TracebackType
from typing import Self

import anyio
from sqlalchemy.orm import Session

from filewallball.api.numbers import bounded_decimal
from filewallball.api.schemas import FileOut
from filewallball.api.services import Services
from filewallball.errors import FileWallBallError, InvalidInput, TooLarge
from filewallball.operations.clients import Client
from filewallball.operations.records import file_record
from filewallball.operations.uploads import (
    UploadPlan,
    begin_upload,
    check_upload,
    complete_upload,
    fail_upload,
)
from filewallball.storage import StagedBlob
from filewallball.storage.base import SNIFF_BYTES

__all__ = ["Upload", "split_tags"]

log = logging.getLogger("filewallball.api")
BATCH_BYTES = 1024 * 1024
MAX_FILE_SIZE = 2**63 - 1  # files.file_size is a BIGINT


def split_tags(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the comma-separated form of forms and queries."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class Upload:
    """One upload. ``start`` checks it and records the attempt; ``write`` receives its
    bytes; ``finish`` writes the file row. Leaving the ``async with`` block any other
    way (an error, a refused type, a client gone) removes everything it stored."""

    def __init__(self, services: Services, client: Client) -> None:
        self.services = services
        self.client = client
        self.plan: UploadPlan | None = None
        self.upload_id: int | None = None
        self.staged: StagedBlob | None = None
        self.received = 0
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._head = b""  # what the content sniffer sees
        self._writing: asyncio.Task[None] | None = None  # the batch in the worker thread
        self._checked = False
        self._finished = False

    async def start(
        self,
        filename: str,
        *,
        tags: list[str],
        category: str | None,
        is_public: bool,
        declared_size: int | None = None,
    ) -> UploadPlan:
        try:
            plan, self.upload_id = await self.services.run(
                _begin,
                filename=filename,
                tags=tags,
                category=category,
                is_public=is_public,
                client=self.client,
            )
        except FileWallBallError:
            await self._record_refusal()
            raise
        self.plan = plan
        if declared_size is not None and declared_size > plan.limit:
            raise TooLarge(plan.limit)  # refused before a byte is stored
        self.staged = await self.services.in_thread(self.services.store.stage, limit=plan.limit)
        self.services.metrics.uploads_in_progress.inc()
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
            writing = self.services.in_thread(_write, self.staged, batch)
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
        *,
        tags: list[str] | None = None,
        category: str | None = None,
        is_public: bool | None = None,
    ) -> FileOut:
        """Place the blob and write the row. Form fields that arrived after the file
        part of a multipart body are given here, and checked like the others."""
        assert self.staged is not None
        assert self.plan is not None
        assert self.upload_id is not None
        if not self._checked:
            self.plan.check_content(self._head)
            self._checked = True
        await self._flush()
        await self._written()
        await self.services.in_thread(self.staged.finish)
        plan, staged, upload_id = self.plan, self.staged, self.upload_id
        store = self.services.store

        def complete(session: Session) -> FileOut:
            final = plan
            if tags is not None or category is not None or is_public is not None:
                final = check_upload(
                    session,
                    plan.filename,
                    tags=plan.tags if tags is None else tags,
                    category=plan.category if category is None else category,
                    is_public=plan.is_public if is_public is None else is_public,
                )
            file = complete_upload(session, store, final, staged, upload_id).file
            return FileOut.of(file_record(session, file.file_uuid))

        result = await self.services.run(complete)
        self._finished = True
        self.services.metrics.upload_bytes.inc(self.staged.size)
        return result

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        metrics = self.services.metrics
        if self.staged is not None:
            metrics.uploads_in_progress.dec()
        metrics.uploads.labels("completed" if self._finished else "failed").inc()
        if self._finished or self.upload_id is None:
            return
        with anyio.CancelScope(shield=True):  # a client that went away still gets cleaned up
            await self._clean_up()

    async def _clean_up(self) -> None:
        staged, upload_id, store = self.staged, self.upload_id, self.services.store
        assert upload_id is not None
        with suppress(Exception):  # reported already, if it failed
            await self._written()
        if staged is not None:
            await self.services.in_thread(staged.discard)

        def fail(session: Session) -> None:
            fail_upload(session, store, upload_id, staged)

        try:
            await self.services.run(fail)
        except Exception:  # the database may be what failed: try again once it is back
            log.warning("could not record the failure of upload %s yet", upload_id)
            self.services.retry_later(fail, f"the clean-up of upload {upload_id}")

    async def _record_refusal(self) -> None:
        store, client = self.services.store, self.client
        try:
            await self.services.run(
                lambda session: fail_upload(session, store, begin_upload(session, client))
            )
        except Exception:
            log.warning("could not record a refused upload", exc_info=True)


def _begin(
    session: Session,
    *,
    filename: str,
    tags: list[str],
    category: str | None,
    is_public: bool,
    client: Client,
) -> tuple[UploadPlan, int]:
    plan = check_upload(session, filename, tags=tags, category=category, is_public=is_public)
    return plan, begin_upload(session, client)


def _write(staged: StagedBlob, batch: list[bytes]) -> None:
    # Joined first: one hash update and one write(), so the thread takes the GIL back
    # twice per batch rather than twice per chunk, each time from the busy event loop.
    staged.write(b"".join(batch) if len(batch) > 1 else batch[0])


def parse_declared_size(value: str | None) -> int | None:
    """The request's Content-Length, if it gave one: ASCII digits (400 otherwise), and
    any number above the largest size a file can have reads as just above it, which
    every limit refuses (413) before a byte is stored."""
    if value is None:
        return None
    size = bounded_decimal(value.strip(), MAX_FILE_SIZE + 1)
    if size is None:
        raise InvalidInput(f"Content-Length {value[:40]!r} is not a number")
    return size
