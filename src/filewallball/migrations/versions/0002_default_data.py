"""Default categories, extension policies and system settings.

Rows are inserted only where their unique key is free, so running this on a database that
already has some of them (or its own versions of them) keeps what is there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql, sqlite

from filewallball.models.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MiB = 1024 * 1024
GiB = 1024 * MiB

CATEGORIES = {
    "images": "Photos, pictures and drawings",
    "documents": "Text, office documents and PDFs",
    "spreadsheets": "Tables and data files",
    "audio": "Music and recordings",
    "video": "Films and screen recordings",
    "archives": "Compressed bundles of files",
    "code": "Source code and configuration",
}

# extension: (MIME type, allowed, max size)
EXTENSIONS: dict[str, tuple[str, bool, int]] = {
    "jpg": ("image/jpeg", True, 50 * MiB),
    "jpeg": ("image/jpeg", True, 50 * MiB),
    "png": ("image/png", True, 50 * MiB),
    "gif": ("image/gif", True, 50 * MiB),
    "webp": ("image/webp", True, 50 * MiB),
    "avif": ("image/avif", True, 50 * MiB),
    "heic": ("image/heic", True, 50 * MiB),
    "svg": ("image/svg+xml", True, 10 * MiB),
    "pdf": ("application/pdf", True, 200 * MiB),
    "txt": ("text/plain", True, 50 * MiB),
    "md": ("text/markdown", True, 50 * MiB),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        True,
        200 * MiB,
    ),
    "odt": ("application/vnd.oasis.opendocument.text", True, 200 * MiB),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        True,
        500 * MiB,
    ),
    "csv": ("text/csv", True, 500 * MiB),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", True, 200 * MiB),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", True, 200 * MiB),
    "json": ("application/json", True, 500 * MiB),
    "xml": ("application/xml", True, 100 * MiB),
    "mp3": ("audio/mpeg", True, 1 * GiB),
    "ogg": ("audio/ogg", True, 1 * GiB),
    "wav": ("audio/wav", True, 2 * GiB),
    "flac": ("audio/flac", True, 2 * GiB),
    "mp4": ("video/mp4", True, 8 * GiB),
    "webm": ("video/webm", True, 8 * GiB),
    "mov": ("video/quicktime", True, 8 * GiB),
    "mkv": ("video/x-matroska", True, 8 * GiB),
    "zip": ("application/zip", True, 8 * GiB),
    "gz": ("application/gzip", True, 8 * GiB),
    "tar": ("application/x-tar", True, 8 * GiB),
    "7z": ("application/x-7z-compressed", True, 8 * GiB),
    "py": ("text/x-python", True, 10 * MiB),
    "html": ("text/html", True, 10 * MiB),
    "exe": ("application/vnd.microsoft.portable-executable", False, 0),
    "msi": ("application/x-msi", False, 0),
    "bat": ("application/x-bat", False, 0),
    "cmd": ("application/x-bat", False, 0),
    "scr": ("application/vnd.microsoft.portable-executable", False, 0),
    "ps1": ("text/plain", False, 0),
    "vbs": ("text/vbscript", False, 0),
}

# key: (type, value, public, description)
SETTINGS: dict[str, tuple[str, str, bool, str]] = {
    "max_upload_bytes": ("integer", str(8 * GiB), True, "Largest upload accepted, any extension"),
    "log_retention_days": ("integer", "90", False, "Days view and download events are kept"),
    "trash_retention_days": ("integer", "30", True, "Days a deleted file can still be restored"),
}

categories = sa.table(
    "file_categories",
    sa.column("name", sa.String),
    sa.column("description", sa.String),
    sa.column("is_active", sa.Boolean),
    sa.column("created_at", UTCDateTime()),
)
extensions = sa.table(
    "file_extensions",
    sa.column("extension", sa.String),
    sa.column("mime_type", sa.String),
    sa.column("is_allowed", sa.Boolean),
    sa.column("max_file_size", sa.BigInteger),
    sa.column("created_at", UTCDateTime()),
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


def upgrade() -> None:
    now = datetime.now(UTC)
    _insert_missing(
        categories,
        [
            {"name": name, "description": text, "is_active": True, "created_at": now}
            for name, text in CATEGORIES.items()
        ],
    )
    _insert_missing(
        extensions,
        [
            {
                "extension": ext,
                "mime_type": mime,
                "is_allowed": allowed,
                "max_file_size": size,
                "created_at": now,
            }
            for ext, (mime, allowed, size) in EXTENSIONS.items()
        ],
    )
    _insert_missing(
        settings,
        [
            {
                "setting_key": key,
                "setting_type": kind,
                "setting_value": value,
                "is_public": public,
                "description": text,
                "created_at": now,
                "updated_at": now,
            }
            for key, (kind, value, public, text) in SETTINGS.items()
        ],
    )


def downgrade() -> None:
    """Removes the default rows by key, also where they were there before the upgrade."""
    op.execute(sa.delete(settings).where(settings.c.setting_key.in_(SETTINGS)))
    op.execute(sa.delete(extensions).where(extensions.c.extension.in_(EXTENSIONS)))
    op.execute(sa.delete(categories).where(categories.c.name.in_(CATEGORIES)))


def _insert_missing(table: sa.TableClause, rows: list[dict[str, Any]]) -> None:
    """One INSERT that skips rows whose unique key exists (and fails on any other error);
    it also renders for offline SQL."""
    dialect = op.get_context().dialect.name
    statement: sa.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:
        key = next(iter(rows[0]))  # the unique column comes first in every row
        statement = mysql.insert(table).on_duplicate_key_update({key: table.c[key]})
    op.execute(statement.values(rows))
