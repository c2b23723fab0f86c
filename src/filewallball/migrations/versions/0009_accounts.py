"""Accounts (SPEC section 8): ``users``, their ``api_keys``, ``files.owner_id``, and the
system setting ``public_listing`` (true: anonymous callers may list the public files).

Every file already there keeps a null owner: it is the admin's, counted against nobody's
quota. SQLite gets the column by ``ALTER TABLE ADD COLUMN`` with its foreign key written
inline, not by a batch rebuild of ``files``, which would drop the triggers of revision
0005 with the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql, sqlite

from filewallball.models.types import Identifier, UTCDateTime, utcnow

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS: dict[str, Any] = {
    f"{prefix}_{option}": value
    for prefix in ("mysql", "mariadb")
    for option, value in (("engine", "InnoDB"), ("charset", "utf8mb4"), ("collate", "utf8mb4_bin"))
}
OWNER_KEY = "fk_files_owner_id_users"
OWNER_INDEX = "ix_files_owner_id"
SETTING = "public_listing"
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
    op.create_table(
        "users",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255)),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger()),
        sa.Column("quota_files", sa.BigInteger()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("role IN ('admin', 'member')", name="ck_users_role_known"),
        sa.CheckConstraint("quota_bytes >= 0", name="ck_users_quota_bytes_non_negative"),
        sa.CheckConstraint("quota_files >= 0", name="ck_users_quota_files_non_negative"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("user_id", Identifier, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(8), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("expires_at", UTCDateTime()),
        sa.Column("last_used_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_keys_user_id_users"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE files ADD COLUMN owner_id INTEGER CONSTRAINT {OWNER_KEY} "
            "REFERENCES users (id)"
        )
        op.create_index(OWNER_INDEX, "files", ["owner_id"])
    else:
        op.add_column("files", sa.Column("owner_id", Identifier))
        # The index first: MariaDB's foreign key then uses it instead of making its own.
        op.create_index(OWNER_INDEX, "files", ["owner_id"])
        op.create_foreign_key(OWNER_KEY, "files", "users", ["owner_id"], ["id"])
    _insert_missing(
        {
            "setting_key": SETTING,
            "setting_type": "boolean",
            "setting_value": "true",
            "is_public": True,
            "description": "true: anonymous callers may list the public files; "
            "false: listing needs a credential (files stay readable by URL)",
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
    op.execute(sa.delete(settings).where(settings.c.setting_key == SETTING))
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint(OWNER_KEY, "files", type_="foreignkey")
    op.drop_index(OWNER_INDEX, table_name="files")
    if op.get_context().dialect.name == "sqlite":
        op.execute("ALTER TABLE files DROP COLUMN owner_id")
    else:
        op.drop_column("files", "owner_id")
    op.drop_table("api_keys")
    op.drop_table("users")
