"""Alembic's entry point: migrate the configured database, a given connection, or emit SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
    """MariaDB reflects a BOOL default of ``true`` as ``'1'``: the same default, not drift;
    nor is SQLite's ``('')`` for an empty string, which Alembic's comparison misses."""
    if rendered_metadata_default == "" and inspected_default in ("''", "('')"):
        return False
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
    sqlite = connection.dialect.name == "sqlite"
    # Our SQLite engine issues real BEGINs, so DDL there is transactional too.
    configure(
        connection=connection, render_as_batch=sqlite, transactional_ddl=True if sqlite else None
    )
    keys_deferred = _sqlite_foreign_keys_deferred(connection) if sqlite else nullcontext()
    with keys_deferred, context.begin_transaction():
        context.run_migrations()
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
            raise RuntimeError(f"the migration left rows with dangling references: {broken[:5]}")


@contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """A batch migration copies a table, drops the original and renames the copy; with
    foreign keys on, the DROP would cascade into every table that refers to it. They are
    off while migrating (checked before commit) and on again after. The pragma only works
    outside a transaction, so the connection must not have begun one."""
    if connection.in_transaction():
        raise RuntimeError("migrate SQLite through a connection with no transaction begun")
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        if connection.in_transaction():  # Alembic may have begun one after its commit
            connection.commit()
        driver.execute("PRAGMA foreign_keys = ON")
        if driver.execute("PRAGMA foreign_keys").fetchone() != (1,):
            connection.invalidate()  # never hand a connection without foreign keys to the pool


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
