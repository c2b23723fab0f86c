"""Folders (SPEC section 12): every file is in one, ``""`` (the top) for existing files.

``files.folder`` holds up to 512 characters, compared byte-wise on every database
(PostgreSQL's column is collated "C"), so that a folder and everything under it is one
range of an index. A folder's page, by any sort key, is one walk of one index. Added
with ``ADD COLUMN``, never a batch rebuild: SQLite would drop the triggers of 0005
with the table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_files_folder_live_created": ("folder", "is_deleted", "created_at", "id"),
    "ix_files_folder_live_size": ("folder", "is_deleted", "file_size", "id"),
    # No id: it would take MariaDB's key past 3072 bytes; it appends the key itself.
    "ix_files_folder_live_name": ("folder", "is_deleted", "original_filename"),
}


def upgrade() -> None:
    folder = sa.String(512).with_variant(postgresql.VARCHAR(512, collation="C"), "postgresql")
    op.add_column(
        "files", sa.Column("folder", folder, server_default=sa.text("''"), nullable=False)
    )
    for name, columns in INDEXES.items():
        op.create_index(name, "files", list(columns))


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="files")
    op.drop_column("files", "folder")  # SQLite 3.35 drops it in place, triggers kept
