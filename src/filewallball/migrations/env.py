"""Alembic's entry point: migrate the configured database, a given connection, or emit SQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from filewallball.database import create_database_engine
from filewallball.models import Base
from filewallball.settings import get_settings

config = context.config


def compare_server_default(  # noqa: PLR0917 - Alembic's hook signature
    context: MigrationContext,
    inspected_column: sa.Column[Any],
    metadata_column: sa.Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """MariaDB reflects a BOOL default of ``true`` as ``'1'``: the same default, not drift."""
    if (
        context.dialect.name in ("mysql", "mariadb")
        and isinstance(metadata_column.type, sa.Boolean)
        and rendered_metadata_default is not None
    ):
        expected = {"true": "1", "false": "0"}.get(rendered_metadata_default.lower())
        return (inspected_default or "").strip("'") != expected
    return None  # Alembic's own comparison


def configure(**target: Any) -> None:
    """Configure Alembic for a connection or, offline, a URL; compare as autogenerate should."""
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        compare_server_default=compare_server_default,
        **target,
    )


def run_offline() -> None:
    url = config.attributes.get("offline_url") or get_settings().sqlalchemy_url
    configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=str(url).startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (given := config.attributes.get("connection")) is not None:
    run_online(given)
else:
    engine = create_database_engine(get_settings())
    try:
        with engine.connect() as connection:
            run_online(connection)
    finally:
        engine.dispose()
