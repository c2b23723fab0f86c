"""The ``filewallball`` command: one Click group, one module per group of subcommands."""

from __future__ import annotations

import click

from filewallball import __version__
from filewallball.cli.backup import backup
from filewallball.cli.db import db
from filewallball.cli.files import info, restore, rm, search, tag, untag
from filewallball.cli.fsck import fsck
from filewallball.cli.get import get
from filewallball.cli.init import init
from filewallball.cli.purge import purge
from filewallball.cli.serve import serve
from filewallball.cli.stats import stats
from filewallball.cli.upload import upload

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filewallball")
def main() -> None:
    """FileWallBall: self-hosted file storage.

    Configuration comes from FILEWALLBALL_* environment variables or a .env file.
    """


main.add_command(db)
main.add_command(init)
main.add_command(serve)
for command in (upload, search, info, get, rm, restore, tag, untag, stats, purge, fsck, backup):
    main.add_command(command)
main.add_command(search, name="ls")
