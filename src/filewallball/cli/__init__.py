"""The ``filewallball`` command: one Click group, one module per group of subcommands."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.engine import URL

from filewallball import __version__
from filewallball.cli.backup import backup
from filewallball.cli.db import db
from filewallball.cli.files import info, restore, rm, search, tag, untag
from filewallball.cli.fsck import fsck
from filewallball.cli.get import get
from filewallball.cli.init import init
from filewallball.cli.keys import keys
from filewallball.cli.policies import policies
from filewallball.cli.problems import one_line
from filewallball.cli.purge import purge
from filewallball.cli.serve import serve
from filewallball.cli.stats import stats
from filewallball.cli.upload import upload
from filewallball.cli.users import users
from filewallball.settings import get_settings

__all__ = ["main"]


class _Commands(click.Group):
    """Every command ends a bad setting or an unreachable database with one line naming
    the problem and what to do, and exit code 1 (cli.problems), not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            message = one_line(error, _configured_url())
            if message is None:
                raise
            raise click.ClickException(message) from error


def _configured_url() -> URL | None:
    try:
        return get_settings().sqlalchemy_url
    except Exception:  # the settings themselves are what is wrong
        return None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filewallball")
def main() -> None:
    """FileWallBall: self-hosted file storage.

    Configuration comes from FILEWALLBALL_* environment variables or a .env file.
    """


main.add_command(db)
main.add_command(init)
main.add_command(serve)
main.add_command(policies)
main.add_command(users)
main.add_command(keys)
for command in (upload, search, info, get, rm, restore, tag, untag, stats, purge, fsck, backup):
    main.add_command(command)
main.add_command(search, name="ls")
