"""``filewallball upload``: files and directory trees into the store, as the HTTP service
takes them: the same checks, the same three transactions around the transfer."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from filewallball.cli.shared import (
    Installation,
    echo_json,
    open_installation,
    plural,
    reports_errors,
    tag_names,
)
from filewallball.errors import FileWallBallError
from filewallball.hashing import CHUNK_SIZE
from filewallball.maintenance import fold_file_counts
from filewallball.operations.clients import Client
from filewallball.operations.uploads import (
    UploadPlan,
    begin_upload,
    check_upload,
    complete_upload,
    fail_upload,
)
from filewallball.storage import StagedBlob
from filewallball.storage.base import SNIFF_BYTES
from filewallball.units import human_size

__all__ = ["upload"]

CLIENT = Client(user_agent="filewallball-cli")


@dataclass(frozen=True)
class Options:
    tags: Sequence[str]
    category: str | None
    is_public: bool


@dataclass(frozen=True)
class Uploaded:
    path: Path
    file_uuid: str
    original_filename: str
    file_size: int
    file_hash: str
    duplicate: bool  # the content was stored already: no new blob

    def json(self) -> dict[str, object]:
        return {
            "file_uuid": self.file_uuid,
            "original_filename": self.original_filename,
            "file_size": self.file_size,
            "file_hash": self.file_hash,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True)
class Failed:
    path: Path
    error: str


@click.command()
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    metavar="PATH...",
    type=click.Path(exists=True, path_type=Path),
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    callback=tag_names,
    help="Tag every file (repeatable; commas separate tags too).",
)
@click.option("--category", metavar="NAME", help="Put every file in this category.")
@click.option(
    "--public/--private", "is_public", default=True, show_default=True, help="Who may see them."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def upload(
    paths: tuple[Path, ...], tags: list[str], category: str | None, is_public: bool, as_json: bool
) -> None:
    """Upload files and directory trees.

    Directories are uploaded recursively, in name order; symbolic links to directories
    are skipped. Each file is checked as the HTTP service checks it (name, extension
    policy, size limit, content). A file that fails is reported and the others are
    stored; the exit code is then 1."""
    installation = open_installation()
    options = Options(tags, category, is_public)
    failed: list[Failed] = []
    sources = [(file, _size(file)) for path in paths for file in _files_in(path, failed)]
    uploaded: list[Uploaded] = []
    stderr = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=as_json or not stderr.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=sum(size for _path, size in sources))
        advance = functools.partial(progress.advance, task)
        finished = 0
        for path, size in sources:
            progress.update(task, description=path.name)
            try:
                uploaded.append(_upload_file(installation, path, options, advance))
            except (FileWallBallError, OSError) as error:
                failed.append(Failed(path, _describe(error)))
            finished += size
            progress.update(task, completed=finished)
    if uploaded:
        fold_file_counts(installation.database)
    if as_json:
        echo_json(
            {
                "uploaded": [file.json() for file in uploaded],
                "failed": [
                    {"path": str(failure.path), "error": failure.error} for failure in failed
                ],
            }
        )
    else:
        _report(uploaded, failed)
    if failed:
        click.get_current_context().exit(1)


def _files_in(path: Path, failed: list[Failed]) -> Iterator[Path]:
    """The regular files at ``path``, sorted; unreadable directories go to ``failed``."""
    if not path.is_dir():
        if path.is_file():
            yield path
        else:
            failed.append(Failed(path, "not a regular file or a directory"))
        return

    def unreadable(error: OSError) -> None:
        failed.append(Failed(Path(error.filename or path), _describe(error)))

    # Symbolic links to directories are listed among the directories but not entered.
    for directory, directories, names in os.walk(path, onerror=unreadable):
        directories.sort()
        for name in sorted(names):
            file = Path(directory, name)
            if file.is_file():  # not a socket, a pipe or a dangling link
                yield file


def _size(file: Path) -> int:
    """For the progress bar; a file that cannot be read fails when it is uploaded."""
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _upload_file(
    installation: Installation,
    path: Path,
    options: Options,
    advance: Callable[[int], None],
) -> Uploaded:
    database, store = installation.database, installation.store
    with database.transaction() as session:
        plan = check_upload(
            session,
            path.name,
            tags=options.tags,
            category=options.category,
            is_public=options.is_public,
        )
        upload_id = begin_upload(session, CLIENT)
    staged: StagedBlob | None = None
    try:
        staged = store.stage(limit=plan.limit)
        _receive(path, plan, staged, advance)
        with database.transaction() as session:
            completed = complete_upload(session, store, plan, staged, upload_id)
            file = completed.file
            return Uploaded(
                path=path,
                file_uuid=file.file_uuid,
                original_filename=file.original_filename,
                file_size=file.file_size,
                file_hash=file.file_hash,
                duplicate=completed.duplicate,
            )
    except BaseException:
        with database.transaction() as session:
            fail_upload(session, store, upload_id, staged)
        raise


def _receive(
    path: Path, plan: UploadPlan, staged: StagedBlob, advance: Callable[[int], None]
) -> None:
    """Stream the file into the staged blob, checking its content as soon as the sniffer
    has seen enough of it."""
    checked = False
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_SIZE):
            staged.write(chunk)
            advance(len(chunk))
            if not checked and len(staged.head) >= SNIFF_BYTES:
                plan.check_content(staged.head)
                checked = True
    if not checked:
        plan.check_content(staged.head)
    staged.finish()


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _report(uploaded: list[Uploaded], failed: list[Failed]) -> None:
    for file in uploaded:
        note = "  (duplicate content)" if file.duplicate else ""
        click.echo(f"{file.file_uuid}  {human_size(file.file_size):>10}  {file.path}{note}")
    for failure in failed:
        click.echo(f"failed: {failure.path}: {failure.error}", err=True)
    size = human_size(sum(file.file_size for file in uploaded))
    duplicates = sum(file.duplicate for file in uploaded)
    summary = (
        f"Uploaded {plural(len(uploaded), 'file')} ({size}), "
        f"{plural(duplicates, 'duplicate')} of content already stored"
    )
    if failed:
        summary += f"; {len(failed)} failed"
    click.echo(summary + ".")
