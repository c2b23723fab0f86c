"""The ``filewallball`` command: one Click group, one module per group of subcommands."""

from __future__ import annotations

import click

from filewallball import __version__
from filewallball.cli.db import db
from filewallball.cli.init import init

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filewallball")
def main() -> None:
    """FileWallBall: self-hosted file storage.

    Configuration comes from FILEWALLBALL_* environment variables or a .env file.
    """


main.add_command(db)
main.add_command(init)
