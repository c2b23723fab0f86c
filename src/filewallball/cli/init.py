"""``filewallball init``: make a ready installation and say where everything is."""

from __future__ import annotations

import click
from alembic import command
from alembic.runtime.migration import MigrationContext

from filewallball.database import Database
from filewallball.migrations import alembic_config
from filewallball.settings import get_settings

__all__ = ["init"]


@click.command()
def init() -> None:
    """Create the data directory, bring the schema up to date, and report."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
            revision = MigrationContext.configure(connection).get_current_revision()
        health = database.health()
    finally:
        database.dispose()
    url = settings.sqlalchemy_url.render_as_string(hide_password=True)
    click.echo(f"data directory   {settings.data_dir.resolve()}")
    click.echo(f"database         {url}")
    click.echo(f"schema revision  {revision}")
    click.echo(f"round trip       {health.round_trip_ms} ms")
