"""``filewallball init``: make a ready installation and say where everything is."""

from __future__ import annotations

from dataclasses import dataclass

import click
from alembic import command
from alembic.runtime.migration import MigrationContext

from filewallball.database import Database
from filewallball.durability import durability_warnings
from filewallball.migrations import alembic_config
from filewallball.settings import Settings, get_settings

__all__ = ["Installation", "init", "prepare"]


@dataclass(frozen=True)
class Installation:
    settings: Settings
    revision: str | None
    round_trip_ms: float | None
    durability_warnings: tuple[str, ...] = ()

    def report(self) -> None:
        url = self.settings.sqlalchemy_url.render_as_string(hide_password=True)
        click.echo(f"data directory   {self.settings.data_dir.resolve()}")
        click.echo(f"database         {url}")
        click.echo(f"schema revision  {self.revision}")
        click.echo(f"round trip       {self.round_trip_ms} ms")
        for warning in self.durability_warnings:
            click.echo(f"warning: {warning} (see Durability in the README)", err=True)


def prepare(settings: Settings) -> Installation:
    """The data directory exists and the schema is at the newest revision."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
            revision = MigrationContext.configure(connection).get_current_revision()
            warnings = tuple(durability_warnings(connection))
        health = database.health()
    finally:
        database.dispose()
    return Installation(settings, revision, health.round_trip_ms, warnings)


@click.command()
def init() -> None:
    """Create the data directory, bring the schema up to date, and report."""
    prepare(get_settings()).report()
