"""What fsck found of each content: ok, missing or corrupt, and when it last looked.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from filewallball.models.types import Identifier, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _blobs(*extra: sa.Column[object] | sa.CheckConstraint) -> sa.Table:
    """The table as it stands, so that SQLite's batch mode needs no reflection (and
    ``db sql`` works without a database)."""
    return sa.Table(
        "blobs",
        sa.MetaData(),
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *extra,
        sa.CheckConstraint("size >= 0", name="ck_blobs_size_non_negative"),
        sa.UniqueConstraint("content_hash", name="uq_blobs_content_hash"),
    )


def upgrade() -> None:
    with op.batch_alter_table("blobs", copy_from=_blobs()) as batch:
        batch.add_column(sa.Column("status", sa.String(10), server_default="ok", nullable=False))
        batch.add_column(sa.Column("checked_at", UTCDateTime()))
        batch.create_check_constraint("status_known", "status IN ('ok', 'missing', 'corrupt')")


def downgrade() -> None:
    after = _blobs(
        sa.Column("status", sa.String(10), server_default="ok", nullable=False),
        sa.Column("checked_at", UTCDateTime()),
        sa.CheckConstraint("status IN ('ok', 'missing', 'corrupt')", name="ck_blobs_status_known"),
    )
    with op.batch_alter_table("blobs", copy_from=after) as batch:
        batch.drop_constraint("status_known", type_="check")
        batch.drop_column("checked_at")
        batch.drop_column("status")
