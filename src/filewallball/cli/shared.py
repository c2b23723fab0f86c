"""What the file commands share: the installation they work on, argument types, how an
error ends a command, and how times are written."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ByteSize, TypeAdapter, ValidationError
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from filewallball.cli.problems import database_problem, missing_database
from filewallball.database import Database
from filewallball.errors import FileWallBallError, InvalidInput
from filewallball.operations.files import parse_file_uuid
from filewallball.operations.tags import normalise_tags
from filewallball.settings import Settings, get_settings
from filewallball.storage import BlobStore, open_store

P = ParamSpec("P")
R = TypeVar("R")


class Installation:
    """The configured database and blob store, as one command sees them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database.from_settings(settings)

    @functools.cached_property
    def store(self) -> BlobStore:
        # Made on first use: commands that only read metadata create no directories.
        return open_store(self.settings)


def open_installation(*, create: bool = False) -> Installation:
    """The installation of the running command; its connections close when the command ends.
    A SQLite database that does not exist is an error, not an empty file left behind,
    unless the command makes one (``create``)."""
    settings = get_settings()
    path = settings.sqlite_path
    if not create and path is not None and not path.exists():
        raise click.ClickException(missing_database(path))
    installation = Installation(settings)
    click.get_current_context().call_on_close(installation.database.dispose)
    return installation


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """End the command with a one-line message and exit code 1, not a traceback, when an
    operation refuses (FileWallBallError) or the database cannot answer."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except FileWallBallError as error:
            raise click.ClickException(str(error)) from error
        except DBAPIError as error:
            url = get_settings().sqlalchemy_url
            raise click.ClickException(database_problem(error, url)) from error

    return run


class FileUUID(click.ParamType[str]):
    name = "uuid"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_file_uuid(value)
        except InvalidInput as error:
            self.fail(str(error), param, ctx)


class Moment(click.ParamType[datetime]):
    """An ISO 8601 date or date and time; without a time zone it is UTC."""

    name = "datetime"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date and time", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


NO_LIMIT = "none"
_BYTE_SIZE: TypeAdapter[ByteSize] = TypeAdapter(ByteSize)


class _Limit(click.ParamType[int | None]):
    """A number from 0 up as ``number`` reads it; ``none``: no limit (None)."""

    wanted = "a number from 0 up"

    def number(self, value: Any) -> int:
        return int(value)

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == NO_LIMIT):
            return None
        try:
            number = self.number(value)
        except (ValueError, ValidationError):
            number = -1
        if number < 0:
            self.fail(f"{value!r} is not {self.wanted}, or {NO_LIMIT}", param, ctx)
        return number


class Size(_Limit):
    """``300MB``, ``1GiB``, ``1048576``; ``none``: no limit (None)."""

    name = "size"
    wanted = "a size like 300MB or 1GiB"

    def number(self, value: Any) -> int:
        return int(_BYTE_SIZE.validate_python(value))


class Count(_Limit):
    name = "count"


FILE_UUID = FileUUID()
MOMENT = Moment()


def tag_names(_ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[str]:
    """Option callback: the stored forms of the tags given (commas separate tags too)."""
    try:
        return normalise_tags(name for value in values for name in value.split(","))
    except InvalidInput as error:
        raise click.BadParameter(str(error), param=param) from None


def json_time(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as the HTTP API writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2))


def moment_text(moment: datetime | None) -> str:
    """A time for people: to the second, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def plural(number: int, noun: str) -> str:
    """``plural(1, "file")`` -> ``"1 file"``; ``plural(2, "file")`` -> ``"2 files"``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def stdout_console() -> Console:
    """Rich output on standard output. When piped it has no width to fit, so a table keeps
    one line per row (Rich would assume 80 columns and wrap)."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 10_000
    return console
