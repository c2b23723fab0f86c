"""``filewallball search`` (or ``ls``), ``info``, ``rm``, ``restore``, ``tag``, ``untag``:
the metadata of stored files. The operator is the administrator: private and
soft-deleted files are theirs to see."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, get_args

import click
from rich.table import Table
from sqlalchemy.orm import Session

from filewallball.cli.backup import restore_backup
from filewallball.cli.shared import (
    FILE_UUID,
    MOMENT,
    echo_json,
    json_time,
    moment_text,
    open_installation,
    plural,
    reports_errors,
    stdout_console,
    tag_names,
)
from filewallball.errors import FileWallBallError, InvalidInput
from filewallball.operations.files import get_file, restore_file, soft_delete_file
from filewallball.operations.records import FileRecord, file_detail, file_record
from filewallball.operations.search import MAX_PAGE_SIZE, FileQuery, SortKey, search_files
from filewallball.operations.tags import add_tags, remove_tags
from filewallball.units import human_size

DEFAULTS = {name: field.default for name, field in FileQuery.model_fields.items()}


@click.command()
@click.argument("text", nargs=-1)
@click.option(
    "--q",
    metavar="TEXT",
    help="Part of the name, in any case and without its accents (or give it as TEXT).",
)
@click.option("--name-prefix", metavar="TEXT", help="Names that start so, compared as --q.")
@click.option("--extension", multiple=True, help="Any of these extensions (repeatable).")
@click.option("--mime", metavar="PREFIX", help="MIME type prefix, e.g. image/ or text/plain.")
@click.option("--category", metavar="NAME", help="Files in this category.")
@click.option("--folder", metavar="PATH", help="Files in exactly this folder ('' for the top).")
@click.option(
    "--folder-prefix", metavar="PATH", help="Files in this folder and everything under it."
)
@click.option("--tag", multiple=True, help="Files with these tags (repeatable).")
@click.option(
    "--tag-mode",
    type=click.Choice(["any", "all"]),
    default=DEFAULTS["tag_mode"],
    show_default=True,
    help="Any of the tags, or all of them.",
)
@click.option("--min-size", type=int, metavar="BYTES", help="At least this many bytes.")
@click.option("--max-size", type=int, metavar="BYTES", help="At most this many bytes.")
@click.option(
    "--created-after", type=MOMENT, help="Uploaded at or after (ISO date or time; naive is UTC)."
)
@click.option(
    "--created-before", type=MOMENT, help="Uploaded at or before (ISO date or time; naive is UTC)."
)
@click.option("--public/--private", "is_public", default=None, help="Only public (private) files.")
@click.option("--include-deleted", is_flag=True, help="Soft-deleted files too.")
@click.option(
    "--sort",
    type=click.Choice(get_args(SortKey)),
    default=DEFAULTS["sort"],
    show_default=True,
)
@click.option(
    "--order", type=click.Choice(["asc", "desc"]), default=DEFAULTS["order"], show_default=True
)
@click.option(
    "--limit",
    type=int,
    default=DEFAULTS["limit"],
    show_default=True,
    help=f"Files per page, at most {MAX_PAGE_SIZE}.",
)
@click.option("--cursor", help="Continue after the page that printed this cursor.")
@click.option("--with-total", is_flag=True, help="Count every matching file too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def search(text: tuple[str, ...], as_json: bool, **params: Any) -> None:
    """List and search files (ls and search are one command): ``search annual report``
    finds the names containing "annual report".

    The filters, sort and cursor pages of GET /api/v1/files; newest first by default.
    The operator sees private files, and soft-deleted ones with --include-deleted."""
    if text:
        if params["q"] is not None:
            raise click.UsageError("give the text to search for once: as TEXT or as --q")
        params["q"] = " ".join(text)
    try:
        query = FileQuery.from_params(
            **{
                key: list(value) if isinstance(value, tuple) else value
                for key, value in params.items()
            }
        )
    except InvalidInput as error:
        raise click.UsageError(str(error)) from None
    with open_installation().database.transaction(read_only=True) as session:
        try:
            page = search_files(session, query)
        except InvalidInput as error:  # a cursor or tag the query could not take
            raise click.UsageError(str(error)) from None
    if as_json:
        items = [file.model_dump(mode="json") for file in page.items]
        echo_json({"items": items, "next_cursor": page.next_cursor, "total": page.total})
        return
    _print_files(page.items)
    if page.total is not None:
        click.echo(f"{plural(page.total, 'matching file')}")
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


def _print_files(files: Sequence[FileRecord]) -> None:
    if not files:
        click.echo("No files match.")
        return
    table = Table(box=None, header_style="bold")
    table.add_column("uuid", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("tags")
    for file in files:
        name = "/".join(filter(None, (file.folder, file.original_filename)))
        name += " (deleted)" if file.is_deleted else ""
        table.add_row(
            file.file_uuid,
            name,
            human_size(file.file_size),
            file.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            ", ".join(file.tags),
            style="dim" if file.is_deleted else None,
        )
    stdout_console().print(table)


@click.command()
@click.argument("file_uuid", metavar="UUID", type=FILE_UUID)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def info(file_uuid: str, as_json: bool) -> None:
    """Show a file's metadata, tags and activity.

    Soft-deleted files are shown too, with when they went to the trash."""
    with open_installation().database.transaction(read_only=True) as session:
        file, activity = file_detail(session, file_uuid, include_deleted=True)
    if as_json:  # the API's file JSON, without its links, with its time in the trash
        echo_json(
            {
                **file.model_dump(mode="json"),
                "deleted_at": json_time(file.deleted_at),
                "activity": activity.model_dump(mode="json"),
            }
        )
        return
    lines = {
        "uuid": file.file_uuid,
        "name": file.original_filename,
        "folder": file.folder or "- (the top)",
        "size": f"{human_size(file.file_size)} ({file.file_size} bytes)",
        "type": f"{file.mime_type} (.{file.file_extension})",
        "sha256": file.file_hash,
        "category": file.category or "-",
        "tags": ", ".join(file.tags) or "-",
        "public": "yes" if file.is_public else "no",
        "created": moment_text(file.created_at),
        "updated": moment_text(file.updated_at),
        "views": str(activity.views),
        "downloads": f"{activity.downloads} ({human_size(activity.bytes_served)} served)",
        "last access": moment_text(activity.last_access),
    }
    if file.deleted_at:
        note = "in the trash: `filewallball restore` brings it back until it is purged"
        lines["deleted"] = f"{moment_text(file.deleted_at)} ({note})"
    width = max(map(len, lines))
    for label, value in lines.items():
        click.echo(f"{label:<{width}}  {value}")


@click.command()
@click.argument("file_uuids", nargs=-1, required=True, metavar="UUID...", type=FILE_UUID)
@reports_errors
def rm(file_uuids: tuple[str, ...]) -> None:
    """Move files to the trash (soft delete).

    `filewallball restore` brings them back until `filewallball purge` removes them."""

    def delete(session: Session, file_uuid: str) -> str:
        was_deleted = get_file(session, file_uuid, include_deleted=True).is_deleted
        file = soft_delete_file(session, file_uuid)
        return _line(
            "already deleted" if was_deleted else "deleted", file.file_uuid, file.original_filename
        )

    _for_each(file_uuids, delete)


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="UUID...|DIR")
@click.pass_context
@reports_errors
def restore(ctx: click.Context, targets: tuple[str, ...]) -> None:
    """Take soft-deleted files out of the trash; or, given one directory, restore the
    backup `filewallball backup` made there into this installation, which must be
    empty."""
    if len(targets) == 1 and Path(targets[0]).is_dir():
        restore_backup(Path(targets[0]))
        return
    file_uuids = tuple(FILE_UUID.convert(target, None, ctx) for target in targets)

    def undelete(session: Session, file_uuid: str) -> str:
        was_deleted = get_file(session, file_uuid, include_deleted=True).is_deleted
        file = restore_file(session, file_uuid)
        return _line(
            "restored" if was_deleted else "not deleted", file.file_uuid, file.original_filename
        )

    _for_each(file_uuids, undelete)


def _for_each(file_uuids: tuple[str, ...], change: Callable[[Session, str], str]) -> None:
    """Each file in its own transaction, as rm(1) goes on past a missing file: every
    failure is reported, the other files are changed, and the exit code is 1."""
    database = open_installation().database
    failures = 0
    for file_uuid in file_uuids:
        try:
            with database.transaction() as session:
                line = change(session, file_uuid)
        except FileWallBallError as error:
            click.echo(f"Error: {error}", err=True)
            failures += 1
        else:
            click.echo(line)
    if failures:
        click.get_current_context().exit(1)


def _line(what: str, file_uuid: str, name: str) -> str:
    return f"{what:<15}  {file_uuid}  {name}"


@click.command()
@click.argument("file_uuid", metavar="UUID", type=FILE_UUID)
@click.argument("tags", nargs=-1, required=True, metavar="TAG...", callback=tag_names)
@reports_errors
def tag(file_uuid: str, tags: list[str]) -> None:
    """Add tags to a file.

    Tags are stored normalised (trimmed, lower case); commas separate tags too."""
    with open_installation().database.transaction() as session:
        add_tags(session, get_file(session, file_uuid), tags)
        line = _tags_line(file_record(session, file_uuid))
    click.echo(line)


@click.command()
@click.argument("file_uuid", metavar="UUID", type=FILE_UUID)
@click.argument("tags", nargs=-1, required=True, metavar="TAG...", callback=tag_names)
@reports_errors
def untag(file_uuid: str, tags: list[str]) -> None:
    """Remove tags from a file.

    Tags the file does not have are ignored."""
    with open_installation().database.transaction() as session:
        remove_tags(session, get_file(session, file_uuid), tags)
        line = _tags_line(file_record(session, file_uuid))
    click.echo(line)


def _tags_line(file: FileRecord) -> str:
    return f"{file.file_uuid}  tags: {', '.join(file.tags) or '-'}"
