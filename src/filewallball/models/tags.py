"""Tags and the many-to-many link between files and tags."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, event, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship, validates

from filewallball.models.base import Base, CreatedAt
from filewallball.models.types import Description, Identifier, IntPK, TagName

if TYPE_CHECKING:
    from filewallball.models.files import FileInfo

DEFAULT_TAG_COLOR = "#007bff"
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class FileTag(CreatedAt, Base):
    __tablename__ = "file_tags"

    id: Mapped[IntPK]
    tag_name: Mapped[TagName] = mapped_column(unique=True)
    tag_color: Mapped[str] = mapped_column(
        String(7), default=DEFAULT_TAG_COLOR, server_default=DEFAULT_TAG_COLOR
    )
    description: Mapped[Description | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    # Read-only: links are made as FileTagRelation rows (see operations.tags.add_tags).
    files: Mapped[list[FileInfo]] = relationship(
        secondary="file_tag_relations", back_populates="tags", viewonly=True
    )

    @validates("tag_color")
    def _validate_color(self, _key: str, color: str) -> str:
        if not _COLOR.fullmatch(color):
            raise ValueError(f"tag colour {color!r} is not of the form #rrggbb")
        return color.lower()


class FileTagRelation(CreatedAt, Base):
    """A file carries a tag. ``file_created_at`` repeats the file's (never changing) upload
    time so that "newest files with this tag" is one backward walk of an index, however
    many thousand files carry the tag."""

    __tablename__ = "file_tag_relations"

    id: Mapped[IntPK]
    file_id: Mapped[int] = mapped_column(Identifier, ForeignKey("files.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(Identifier, ForeignKey("file_tags.id", ondelete="CASCADE"))
    file_created_at: Mapped[datetime]

    file: Mapped[FileInfo] = relationship(back_populates="tag_links")
    tag: Mapped[FileTag] = relationship()

    # The unique constraint serves "tags of a file"; the index, "newest files with a tag".
    __table_args__ = (
        UniqueConstraint("file_id", "tag_id"),
        Index("ix_file_tag_relations_tag_newest", "tag_id", "file_created_at", "file_id"),
    )


@event.listens_for(FileTagRelation, "before_insert")
def _copy_file_created_at(
    _mapper: Mapper[FileTagRelation], connection: Connection, link: FileTagRelation
) -> None:
    if link.file_created_at is not None:
        return
    if link.file is not None:  # flushed before its links, so its time is set
        link.file_created_at = link.file.created_at
        return
    files = Base.metadata.tables["files"]
    link.file_created_at = connection.scalar(
        select(files.c.created_at).where(files.c.id == link.file_id)
    )
