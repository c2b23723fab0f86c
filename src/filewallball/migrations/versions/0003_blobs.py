"""The blob store's contents: one row per distinct SHA-256.

Files already in the database get their blob rows from their hashes, so a database
filled before this revision is consistent with it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from filewallball.models.types import Identifier, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS: dict[str, Any] = {
    f"{prefix}_{option}": value
    for prefix in ("mysql", "mariadb")
    for option, value in (("engine", "InnoDB"), ("charset", "utf8mb4"), ("collate", "utf8mb4_bin"))
}


def upgrade() -> None:
    blobs = op.create_table(
        "blobs",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("size >= 0", name="size_non_negative"),
        sa.UniqueConstraint("content_hash"),
        **TABLE_OPTIONS,
    )
    files = sa.table(
        "files",
        sa.column("file_hash", sa.String),
        sa.column("file_size", sa.BigInteger),
        sa.column("created_at", UTCDateTime()),
    )
    existing = sa.select(
        files.c.file_hash, sa.func.max(files.c.file_size), sa.func.min(files.c.created_at)
    ).group_by(files.c.file_hash)
    op.execute(blobs.insert().from_select(["content_hash", "size", "created_at"], existing))


def downgrade() -> None:
    op.drop_table("blobs")
