"""Any file can be uploaded on a fresh install (SPEC section 12).

``file_extensions.max_file_size`` becomes nullable, null meaning no cap of the policy's
own (``max_upload_bytes`` still applies), and the seeded policies whose cap is still the
seeded one get null: a 300 MB PDF or a 60 MB photo is an ordinary file. The system
setting ``unknown_extensions`` (``allow``) lets names without an extension, or with one
no policy names, in as ``application/octet-stream``. A cap or a setting an operator
changed is kept.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql, sqlite

from filewallball.models.types import Identifier, UTCDateTime, utcnow

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MiB = 1024 * 1024
GiB = 1024 * MiB
OLD_DEFAULT_MAX_FILE_SIZE = 10 * MiB

# extension: its cap as revision 0002 seeded it
SEEDED_CAPS: dict[str, int] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp", "avif", "heic"), 50 * MiB),
    **dict.fromkeys(("txt", "md"), 50 * MiB),
    **dict.fromkeys(("svg", "py", "html"), 10 * MiB),
    **dict.fromkeys(("pdf", "docx", "odt", "xlsx", "ods"), 200 * MiB),
    **dict.fromkeys(("pptx", "csv", "json"), 500 * MiB),
    "xml": 100 * MiB,
    **dict.fromkeys(("mp3", "ogg"), 1 * GiB),
    **dict.fromkeys(("wav", "flac"), 2 * GiB),
    **dict.fromkeys(("mp4", "webm", "mov", "mkv", "zip", "gz", "tar", "7z"), 8 * GiB),
    **dict.fromkeys(("exe", "msi", "bat", "cmd", "scr", "ps1", "vbs"), 0),
}

extensions = sa.table(
    "file_extensions",
    sa.column("extension", sa.String),
    sa.column("max_file_size", sa.BigInteger),
)
settings = sa.table(
    "system_settings",
    sa.column("setting_key", sa.String),
    sa.column("setting_value", sa.Text),
    sa.column("setting_type", sa.String),
    sa.column("is_public", sa.Boolean),
    sa.column("description", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
SETTING = "unknown_extensions"


def _extensions_table(*, capped: bool) -> sa.Table:
    """The table as it stands, so that SQLite's batch mode needs no reflection (and
    ``db sql`` works without a database)."""
    default = sa.text(str(OLD_DEFAULT_MAX_FILE_SIZE)) if capped else None
    return sa.Table(
        "file_extensions",
        sa.MetaData(),
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("extension", sa.String(20), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("is_allowed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("max_file_size", sa.BigInteger(), server_default=default, nullable=not capped),
        sa.Column("description", sa.String(255)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_file_extensions"),
        sa.UniqueConstraint("extension", name="uq_file_extensions_extension"),
        sa.CheckConstraint(
            "max_file_size >= 0", name="ck_file_extensions_max_file_size_non_negative"
        ),
    )


def upgrade() -> None:
    with op.batch_alter_table("file_extensions", copy_from=_extensions_table(capped=True)) as batch:
        batch.alter_column(
            "max_file_size",
            existing_type=sa.BigInteger(),
            nullable=True,
            server_default=None,
            existing_server_default=sa.text(str(OLD_DEFAULT_MAX_FILE_SIZE)),
        )
    for extension, cap in SEEDED_CAPS.items():
        op.execute(
            sa.update(extensions)
            .where(extensions.c.extension == extension, extensions.c.max_file_size == cap)
            .values(max_file_size=None)
        )
    _insert_missing(
        {
            "setting_key": SETTING,
            "setting_type": "string",
            "setting_value": "allow",
            "is_public": True,
            "description": "allow: names no policy knows are uploaded as "
            "application/octet-stream; deny: refused with 415",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
    )


def _insert_missing(row: dict[str, object]) -> None:
    """The setting, unless an admin already wrote that key: theirs is kept."""
    dialect = op.get_context().dialect.name
    statement: sa.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(settings).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(settings).on_conflict_do_nothing()
    else:
        statement = mysql.insert(settings).on_duplicate_key_update(
            setting_key=settings.c.setting_key
        )
    op.execute(statement.values(row))


def downgrade() -> None:
    """Seeded policies get their seeded caps back, any other uncapped one the old default."""
    op.execute(sa.delete(settings).where(settings.c.setting_key == SETTING))
    for extension, cap in SEEDED_CAPS.items():
        op.execute(
            sa.update(extensions)
            .where(extensions.c.extension == extension, extensions.c.max_file_size.is_(None))
            .values(max_file_size=cap)
        )
    op.execute(
        sa.update(extensions)
        .where(extensions.c.max_file_size.is_(None))
        .values(max_file_size=OLD_DEFAULT_MAX_FILE_SIZE)
    )
    with op.batch_alter_table(
        "file_extensions", copy_from=_extensions_table(capped=False)
    ) as batch:
        batch.alter_column(
            "max_file_size",
            existing_type=sa.BigInteger(),
            nullable=False,
            server_default=sa.text(str(OLD_DEFAULT_MAX_FILE_SIZE)),
        )
