"""Scratch databases for the benchmarks: where the servers are, and fresh, migrated ones.

The servers are the test suite's (the same environment variables); a benchmark's database
is dropped and created again on each run, so a run never measures what the last one left.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import URL, make_url

from filewallball.database import create_database_engine
from filewallball.migrations import alembic_config
from filewallball.settings import Settings
from tests.servers import ADMIN_URLS

DIALECTS = ("sqlite", "mariadb", "postgresql")


def recreate(url: str | URL, *, create: bool = True) -> None:
    """Drop the database a server URL names; then create it empty, unless told not to.
    For SQLite, remove the file and its journals."""
    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.database}{suffix}").unlink(missing_ok=True)
        return
    admin = sa.create_engine(target._replace(database=None), poolclass=sa.NullPool)
    quoted = admin.dialect.identifier_preparer.quote(target.database or "")
    force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
        if create:
            connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
    admin.dispose()


def database_url(dialect: str, name: str, sqlite_dir: Path | None = None) -> URL:
    """Database ``name`` on the server of ``dialect`` (SQLite: ``name.db`` in
    ``sqlite_dir``, by default the temporary directory)."""
    if dialect == "sqlite":
        folder = sqlite_dir or Path(tempfile.gettempdir())
        return URL.create("sqlite", database=str(folder / f"{name}.db"))
    return make_url(ADMIN_URLS[dialect]).set(database=name)


def rendered(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=False)


def migrate(url: str | URL) -> str:
    """Bring the database to the newest revision; returns its server's name (mariadb,
    mysql, postgresql, sqlite)."""
    engine = create_database_engine(Settings(database_url=rendered(url)))
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
    engine.dispose()
    return "mariadb" if getattr(engine.dialect, "is_mariadb", False) else engine.dialect.name


def fresh(url: str | URL) -> str:
    """``url`` dropped, created and migrated; returns its server's name."""
    recreate(url)
    return migrate(url)
