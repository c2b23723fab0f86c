"""The blob store on the local filesystem: ``<root>/ab/cd/abcd…`` for each SHA-256."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Self

from filewallball.errors import StorageFull
from filewallball.storage.base import HASH, BlobInfo, Space, StagedBlob, aside, blob_key

_PREFIX = re.compile(r"[0-9a-f]{2}")
TEMPORARY_DIR = ".staging"  # inside the root: same filesystem, so renames are atomic


class StagedFile:
    """A staged blob in a temporary file under the store's root, hashed as it is written,
    in one pass. It stays open, and locked, until it is discarded: the store places it
    by a hard link, so the staged copy can be placed again as long as the upload runs,
    and no clean-up takes it for a crashed upload's leftover meanwhile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._digest = hashlib.sha256()
        self._file: BinaryIO | None = path.open("xb")
        # Held while the upload runs, released by the kernel if the process dies: how
        # a clean-up in any process tells a live upload from a crashed one's leftovers.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.content_hash: str | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._file is None or self.content_hash is not None:
            raise RuntimeError("the staged blob is closed")
        self._digest.update(data)
        with _full_disk_is_storage_full():
            self._file.write(data)
        self.size += len(data)

    def finish(self) -> str:
        if self._file is None or self.content_hash is not None:
            raise RuntimeError("the staged blob is closed")
        with _full_disk_is_storage_full():
            self._file.flush()
            os.fsync(self._file.fileno())
        self.content_hash = self._digest.hexdigest()
        return self.content_hash

    def discard(self) -> None:
        if self._file is not None:
            with suppress(OSError):  # closing flushes, which fails again on a full disk
                self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()


@contextmanager
def _full_disk_is_storage_full() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull("no space left on the storage device for this upload") from None
        raise


class LocalBlobStore:
    """Writes are atomic and durable: an upload streams into a temporary file under the
    root, which is fsynced, renamed to its hash's path, and the directory fsynced, so a
    reader sees a whole blob or none, and a blob the database names survives a crash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.temporary = root / TEMPORARY_DIR
        self.temporary.mkdir(parents=True, exist_ok=True)

    def stage(self) -> StagedFile:
        return StagedFile(self.temporary / f"{uuid.uuid4().hex}.part")

    def key(self, content_hash: str) -> str:
        return blob_key(content_hash)

    def local_path(self, content_hash: str) -> Path:
        return self.root / self.key(content_hash)

    def place(self, staged: StagedBlob, *, replace: bool = False) -> bool:
        """A hard link to the staged file under the blob's name, made in the temporary
        directory and renamed over the name: atomic, and the staged copy stays, to be
        placed again if the blob is removed before the upload's row is written. The
        staged file was fsynced by ``finish``; the directory fsync makes the name
        durable."""
        if not isinstance(staged, StagedFile):
            raise TypeError("a staged blob is placed by the store that staged it")
        if staged.content_hash is None:
            raise RuntimeError("finish() the staged blob before placing it")
        target = self.local_path(staged.content_hash)
        try:
            existing = target.stat()
        except FileNotFoundError:
            existing = None
        if existing is not None:
            if os.path.samestat(existing, staged.path.stat()):
                return False  # placed from this staged copy already
            if existing.st_size == staged.size and not replace:
                return False
        # Missing, or damaged (wrong size, or known to be): the staged copy has the
        # verified bytes.
        target.parent.mkdir(parents=True, exist_ok=True)
        link = self.temporary / f"{uuid.uuid4().hex}.link"  # a crash leaves a dead temporary
        os.link(staged.path, link)
        os.replace(link, target)
        _fsync_directory(target.parent)
        return True

    def open(self, content_hash: str) -> BinaryIO:
        return self.local_path(content_hash).open("rb")

    def stat(self, content_hash: str) -> BlobInfo | None:
        try:
            result = self.local_path(content_hash).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(content_hash, result.st_size, datetime.fromtimestamp(result.st_mtime, UTC))

    def delete(self, content_hash: str) -> bool:
        path = self.local_path(content_hash)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_directory(path.parent)
        return True

    def __iter__(self) -> Iterator[str]:
        for first in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for path in sorted(first.glob("[0-9a-f][0-9a-f]/*")):
                if HASH.fullmatch(path.name) and path.name[:4] == first.name + path.parent.name:
                    yield path.name

    def space(self) -> Space:
        usage = shutil.disk_usage(self.root)
        return Space(usage.free, usage.total)

    def strays(self) -> list[str]:
        """What is in the store that the store did not put there, as paths relative to the
        root: a file not named by a hash, a blob under another hash's ``ab/cd/`` prefix, a
        symbolic link, a directory where none belongs (one entry for it, not its
        contents). In the temporary directory, what is not a regular file: its files are
        ``dead_temporary``'s."""
        found: list[str] = []
        for first in _entries(self.root):
            if first.name == TEMPORARY_DIR:
                found += [
                    f"{TEMPORARY_DIR}/{entry.name}"
                    for entry in _entries(self.temporary)
                    if not entry.is_file(follow_symlinks=False)
                ]
                continue
            if not _is_prefix_directory(first):
                found.append(first.name)
                continue
            for second in _entries(Path(first.path)):
                if not _is_prefix_directory(second):
                    found.append(f"{first.name}/{second.name}")
                    continue
                for leaf in _entries(Path(second.path)):
                    expected = first.name + second.name
                    named = HASH.fullmatch(leaf.name) and leaf.name[:4] == expected
                    if not (named and leaf.is_file(follow_symlinks=False)):
                        found.append(f"{first.name}/{second.name}/{leaf.name}")
        return found

    def move_stray(self, name: str, into: Path) -> Path:
        """Move a stray (``strays()``) to the same relative path under ``into``, never
        over something already there; returns where it went. A misplaced file is
        somebody's: it is moved aside, never deleted."""
        source = self.root / name
        target = aside(into, name)
        shutil.move(source, target)
        _fsync_directory(source.parent)
        return target

    def dead_temporary(self, older_than: datetime | None = None) -> list[str]:
        """The staged files whose writer's lock is gone."""
        return [path.name for path in self._dead_temporary(older_than, remove=False)]

    def remove_temporary(self, older_than: datetime | None = None) -> int:
        return len(self._dead_temporary(older_than, remove=True))

    def _dead_temporary(self, older_than: datetime | None, *, remove: bool) -> list[Path]:
        dead = []
        for path in sorted(self.temporary.iterdir()):
            if path.is_symlink() or not path.is_file():
                continue  # not an upload's: a stray
            try:
                with path.open("rb") as file:
                    fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    modified = datetime.fromtimestamp(os.fstat(file.fileno()).st_mtime, UTC)
                    if older_than is None or modified < older_than:
                        if remove:
                            path.unlink()
                        dead.append(path)
            except BlockingIOError:
                continue  # an upload in progress, in this process or another
            except FileNotFoundError:
                continue  # finished meanwhile
        return dead


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    with os.scandir(directory) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def _is_prefix_directory(entry: os.DirEntry[str]) -> bool:
    return bool(_PREFIX.fullmatch(entry.name)) and entry.is_dir(follow_symlinks=False)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
