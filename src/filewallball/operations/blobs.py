"""Blob rows: taking the lock of a content, and letting go of content no file uses.

Every change that makes a file row refer to a content, or that removes a content, first
locks that content's ``blobs`` row (creating it when missing). Holding that lock, an
upload makes sure the blob is in the store; holding it, a release checks that no row
refers to the blob before removing it. So, across threads and processes, a blob is
never removed while a row that needs it is being written.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.database import off_the_event_loop
from filewallball.models import Blob, FileInfo, utcnow
from filewallball.operations.upserts import insert_or_lock
from filewallball.storage import BlobStore


def lock_blob(session: Session, content_hash: str, size: int) -> Blob:
    """The content's row, locked until the transaction ends; inserted when missing."""
    values = {"content_hash": content_hash, "size": size, "created_at": utcnow()}
    return insert_or_lock(session, Blob, Blob.content_hash, values)


def is_referenced(session: Session, content_hash: str) -> bool:
    """Whether any file row, live or soft-deleted, names this content."""
    return session.scalar(sa.select(sa.exists().where(FileInfo.file_hash == content_hash))) is True


def release_blob(session: Session, store: BlobStore, content_hash: str) -> bool:
    """Remove a content that no file row refers to any more, from the store and the
    database. Returns whether it went. Call it in its own transaction, after the rows
    that referred to the content were deleted and committed."""
    blob = lock_blob(session, content_hash, 0)
    # Exact under the lock: every statement that makes a row name a content (an upload, a
    # bulk insert, raw SQL) locks the blob row through the insert trigger until it
    # commits. The read is not a locking one: restores and soft deletes lock a file row,
    # then its blob row (the trigger), and a locking read of file rows here would take
    # the two in the other order. So on MariaDB this must be the transaction's first
    # read, whose snapshot is taken now: hence its own transaction.
    if is_referenced(session, content_hash):
        return False
    # Under the lock: an upload of the same content waits, then finds no blob and
    # places its own copy. Removing the file before the row is committed is safe for
    # that reason; a crash in between leaves a row without a blob, which an upload
    # repairs the same way and fsck reports.
    off_the_event_loop(session, store.delete, content_hash)
    session.delete(blob)
    session.flush()
    return True
