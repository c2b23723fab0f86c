"""Initial schema: nine tables and the file_statistics view.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from filewallball.models.types import Identifier, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# MariaDB: transactional tables, full Unicode, and binary collation so that equality and
# uniqueness mean the same thing as on PostgreSQL and SQLite (no case or accent folding).
# Both prefixes: the mysql:// and mariadb:// dialects each read only their own.
TABLE_OPTIONS: dict[str, Any] = {
    f"{prefix}_{option}": value
    for prefix in ("mysql", "mariadb")
    for option, value in (("engine", "InnoDB"), ("charset", "utf8mb4"), ("collate", "utf8mb4_bin"))
}


def _id() -> sa.Column[int]:
    return sa.Column("id", Identifier, primary_key=True, autoincrement=True)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


def _file_fk(ondelete: str = "CASCADE", *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        "file_id", Identifier, sa.ForeignKey("files.id", ondelete=ondelete), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "file_categories",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("name"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "file_extensions",
        _id(),
        sa.Column("extension", sa.String(20), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("is_allowed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "max_file_size", sa.BigInteger(), server_default=sa.text("10485760"), nullable=False
        ),
        sa.Column("description", sa.String(255)),
        _created_at(),
        sa.UniqueConstraint("extension"),
        sa.CheckConstraint("max_file_size >= 0", name="max_file_size_non_negative"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "file_tags",
        _id(),
        sa.Column("tag_name", sa.String(50), nullable=False),
        sa.Column("tag_color", sa.String(7), server_default="#007bff", nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("tag_name"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "system_settings",
        _id(),
        sa.Column("setting_key", sa.String(100), nullable=False),
        sa.Column("setting_value", sa.Text()),
        sa.Column("setting_type", sa.String(20), server_default="string", nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("is_public", sa.Boolean(), server_default=sa.false(), nullable=False),
        _created_at(),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("setting_key"),
        sa.CheckConstraint(
            "setting_type IN ('string', 'integer', 'boolean', 'json')", name="setting_type_known"
        ),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "files",
        _id(),
        sa.Column("file_uuid", sa.String(36), nullable=False),
        sa.Column("original_filename", sa.String(255), nullable=False),
        sa.Column("stored_filename", sa.String(255), nullable=False),
        sa.Column("file_extension", sa.String(20), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=False),
        sa.Column("storage_path", sa.String(500), nullable=False),
        sa.Column(
            "file_category_id",
            Identifier,
            sa.ForeignKey("file_categories.id", ondelete="SET NULL"),
        ),
        sa.Column("is_public", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deleted_at", UTCDateTime()),
        _created_at(),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("file_uuid"),
        sa.CheckConstraint("file_size >= 0", name="file_size_non_negative"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_files_file_hash", "files", ["file_hash", "is_deleted", "file_size"])
    op.create_index("ix_files_created_at", "files", ["created_at", "id", "is_deleted", "file_size"])
    op.create_index(
        "ix_files_extension_live_created",
        "files",
        ["file_extension", "is_deleted", "created_at", "id"],
    )
    op.create_index(
        "ix_files_category_live_created",
        "files",
        ["file_category_id", "is_deleted", "created_at", "id", "file_size"],
    )
    op.create_index("ix_files_deleted_at", "files", ["deleted_at", "id"])

    op.create_table(
        "file_uploads",
        _id(),
        _file_fk(nullable=True),
        sa.Column("upload_session_id", sa.String(36)),
        sa.Column("client_ip", sa.String(45)),
        sa.Column("user_agent", sa.String(500)),
        sa.Column("upload_status", sa.String(20), server_default="completed", nullable=False),
        sa.Column("upload_started_at", UTCDateTime(), nullable=False),
        sa.Column("upload_completed_at", UTCDateTime()),
        sa.CheckConstraint(
            "upload_status IN ('started', 'completed', 'failed')", name="upload_status_known"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_file_uploads_file_id", "file_uploads", ["file_id"])
    op.create_index("ix_file_uploads_upload_session_id", "file_uploads", ["upload_session_id"])

    op.create_table(
        "file_tag_relations",
        _id(),
        _file_fk(),
        sa.Column(
            "tag_id", Identifier, sa.ForeignKey("file_tags.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("file_created_at", UTCDateTime(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("file_id", "tag_id"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_file_tag_relations_tag_newest",
        "file_tag_relations",
        ["tag_id", "file_created_at", "file_id"],
    )

    for events, extra in (("file_views", ()), ("file_downloads", ("bytes_served",))):
        op.create_table(
            events,
            _id(),
            _file_fk(),
            sa.Column("client_ip", sa.String(45)),
            sa.Column("user_agent", sa.String(500)),
            *(
                sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
                for name in extra
            ),
            _created_at(),
            **TABLE_OPTIONS,
        )
        op.create_index(f"ix_{events}_file_id_created_at", events, ["file_id", "created_at"])
        op.create_index(f"ix_{events}_created_at", events, ["created_at"])

    op.execute(f"CREATE VIEW file_statistics AS {_render(counting_file_statistics())}")


def downgrade() -> None:
    op.execute("DROP VIEW file_statistics")
    for table in (
        "file_downloads",
        "file_views",
        "file_tag_relations",
        "file_uploads",
        "files",
        "system_settings",
        "file_tags",
        "file_extensions",
        "file_categories",
    ):
        op.drop_table(table)


def counting_file_statistics() -> sa.CompoundSelect[Any]:
    """Live files per category, every category listed, plus one row for uncategorised files."""
    files = sa.table(
        "files",
        sa.column("id"),
        sa.column("file_category_id"),
        sa.column("file_size"),
        sa.column("created_at"),
        sa.column("is_deleted"),
    )
    categories = sa.table("file_categories", sa.column("id"), sa.column("name"))
    live = files.c.is_deleted == sa.false()
    aggregates = (
        sa.func.count(files.c.id).label("file_count"),
        sa.cast(sa.func.coalesce(sa.func.sum(files.c.file_size), 0), sa.BigInteger).label(
            "total_size"
        ),
        sa.func.avg(files.c.file_size).label("avg_file_size"),
        sa.func.max(files.c.created_at).label("last_upload"),
    )
    per_category = (
        sa.select(
            categories.c.id.label("category_id"),
            categories.c.name.label("category_name"),
            *aggregates,
        )
        .select_from(
            categories.outerjoin(files, sa.and_(files.c.file_category_id == categories.c.id, live))
        )
        .group_by(categories.c.id, categories.c.name)
    )
    uncategorised = sa.select(
        sa.null().label("category_id"), sa.null().label("category_name"), *aggregates
    ).where(files.c.file_category_id.is_(None), live)
    return sa.union_all(per_category, uncategorised)


def _render(statement: sa.CompoundSelect[Any]) -> str:
    dialect = op.get_context().dialect
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
