"""Access events: one row per view and per download, kept for a retention period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from filewallball.models.base import Base, CreatedAt
from filewallball.models.types import Identifier, IntPK, IPAddress, UserAgent

if TYPE_CHECKING:
    from filewallball.models.files import FileInfo


class _AccessEvent(CreatedAt):
    __tablename__: str

    id: Mapped[IntPK]
    file_id: Mapped[int] = mapped_column(Identifier, ForeignKey("files.id", ondelete="CASCADE"))
    client_ip: Mapped[IPAddress | None]
    user_agent: Mapped[UserAgent | None]

    # (file_id, created_at): one file's activity and last access; created_at: retention sweeps.
    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        table = cls.__tablename__
        return (
            Index(f"ix_{table}_file_id_created_at", "file_id", "created_at"),
            Index(f"ix_{table}_created_at", "created_at"),
        )


class FileView(_AccessEvent, Base):
    __tablename__ = "file_views"

    file: Mapped[FileInfo] = relationship(back_populates="views")


class FileDownload(_AccessEvent, Base):
    __tablename__ = "file_downloads"

    bytes_served: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    file: Mapped[FileInfo] = relationship(back_populates="downloads")
