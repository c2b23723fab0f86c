"""``filewallball purge``: empty the trash of files deleted long enough ago, and remove
the contents no file refers to any more."""

from __future__ import annotations

from datetime import timedelta

import click

from filewallball.cli.shared import (
    Installation,
    echo_json,
    json_time,
    moment_text,
    open_installation,
    plural,
    reports_errors,
)
from filewallball.maintenance import fold_file_counts, purge_trash, retention_days
from filewallball.operations.files import purge_candidates
from filewallball.units import human_size

DRY_RUN_LIMIT = 10_000  # rows listed by --dry-run; purge_candidates cannot page further


@click.command()
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Purge files deleted more than DAYS days ago.  [default: trash_retention_days]",
)
@click.option("--dry-run", is_flag=True, help="List what would be purged; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def purge(days: int | None, dry_run: bool, as_json: bool) -> None:
    """Delete old soft-deleted files for good.

    Rows go in committed batches; then each of their contents is removed from the store
    unless another file (live or in the trash) has the same content. The service does
    the same by itself, hourly."""
    installation = open_installation()
    if days is None:
        days = retention_days(installation.database, "trash_retention_days")
    older_than = timedelta(days=days)
    if dry_run:
        _dry_run(installation, older_than, days, as_json=as_json)
        return
    purged = purge_trash(installation.database, installation.store, older_than)
    fold_file_counts(installation.database)
    if as_json:
        echo_json(
            {
                "older_than_days": days,
                "files_purged": purged.files,
                "blobs_removed": purged.blobs,
                "bytes_freed": purged.bytes_freed,
            }
        )
        return
    click.echo(
        f"Purged {plural(purged.files, 'file')} deleted more than {plural(days, 'day')} ago; "
        f"removed {plural(purged.blobs, 'content')} no file refers to any more, "
        f"freeing {human_size(purged.bytes_freed)}."
    )


def _dry_run(
    installation: Installation, older_than: timedelta, days: int, *, as_json: bool
) -> None:
    with installation.database.transaction() as session:
        files = purge_candidates(session, older_than, limit=DRY_RUN_LIMIT)
    complete = len(files) < DRY_RUN_LIMIT
    if as_json:
        items = [
            {
                "file_uuid": file.file_uuid,
                "original_filename": file.original_filename,
                "file_size": file.file_size,
                "file_hash": file.file_hash,
                "deleted_at": json_time(file.deleted_at),
            }
            for file in files
        ]
        echo_json({"older_than_days": days, "files": items, "complete": complete})
        return
    for file in files:
        click.echo(f"{file.file_uuid}  {moment_text(file.deleted_at)}  {file.original_filename}")
    more = "" if complete else f" (the first {DRY_RUN_LIMIT}; there are more)"
    size = human_size(sum(file.file_size for file in files))
    click.echo(
        f"Would purge {plural(len(files), 'file')} ({size}) deleted more than "
        f"{plural(days, 'day')} ago{more}; "
        "their contents go too unless other files have them."
    )
