"""What statistics read: ``file_counts``, the counts the database keeps, and
``file_statistics``, a read-only mapping of the database VIEW over them.

The view's table lives in its own ``MetaData``, so ``create_all`` never makes a table of
that name and ``alembic check`` never reports the view as drift.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, MetaData, Numeric, String, Table, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from filewallball.models.base import NAMING_CONVENTION, Base
from filewallball.models.types import CATEGORY_NAME_LENGTH, Identifier, IntPK, UTCDateTime

UNCATEGORISED = 0


class FileCount(Base):
    """A difference to the counts: appended by the database's triggers on ``files``
    (migration 0005) for every row written, summed by readers, and folded into one row
    per category by ``operations.statistics.fold_counts``. ``category_key`` is the
    category's id, 0 for uncategorised files; a key that names no category (one deleted
    on MariaDB, which fires no trigger for foreign-key actions) counts as uncategorised."""

    __tablename__ = "file_counts"

    id: Mapped[IntPK]
    category_key: Mapped[int] = mapped_column(Identifier)
    live_files: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    live_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    deleted_files: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    deleted_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    live_contents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


views_metadata = MetaData(naming_convention=NAMING_CONVENTION)

file_statistics = Table(
    "file_statistics",
    views_metadata,
    Column("category_id", Identifier),
    Column("category_name", String(CATEGORY_NAME_LENGTH)),
    Column("file_count", Integer, nullable=False),
    Column("total_size", BigInteger, nullable=False),
    Column("avg_file_size", Numeric(asdecimal=False)),
    Column("last_upload", UTCDateTime),
)


class ReadOnlyViewError(TypeError):
    pass


class FileStatistics(Base):
    """Live (not soft-deleted) files per category; the uncategorised row has no category_id."""

    __table__ = file_statistics
    # The ORM drops a row whose whole identity is NULL, which the uncategorised row's
    # category_id is; file_count is never NULL and makes every row's identity unique.
    __mapper_args__ = {  # noqa: RUF012 - SQLAlchemy's hook
        "primary_key": [file_statistics.c.category_id, file_statistics.c.file_count],
    }

    category_id: Mapped[int | None]
    category_name: Mapped[str | None]
    file_count: Mapped[int]
    total_size: Mapped[int]
    avg_file_size: Mapped[float | None]
    last_upload: Mapped[datetime | None]


@event.listens_for(FileStatistics, "before_insert")
@event.listens_for(FileStatistics, "before_update")
@event.listens_for(FileStatistics, "before_delete")
def _refuse_writes(_mapper: Mapper[FileStatistics], _conn: Connection, row: FileStatistics) -> None:
    raise ReadOnlyViewError(f"{type(row).__name__} maps a database view and is read-only")
