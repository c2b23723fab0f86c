"""``filewallball backup DIR`` and ``filewallball restore DIR``: a consistent copy of an
installation, and putting one back into an empty installation.

A backup is the database first, then the blobs its rows name. Rows only ever name
blobs already in the store (blob first, then the row), and blobs are immutable and
named by their content, so blobs copied after the database snapshot are exactly the
bytes the snapshot's rows mean. One gap remains: a purge between the snapshot and the
copy removes a blob the snapshot still names. So every blob in the store is linked (or
copied) into the backup before the snapshot, and afterwards the backup keeps exactly
the contents the snapshot names, each verified against its hash.

SQLite's snapshot is taken with its online backup API, while the service may be
writing. On MariaDB and PostgreSQL the database is the server's: dump it first with the
server's tool (see the README); ``backup`` then copies the blobs the database names and
says so in its manifest.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball import __version__
from filewallball.cli.init import prepare, schema_revision
from filewallball.cli.shared import Installation, open_installation, plural, reports_errors
from filewallball.hashing import CHUNK_SIZE, sha256_of_file
from filewallball.operations.integrity import Contents, named_contents
from filewallball.storage import BlobStore
from filewallball.units import human_size

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_FILE = "filewallball.db"
BLOBS_DIR = "blobs"


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@reports_errors
def backup(directory: Path) -> None:
    """Copy the installation into DIRECTORY (new or empty): the database (SQLite: an
    online snapshot, the service may keep running) and every blob its files need,
    each verified. Blobs are hard-linked when DIRECTORY is on the same filesystem as
    the store; put it on another disk to be safe from that disk's loss.

    On MariaDB and PostgreSQL only the blobs are copied: dump the database first with
    the server's tool (mariadb-dump --single-transaction, pg_dump)."""
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty: back up into a new directory")
    installation = open_installation()
    store = installation.store
    blobs = directory / BLOBS_DIR
    blobs.mkdir(parents=True, exist_ok=True)
    for content_hash in store:  # before the snapshot: a purge after it cannot take them
        _copy_blob(store, content_hash, _blob_path(blobs, content_hash))
    dialect = installation.database.engine.dialect.name
    if dialect == "sqlite":
        snapshot = directory / DATABASE_FILE
        _sqlite_copy(_sqlite_path(installation), snapshot)
        installation.database.dispose()
        engine = sa.create_engine(sa.URL.create("sqlite", database=str(snapshot)))
    else:
        engine = installation.database.engine
    try:
        contents, revision = _contents(engine), _revision(engine)
    finally:
        if dialect == "sqlite":
            engine.dispose()
    unavailable = _keep_exactly(blobs, store, contents.hashes)
    manifest = {
        "format": FORMAT,
        "filewallball_version": __version__,
        "schema_revision": revision,
        "dialect": dialect,
        "database": DATABASE_FILE if dialect == "sqlite" else None,
        "created_at": datetime.now(UTC).isoformat(),
        "counts": {
            "files": contents.files,
            "deleted_files": contents.deleted_files,
            "contents": len(contents.hashes),
            "content_bytes": contents.content_bytes,
            "blobs": len(contents.hashes) - len(unavailable),
        },
        "unavailable": sorted(unavailable),
    }
    _write_durably(directory / MANIFEST, json.dumps(manifest, indent=2).encode())
    click.echo(
        f"backed up {plural(contents.files, 'file')} ({contents.deleted_files} in the trash), "
        f"{plural(len(contents.hashes) - len(unavailable), 'blob')} "
        f"({human_size(contents.content_bytes)}) into {directory}"
    )
    if dialect != "sqlite":
        click.echo(
            f"the {dialect} database is not in the backup: keep the dump you took before "
            "(mariadb-dump --single-transaction or pg_dump) beside it"
        )
    if unavailable:
        raise click.ClickException(
            f"{plural(len(unavailable), 'content')} the database names could not be copied "
            "(missing or damaged in the store; see `filewallball fsck`): "
            + ", ".join(sorted(unavailable)[:5])
        )


def restore_backup(directory: Path) -> None:
    """Put a backup made by ``backup`` into this installation, which must be empty:
    the blobs first (each re-hashed as it is written into the store), then the
    database, then the migrations up to this version."""
    manifest = _read_manifest(directory)
    installation = open_installation(create=True)
    dialect = installation.database.engine.dialect.name
    with_database = manifest["database"] is not None
    if with_database and dialect != "sqlite":
        raise click.ClickException(
            f"this backup holds a SQLite database; this installation uses {dialect}"
        )
    _refuse_unless_empty(installation, check_database=with_database)
    damaged = _restore_blobs(directory / BLOBS_DIR, installation.store)
    if with_database:
        installation.database.dispose()
        _sqlite_copy(directory / manifest["database"], _sqlite_path(installation))
        prepare(installation.settings)  # a backup of an older version is migrated
        files = _contents(installation.database.engine).files
        installation.database.dispose()
        if files != manifest["counts"]["files"]:
            raise click.ClickException(
                f"restored {files} files, the manifest says {manifest['counts']['files']}"
            )
    counts = manifest["counts"]
    click.echo(
        f"restored {plural(counts['files'], 'file')} and "
        f"{plural(counts['blobs'] - len(damaged), 'blob')} from {directory}"
    )
    if not with_database:
        click.echo(
            f"blobs only: load the {manifest['dialect']} dump that goes with them "
            "(before or after), then run `filewallball fsck`"
        )
    if damaged or manifest["unavailable"]:
        raise click.ClickException(
            f"{plural(len(damaged) + len(manifest['unavailable']), 'content')} could not "
            "be restored (damaged in the backup, or already missing when it was made): "
            "`filewallball fsck` lists the files concerned"
        )


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise click.ClickException(
            f"{directory} is not a backup (no {MANIFEST}; an interrupted backup has none)"
        ) from None
    if manifest.get("format") != FORMAT:
        raise click.ClickException(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def _refuse_unless_empty(installation: Installation, *, check_database: bool) -> None:
    blobs = sum(1 for _ in installation.store)
    files = 0
    if check_database:
        engine = installation.database.engine
        if sa.inspect(engine).has_table("files"):
            files = _contents(engine).files
    if blobs or files:
        raise click.ClickException(
            f"refusing to restore into an installation that is not empty ({plural(files, 'file')} "
            f"in the database, {plural(blobs, 'blob')} in the store): restore into a new "
            "data directory and database"
        )


def _restore_blobs(source: Path, store: BlobStore) -> list[str]:
    """Write every blob of the backup into the store the way an upload does (staged,
    hashed, fsynced, placed); returns the names whose bytes did not match."""
    damaged = []
    for path in sorted(source.glob("??/??/*")):
        with store.stage() as staged, path.open("rb") as blob:
            while chunk := blob.read(CHUNK_SIZE):
                staged.write(chunk)
            if staged.finish() != path.name:
                damaged.append(path.name)
                continue
            store.place(staged)
    return damaged


def _keep_exactly(blobs: Path, store: BlobStore, needed: Iterable[str]) -> set[str]:
    """Make the backup's blobs exactly ``needed``, each verified: copy what the first pass
    missed, drop what no row of the snapshot names. Returns what could not be had."""
    needed = set(needed)
    unavailable = set()
    for content_hash in sorted(needed):
        target = _blob_path(blobs, content_hash)
        if not target.exists():
            try:
                _copy_blob(store, content_hash, target)
            except FileNotFoundError:
                unavailable.add(content_hash)
                continue
        if sha256_of_file(target)[0] != content_hash:
            target.unlink()
            unavailable.add(content_hash)
    for path in _blob_files(blobs):
        if path.name not in needed:
            path.unlink()
    return unavailable


def _blob_files(blobs: Path) -> Iterator[Path]:
    yield from sorted(blobs.glob("??/??/*"))


def _blob_path(blobs: Path, content_hash: str) -> Path:
    return blobs / content_hash[:2] / content_hash[2:4] / content_hash


def _copy_blob(store: BlobStore, content_hash: str, target: Path) -> None:
    """Hard-link the blob's local file when the store has one and it is on the same
    filesystem, else copy its bytes; FileNotFoundError when the blob is not there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    source = store.local_path(content_hash)
    if source is not None:
        try:
            os.link(source, target)
            return
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
    with store.open(content_hash) as blob, target.open("wb") as copy:
        shutil.copyfileobj(blob, copy, CHUNK_SIZE)
        copy.flush()
        os.fsync(copy.fileno())


def _sqlite_path(installation: Installation) -> Path:
    database = installation.database.engine.url.database
    if not database or database == ":memory:":
        raise click.ClickException("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy taken while other connections write."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    _write_durably(target, None)


def _write_durably(path: Path, content: bytes | None) -> None:
    """Write ``content`` (None: leave the file as it is) and fsync it and its directory."""
    with path.open("wb" if content is not None else "rb+") as file:
        if content is not None:
            file.write(content)
        file.flush()
        os.fsync(file.fileno())
    descriptor = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _contents(engine: sa.Engine) -> Contents:
    with Session(engine) as session:
        return named_contents(session)


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return schema_revision(connection)
