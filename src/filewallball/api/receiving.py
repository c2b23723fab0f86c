"""Receiving an upload over HTTP: ``uploading.Upload`` driven by the request, and what
an upload request says besides its bytes (tags, its declared size)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.orm import Session

from filewallball.api.numbers import bounded_decimal
from filewallball.api.schemas import FileOut
from filewallball.api.services import Services
from filewallball.errors import InvalidInput
from filewallball.models.types import MAX_BIGINT
from filewallball.operations.clients import Client
from filewallball.operations.records import file_record
from filewallball.operations.uploads import Completed
from filewallball.uploading import Upload


def split_tags(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the comma-separated form of forms and queries."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@asynccontextmanager
async def receiving(services: Services, client: Client) -> AsyncIterator[Upload]:
    """An upload over HTTP: the service runs its transactions (retrying a deadlocked one,
    and a clean-up the database refused once it is back), and the metrics count it."""
    metrics = services.metrics
    upload = Upload(services, services.store, client, record_refusals=True)
    metrics.uploads_in_progress.inc()
    try:
        async with upload:
            yield upload
    finally:
        metrics.uploads_in_progress.dec()
        metrics.uploads.labels("completed" if upload.completed else "failed").inc()
        if upload.completed:
            metrics.upload_bytes.inc(upload.received)


def file_out(session: Session, completed: Completed) -> FileOut:
    """The answer to an upload, read in its last transaction."""
    return FileOut.of(file_record(session, completed.file.file_uuid))


def parse_declared_size(value: str | None) -> int | None:
    """The request's Content-Length, if it gave one: ASCII digits (400 otherwise), and
    any number above the largest size a file can have reads as just above it, which
    every limit refuses (413) before a byte is stored."""
    if value is None:
        return None
    size = bounded_decimal(value.strip(), MAX_BIGINT + 1)
    if size is None:
        raise InvalidInput(f"Content-Length {value[:40]!r} is not a number")
    return size
