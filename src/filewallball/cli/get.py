"""``filewallball get``: a file's content out of the store, checked against its SHA-256
on the way."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import IO

import click

from filewallball.cli.shared import FILE_UUID, open_installation, reports_errors
from filewallball.errors import Gone
from filewallball.hashing import CHUNK_SIZE
from filewallball.models import FileInfo
from filewallball.operations.files import get_file
from filewallball.storage import BlobStore
from filewallball.units import human_size


@click.command()
@click.argument("file_uuid", metavar="UUID", type=FILE_UUID)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="A file, a directory, or - for standard output.  [default: the file's name, here]",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@reports_errors
def get(file_uuid: str, output: str | None, force: bool) -> None:
    """Copy a file's content out of the store.

    The content is checked against its SHA-256 as it is copied: damaged content fails
    with exit code 1 and leaves no file behind (a file is written whole or not at all).
    Soft-deleted files can be copied too."""
    installation = open_installation()
    with installation.database.transaction(read_only=True) as session:
        file = get_file(session, file_uuid, include_deleted=True, lock=False)
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
    # A hidden name of fixed length: the target's own name may already be the longest allowed.
    partial = target.parent / f".filewallball-{secrets.token_hex(8)}.part"
    try:
        with partial.open("xb") as stream:
            _copy(installation.store, file, stream)
            stream.flush()
            os.fsync(stream.fileno())
        _put_in_place(partial, target, replace=force)
    except OSError as error:
        raise click.ClickException(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"{target}  {human_size(file.file_size)}")


def _copy(store: BlobStore, file: FileInfo, target: IO[bytes]) -> None:
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


def _put_in_place(partial: Path, target: Path, *, replace: bool) -> None:
    if replace:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # unlike a rename, never replaces a file made meanwhile
    except FileExistsError:
        raise click.ClickException(f"{target} exists; --force replaces it") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise click.ClickException(f"{target} exists; --force replaces it") from None
        os.replace(partial, target)
