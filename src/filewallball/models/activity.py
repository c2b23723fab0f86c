"""Access events: one row per view and per download, kept for a retention period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from filewallball.models.base import Base, CreatedAt
from filewallball.models.types import Identifier, IntPK

if TYPE_CHECKING:
    from filewallball.models.files import FileInfo

__all__ = ["USER_AGENT_LENGTH", "FileDownload", "FileView"]

USER_AGENT_LENGTH = 500


class _AccessEvent(CreatedAt):
    __tablename__: str

    id: Mapped[IntPK]
    file_id: Mapped[int] = mapped_column(Identifier, ForeignKey("files.id", ondelete="CASCADE"))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_LENGTH))

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
