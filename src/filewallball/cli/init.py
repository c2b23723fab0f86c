"""``filewallball init``: make a ready installation and say where everything is.

Alembic is imported by the functions that migrate or read the revision, not here: it
loads every dialect it knows and Mako, more than all of ``filewallball ls`` needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
from sqlalchemy import Connection

from filewallball.cli.problems import missing_database
from filewallball.database import Database
from filewallball.durability import durability_warnings
from filewallball.settings import Settings, get_settings


@dataclass(frozen=True)
class Prepared:
    """What ``init`` (and ``serve``, ``restore``) found and made ready: the settings in use,
    the schema revision, the database round trip and durability warnings."""

    settings: Settings
    revision: str | None
    round_trip_ms: float | None
    durability_warnings: tuple[str, ...] = ()

    def report(self) -> None:
        url = self.settings.sqlalchemy_url.render_as_string(hide_password=True)
        click.echo(f"settings         {settings_source(self.settings)}")
        click.echo(f"data directory   {self.settings.data_dir.resolve()}")
        click.echo(f"database         {url}")
        click.echo(f"schema revision  {self.revision}")
        click.echo(f"round trip       {self.round_trip_ms} ms")
        for warning in self.durability_warnings:
            click.echo(f"warning: {warning} (see Durability in the README)", err=True)


def settings_source(settings: Settings) -> str:
    """Which ``.env`` was read: the one in the working directory, if there is one."""
    return str(settings.env_file_read or "environment only (no .env here)")


def prepare(settings: Settings) -> Prepared:
    """The data directory exists and the schema is at the newest revision (a SQLite
    database is created here, and only here and by ``db upgrade``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.sqlite_path is not None:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    from filewallball.migrations import alembic_config

    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
            revision = schema_revision(connection)
            warnings = tuple(durability_warnings(connection))
        health = database.health()
    finally:
        database.dispose()
    return Prepared(settings, revision, health.round_trip_ms, warnings)


def check_schema(settings: Settings) -> None:
    """The database exists and has a schema (for ``serve --no-migrate``): one line
    saying how to make it otherwise."""
    path = settings.sqlite_path
    if path is not None and not path.exists():
        raise click.ClickException(missing_database(path))
    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            revision = schema_revision(connection)
    finally:
        database.dispose()
    if revision is None:
        url = settings.sqlalchemy_url.render_as_string(hide_password=True)
        raise click.ClickException(f"{url} has no schema yet: run `filewallball init`")


def schema_revision(connection: Connection) -> str | None:
    """The database's Alembic revision; None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@click.command()
def init() -> None:
    """Create the data directory, bring the schema up to date, and report."""
    prepare(get_settings()).report()
