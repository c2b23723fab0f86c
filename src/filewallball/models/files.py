"""Files and what describes them: categories, per-extension upload policies, upload records."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from filewallball import filenames  # a module: filenames imports models.types
from filewallball.models.base import Base, CreatedAt, Timestamps, one_of
from filewallball.models.types import (
    SHA256,
    CategoryName,
    Description,
    Extension,
    Filename,
    Folder,
    Identifier,
    IntPK,
    IPAddress,
    MimeType,
    SearchName,
    StoragePath,
    UserAgent,
    UUIDText,
    generate_file_uuid,
    utcnow,
)

if TYPE_CHECKING:
    from filewallball.models.activity import FileDownload, FileView
    from filewallball.models.tags import FileTag, FileTagRelation

UPLOAD_STATUSES = ("started", "completed", "failed")


class FileCategory(CreatedAt, Base):
    __tablename__ = "file_categories"

    id: Mapped[IntPK]
    name: Mapped[CategoryName] = mapped_column(unique=True)
    description: Mapped[Description | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    # Deleting a category leaves its files uncategorised (ON DELETE SET NULL).
    files: Mapped[list[FileInfo]] = relationship(back_populates="category", passive_deletes=True)


class FileExtension(CreatedAt, Base):
    __tablename__ = "file_extensions"

    id: Mapped[IntPK]
    extension: Mapped[Extension] = mapped_column(unique=True)
    mime_type: Mapped[MimeType]
    is_allowed: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Null: no cap of the policy's own; max_upload_bytes still applies.
    max_file_size: Mapped[int | None] = mapped_column(BigInteger)
    description: Mapped[Description | None]

    __table_args__ = (CheckConstraint("max_file_size >= 0", name="max_file_size_non_negative"),)


class FileInfo(Timestamps, Base):
    __tablename__ = "files"

    id: Mapped[IntPK]
    file_uuid: Mapped[UUIDText] = mapped_column(unique=True, default=generate_file_uuid)
    original_filename: Mapped[Filename]
    # Kept in step with original_filename by _name_is_searchable; bulk inserts, which
    # bypass the ORM, set it in operations.files._row_values.
    search_name: Mapped[SearchName] = mapped_column(server_default="")
    folder: Mapped[Folder] = mapped_column(default="", server_default=text("''"))
    stored_filename: Mapped[Filename]
    file_extension: Mapped[Extension]
    mime_type: Mapped[MimeType]
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_hash: Mapped[SHA256]
    storage_path: Mapped[StoragePath]
    file_category_id: Mapped[int | None] = mapped_column(
        Identifier, ForeignKey("file_categories.id", ondelete="SET NULL")
    )
    is_public: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_deleted: Mapped[bool] = mapped_column(default=False, server_default=false())
    deleted_at: Mapped[datetime | None]
    # Null: the admin's (uploaded with the admin token, or before there were accounts).
    owner_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("users.id"), index=True)

    category: Mapped[FileCategory | None] = relationship(back_populates="files")
    uploads: Mapped[list[FileUpload]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )
    # Read-only view of tag_links, whose rows carry more than the two keys.
    tags: Mapped[list[FileTag]] = relationship(
        secondary="file_tag_relations", back_populates="files", viewonly=True
    )
    tag_links: Mapped[list[FileTagRelation]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )
    views: Mapped[list[FileView]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )
    downloads: Mapped[list[FileDownload]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )
    # Listings sort by (created_at, id): the indexes hold both, so a page comes straight off
    # an index, without a sort, on MariaDB and PostgreSQL alike. Trailing is_deleted and
    # file_size make trends (by created_at) and fsck's walk (by hash) index-only; counts
    # per category and in total come from file_counts. No index on is_deleted alone:
    # MariaDB would pick it over the composites (SPEC section 6).
    __table_args__ = (
        Index("ix_files_file_hash", "file_hash", "is_deleted", "file_size"),
        Index("ix_files_created_at", "created_at", "id", "is_deleted", "file_size"),
        Index(
            "ix_files_extension_live_created", "file_extension", "is_deleted", "created_at", "id"
        ),
        Index(
            "ix_files_category_live_created", "file_category_id", "is_deleted", "created_at", "id"
        ),
        Index("ix_files_deleted_at", "deleted_at", "id"),
        Index("ix_files_search_name", "search_name", "is_deleted"),
        # A folder's page by each sort key, and a folder and all below it as one range
        # (operations.folders). The name index has no id: MariaDB's key limit (3072
        # bytes) leaves no room for it after 512 + 255 four-byte characters. SQLite's
        # indexes end in the rowid anyway and PostgreSQL sorts only runs of equal names;
        # MariaDB sorts a folder's files by name (it cannot order by the key it appends).
        Index("ix_files_folder_live_created", "folder", "is_deleted", "created_at", "id"),
        Index("ix_files_folder_live_size", "folder", "is_deleted", "file_size", "id"),
        Index("ix_files_folder_live_name", "folder", "is_deleted", "original_filename"),
        CheckConstraint("file_size >= 0", name="file_size_non_negative"),
    )

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("file_uuid") is None:
            kwargs["file_uuid"] = generate_file_uuid()
        super().__init__(**kwargs)

    @validates("original_filename")
    def _name_is_searchable(self, _key: str, value: str) -> str:
        self.search_name = filenames.searchable_name(value)
        return value

    @validates("created_at")
    def _upload_time_is_fixed(self, _key: str, value: datetime) -> datetime:
        """Tag links repeat the upload time for their index; it must never move."""
        if self.id is not None and value != self.created_at:
            raise ValueError(f"the upload time of file {self.file_uuid} cannot change")
        return value

    def __repr__(self) -> str:
        return f"<FileInfo {self.file_uuid} {self.original_filename!r}>"


class FileUpload(Base):
    """One upload attempt; ``file_id`` stays empty when the attempt failed before a row existed."""

    __tablename__ = "file_uploads"

    id: Mapped[IntPK]
    file_id: Mapped[int | None] = mapped_column(
        Identifier, ForeignKey("files.id", ondelete="CASCADE"), index=True
    )
    upload_session_id: Mapped[UUIDText | None] = mapped_column(index=True)
    client_ip: Mapped[IPAddress | None]
    user_agent: Mapped[UserAgent | None]
    upload_status: Mapped[str] = mapped_column(
        String(20), default="completed", server_default="completed"
    )
    upload_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    upload_completed_at: Mapped[datetime | None]

    file: Mapped[FileInfo | None] = relationship(back_populates="uploads")

    __table_args__ = (one_of("upload_status", UPLOAD_STATUSES),)
