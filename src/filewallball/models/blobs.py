"""Stored contents: one row per distinct SHA-256 in the blob store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from filewallball.models.base import Base, CreatedAt, one_of
from filewallball.models.types import SHA256, IntPK

# "missing" and "corrupt" are set by fsck (never by a guess), and back to "ok" when the
# content is stored again: an upload of the same bytes, or fsck finding it restored.
BLOB_STATUSES = ("ok", "missing", "corrupt")


class Blob(CreatedAt, Base):
    """One content in the blob store, shared by every file row with its hash.

    The row is also the lock that orders everything done to that content: an upload
    holds it while it links a new file row to the blob, a purge while it checks that
    no row refers to the blob and removes it. So a purge never removes a blob that an
    upload running at the same moment is about to use, in one process or many.
    """

    __tablename__ = "blobs"

    id: Mapped[IntPK]
    content_hash: Mapped[SHA256] = mapped_column(unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="ok", server_default="ok")
    checked_at: Mapped[datetime | None]
    # Live (not soft-deleted) file rows with this content, kept by the database's
    # triggers on files (migration 0005): the distinct-contents count moves when it
    # leaves or reaches zero. Never written by the application.
    live_files: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("size >= 0", name="size_non_negative"),
        one_of("status", BLOB_STATUSES),
    )

    def __repr__(self) -> str:
        return f"<Blob {self.content_hash} {self.size} B>"
