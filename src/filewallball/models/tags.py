"""Tags and the many-to-many link between files and tags."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from filewallball.models.base import Base, CreatedAt
from filewallball.models.types import Identifier, IntPK

if TYPE_CHECKING:
    from filewallball.models.files import FileInfo

__all__ = ["DEFAULT_TAG_COLOR", "FileTag", "FileTagRelation"]

DEFAULT_TAG_COLOR = "#007bff"
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class FileTag(CreatedAt, Base):
    __tablename__ = "file_tags"

    id: Mapped[IntPK]
    tag_name: Mapped[str] = mapped_column(String(50), unique=True)
    tag_color: Mapped[str] = mapped_column(
        String(7), default=DEFAULT_TAG_COLOR, server_default=DEFAULT_TAG_COLOR
    )
    description: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    files: Mapped[list[FileInfo]] = relationship(
        secondary="file_tag_relations", back_populates="tags", passive_deletes=True
    )

    @validates("tag_color")
    def _validate_color(self, _key: str, color: str) -> str:
        if not _COLOR.fullmatch(color):
            raise ValueError(f"tag colour {color!r} is not of the form #rrggbb")
        return color.lower()


class FileTagRelation(CreatedAt, Base):
    __tablename__ = "file_tag_relations"

    id: Mapped[IntPK]
    file_id: Mapped[int] = mapped_column(Identifier, ForeignKey("files.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(Identifier, ForeignKey("file_tags.id", ondelete="CASCADE"))

    # The unique constraint serves "tags of a file"; the index serves "files with a tag".
    __table_args__ = (
        UniqueConstraint("file_id", "tag_id"),
        Index("ix_file_tag_relations_tag_id_file_id", "tag_id", "file_id"),
    )
