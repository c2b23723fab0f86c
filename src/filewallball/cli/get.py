"""``filewallball get``: a file's content out of the store, or a folder's files as a
tree of directories, each checked against its SHA-256 on the way."""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from filewallball.cli.shared import FILE_UUID, Installation, open_installation, reports_errors
from filewallball.errors import FileWallBallError, Gone
from filewallball.filenames import check_folder
from filewallball.hashing import CHUNK_SIZE
from filewallball.operations.records import FileRecord, file_record
from filewallball.operations.search import MAX_PAGE_SIZE, FileQuery, search_files
from filewallball.storage import BlobStore
from filewallball.units import human_size


@click.command()
@click.argument("file_uuid", metavar="[UUID]", type=FILE_UUID, required=False)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="A file, a directory, or - for standard output.  [default: the file's name, here]",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option(
    "--folder",
    metavar="PATH",
    help="Instead of one file: the live files of this folder and below it, as a tree of "
    "directories in the output directory (empty: every folder).",
)
@reports_errors
def get(file_uuid: str | None, output: str | None, force: bool, folder: str | None) -> None:
    """Copy a file's content out of the store, or with --folder a folder's files.

    The content is checked against its SHA-256 as it is copied: damaged content fails
    with exit code 1 and leaves no file behind (a file is written whole or not at all).
    Soft-deleted files can be copied too. --folder photos -o DIR writes DIR/photos/...
    as the folders are; it never replaces a file: a name taken already is numbered
    (name (2).ext)."""
    installation = open_installation()
    if folder is not None:
        if file_uuid is not None or force or output == "-":
            raise click.UsageError("--folder takes neither a UUID nor --force nor -o -")
        _get_tree(installation, folder, Path(output or "."))
        return
    if file_uuid is None:
        raise click.UsageError("give a file's UUID, or --folder PATH")
    with installation.database.transaction(read_only=True) as session:
        file = file_record(session, file_uuid, include_deleted=True)
    if output == "-":
        with click.open_file("-", "wb") as stdout:
            try:
                _copy(installation.store, file, stdout)
            except Gone as error:
                message = f"{error}; what was written to standard output is not the file"
                raise Gone(message) from None
            stdout.flush()
        return
    target = Path(output or ".")
    if target.is_dir():
        target /= file.original_filename
    if not force and target.exists():
        raise click.ClickException(f"{target} exists; --force replaces it")
    _save(installation.store, file, target, replace=force)
    click.echo(f"{target}  {human_size(file.file_size)}")


def _get_tree(installation: Installation, folder: str, directory: Path) -> None:
    """Every live file of ``folder`` and below it, under ``directory``; one that fails is
    reported and the others are written (exit code 1)."""
    folder = check_folder(folder)
    root = directory / folder.rpartition("/")[2] if folder else directory
    written = failed = 0
    for file in _files_under(installation, folder):
        below = file.folder[len(folder) :].lstrip("/")
        target = root.joinpath(*below.split("/")) if below else root
        try:
            target.mkdir(parents=True, exist_ok=True)
            placed = _save(installation.store, file, target / file.original_filename, numbered=True)
        except (FileWallBallError, click.ClickException) as error:
            message = error.message if isinstance(error, click.ClickException) else str(error)
            click.echo(f"failed: {file.file_uuid}: {message}", err=True)
            failed += 1
            continue
        except OSError as error:
            click.echo(f"failed: {target}: {error.strerror or error}", err=True)
            failed += 1
            continue
        click.echo(f"{placed}  {human_size(file.file_size)}")
        written += 1
    click.echo(f"Wrote {written} files to {root}" + (f"; {failed} failed." if failed else "."))
    if failed:
        click.get_current_context().exit(1)


def _files_under(installation: Installation, folder: str) -> Iterator[FileRecord]:
    """A page at a time, each in its own read transaction, oldest first."""
    query = FileQuery(folder_prefix=folder, order="asc", limit=MAX_PAGE_SIZE)
    while True:
        with installation.database.transaction(read_only=True) as session:
            page = search_files(session, query)
        yield from page.items
        if page.next_cursor is None:
            return
        query = query.model_copy(update={"cursor": page.next_cursor})


def _save(
    store: BlobStore,
    file: FileRecord,
    target: Path,
    *,
    replace: bool = False,
    numbered: bool = False,
) -> Path:
    """Write the content at ``target`` whole or not at all; where it went. A name taken
    already is replaced, or ``numbered``, or refused."""
    # A hidden name of fixed length: the target's own name may already be the longest allowed.
    partial = target.parent / f".filewallball-{secrets.token_hex(8)}.part"
    try:
        with partial.open("xb") as stream:
            _copy(store, file, stream)
            stream.flush()
            os.fsync(stream.fileno())
        if replace:
            os.replace(partial, target)
            return target
        return _put_in_place(partial, target, numbered=numbered)
    except OSError as error:
        raise click.ClickException(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)


def _copy(store: BlobStore, file: FileRecord, target: IO[bytes]) -> None:
    """Write the content to ``target``; Gone if the store lost it, or if what it holds
    is not what was uploaded (found only at the end: the bytes are then written)."""
    try:
        source = store.open(file.file_hash)
    except FileNotFoundError:
        raise Gone(f"the content of file {file.file_uuid} is missing from the store") from None
    digest, size = hashlib.sha256(), 0
    with source:
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != file.file_hash or size != file.file_size:
        raise Gone(
            f"the stored content of file {file.file_uuid} is damaged: {size} bytes with "
            f"SHA-256 {digest.hexdigest()}, not {file.file_size} bytes with {file.file_hash}"
        )


def _put_in_place(partial: Path, target: Path, *, numbered: bool) -> Path:
    """``partial`` at ``target`` or, ``numbered``, at the first free ``name (2).ext``,
    ``name (3).ext``... A link, unlike a rename, never replaces a file made meanwhile."""
    stem, extension = os.path.splitext(target.name)
    for number in itertools.count(1):
        candidate = target if number == 1 else target.with_name(f"{stem} ({number}){extension}")
        if _link(partial, candidate):
            return candidate
        if not numbered:
            raise click.ClickException(f"{target} exists; --force replaces it")
    raise AssertionError("unreachable")


def _link(partial: Path, target: Path) -> bool:
    """Put ``partial`` at ``target`` unless a file is there."""
    try:
        os.link(partial, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links
        if target.exists():
            return False
        os.replace(partial, target)
    return True
