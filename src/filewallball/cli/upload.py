"""``filewallball upload``: files and directory trees into the store, as the HTTP service
takes them: the same upload (``uploading.Upload``), fed from each file."""

from __future__ import annotations

import asyncio
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
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlalchemy.orm import Session

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
from filewallball.operations.uploads import Completed
from filewallball.storage import BlobStore
from filewallball.units import human_size
from filewallball.uploading import CommandRunner, Runner, Upload

CLIENT = Client(user_agent="filewallball-cli")


@dataclass(frozen=True)
class Options:
    tags: Sequence[str]
    category: str | None
    is_public: bool
    replace: bool = False


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    folder: str  # where it goes in the store


@dataclass(frozen=True)
class Uploaded:
    path: Path
    file_uuid: str
    original_filename: str
    folder: str
    file_size: int
    file_hash: str
    duplicate: bool  # the content was stored already: no new blob

    def json(self) -> dict[str, object]:
        return {
            "file_uuid": self.file_uuid,
            "original_filename": self.original_filename,
            "folder": self.folder,
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
@click.option(
    "--folder",
    metavar="PATH",
    default="",
    help="Store them in this folder (names joined by /).  [default: the top]",
)
@click.option(
    "--strip-root",
    is_flag=True,
    help="Store what is in a directory without the directory's own name as a folder.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Move the files of the same name in the same folder to the trash.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def upload(  # noqa: PLR0917 - one parameter per option
    paths: tuple[Path, ...],
    tags: list[str],
    category: str | None,
    is_public: bool,
    folder: str,
    strip_root: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Upload files and directory trees.

    Directories are uploaded recursively, in name order; symbolic links to directories
    are skipped. A directory's files keep their paths as folders, under the directory's
    own name (photos/2024/x.jpg), or below it with --strip-root (2024/x.jpg); --folder
    puts all of it in a folder. Each file is checked as the HTTP service checks it
    (name, folder, extension policy, size limit, content). A file that fails is reported
    and the others are stored; the exit code is then 1."""
    installation = open_installation()
    options = Options(tags, category, is_public, replace)
    failed: list[Failed] = []
    sources = [
        Source(file, _size(file), _folder_of(file, path, folder, strip_root=strip_root))
        for path in paths
        for file in _files_in(path, failed)
    ]
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
        task = progress.add_task("", total=sum(source.size for source in sources))
        uploading = _upload_each(
            installation, sources, options, failed, progress=progress, task=task
        )
        uploaded = asyncio.run(uploading)
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


def _folder_of(file: Path, given: Path, folder: str, *, strip_root: bool) -> str:
    """The folder ``file`` goes to: ``folder``, then, for a file found in directory
    ``given``, its path in there, under the directory's own name unless ``strip_root``."""
    parts = [folder] if folder else []
    if file != given:
        if not strip_root:
            parts.append(given.resolve().name)
        parts += file.parent.relative_to(given).parts
    return "/".join(part for part in parts if part)


def _size(file: Path) -> int:
    """For the progress bar; a file that cannot be read fails when it is uploaded."""
    try:
        return file.stat().st_size
    except OSError:
        return 0


async def _upload_each(
    installation: Installation,
    sources: list[Source],
    options: Options,
    failed: list[Failed],
    *,
    progress: Progress,
    task: TaskID,
) -> list[Uploaded]:
    runner, store = CommandRunner(installation.database), installation.store
    advance = functools.partial(progress.advance, task)
    uploaded: list[Uploaded] = []
    finished = 0
    for source in sources:
        progress.update(task, description=source.path.name)
        try:
            uploaded.append(await _upload_file(runner, store, source, options, advance))
        except (FileWallBallError, OSError) as error:
            failed.append(Failed(source.path, _describe(error)))
        finished += source.size
        progress.update(task, completed=finished)
    return uploaded


async def _upload_file(
    runner: Runner,
    store: BlobStore,
    source: Source,
    options: Options,
    advance: Callable[[int], None],
) -> Uploaded:
    async with Upload(runner, store, CLIENT) as upload:
        await upload.start(
            source.path.name,
            tags=options.tags,
            category=options.category,
            is_public=options.is_public,
            folder=source.folder,
            replace=options.replace,
        )
        with source.path.open("rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                await upload.write(chunk)
                advance(len(chunk))
        return await upload.finish(functools.partial(_uploaded, source.path))


def _uploaded(path: Path, _session: Session, completed: Completed) -> Uploaded:
    file = completed.file
    return Uploaded(
        path=path,
        file_uuid=file.file_uuid,
        original_filename=file.original_filename,
        folder=file.folder,
        file_size=file.file_size,
        file_hash=file.file_hash,
        duplicate=completed.duplicate,
    )


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
