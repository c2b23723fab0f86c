"""Name search finds ``résumé.txt`` by ``resume`` (SPEC section 12).

``files.search_name`` holds the name as search compares it (``filenames.searchable_name``:
case-folded, NFKD without combining marks, Hangul kept composed), in code point order
on every database so that a name prefix is one range of ``ix_files_search_name``.
Existing rows get theirs here, a batch at a time; in the SQL of ``db sql``, which runs
without the rows, their lower-cased name, which finds them by the same letters in any
case but not without their accents.

Plain ADD/DROP COLUMN, never a batch rebuild of ``files``: SQLite would drop the
counting triggers of revision 0005 with the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

from filewallball.filenames import searchable_name

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LENGTH = 510
BATCH = 1000
SEARCH_NAME = (
    sa.String(LENGTH)
    .with_variant(postgresql.VARCHAR(LENGTH, collation="C"), "postgresql")
    .with_variant(mysql.VARCHAR(LENGTH, collation="utf8mb4_nopad_bin"), "mysql", "mariadb")
)

files = sa.table(
    "files",
    sa.column("id", sa.BigInteger),
    sa.column("original_filename", sa.String),
    sa.column("search_name", sa.String),
)


def upgrade() -> None:
    op.add_column("files", sa.Column("search_name", SEARCH_NAME, server_default="", nullable=False))
    _fill_search_names()
    op.create_index("ix_files_search_name", "files", ["search_name", "is_deleted"])


def _fill_search_names() -> None:
    if op.get_context().as_sql:
        op.execute(sa.update(files).values(search_name=sa.func.lower(files.c.original_filename)))
        return
    connection = op.get_bind()
    last_id = 0
    while rows := connection.execute(
        sa.select(files.c.id, files.c.original_filename)
        .where(files.c.id > last_id)
        .order_by(files.c.id)
        .limit(BATCH)
    ).all():
        connection.execute(
            sa.update(files)
            .where(files.c.id == sa.bindparam("row_id"))
            .values(search_name=sa.bindparam("name")),
            [{"row_id": row_id, "name": searchable_name(name)} for row_id, name in rows],
        )
        last_id = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_files_search_name", table_name="files")
    op.drop_column("files", "search_name")
