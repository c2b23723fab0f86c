"""The blob store's interface, and the upload being received into it."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, Self

from filewallball.errors import StorageFull, TooLarge

__all__ = ["SNIFF_BYTES", "BlobInfo", "BlobStore", "StagedBlob"]

SNIFF_BYTES = 8192  # what the content sniffer sees of an upload


@dataclass(frozen=True)
class BlobInfo:
    content_hash: str
    size: int
    modified_at: datetime


class StagedBlob:
    """Bytes on their way into the store: written to a temporary file and hashed as they
    arrive, in one pass. Nothing is visible under a blob's name until the store places
    the finished file there (``BlobStore.place``). Used as a context manager, the
    temporary file is removed on the way out unless it was placed."""

    def __init__(self, path: Path, *, limit: int | None = None) -> None:
        self.path = path
        self.limit = limit
        self.size = 0
        self.head = b""
        self._digest = hashlib.sha256()
        self._file: BinaryIO | None = path.open("xb")
        # Held while the upload runs, released by the kernel if the process dies: how
        # a clean-up in any process tells a live upload from a crashed one's leftovers.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.content_hash: str | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; refuses (TooLarge) the chunk that crosses the limit, before
        writing any of it."""
        if self._file is None:
            raise RuntimeError("the staged blob is closed")
        if self.limit is not None and self.size + len(data) > self.limit:
            raise TooLarge(self.limit)
        if len(self.head) < SNIFF_BYTES:
            self.head += bytes(data[: SNIFF_BYTES - len(self.head)])
        self._digest.update(data)
        with _full_disk_is_storage_full():
            self._file.write(data)
        self.size += len(data)

    def finish(self) -> str:
        """Flush the bytes to the disk and return their SHA-256."""
        if self._file is None:
            raise RuntimeError("the staged blob is closed")
        with _full_disk_is_storage_full():
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
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


class BlobStore(Protocol):
    """Content-addressed storage. Every method is blocking: call it from a worker thread
    in async code."""

    def stage(self, *, limit: int | None = None) -> StagedBlob:
        """A new temporary blob to write an upload into."""

    def place(self, staged: StagedBlob, *, replace: bool = False) -> bool:
        """Make a finished staged blob readable under its hash. Returns False when an
        intact blob was already there (the staged copy is then dropped); ``replace``
        puts the staged copy in place regardless (the one there is known damaged)."""

    def key(self, content_hash: str) -> str:
        """The blob's name inside the store (``files.storage_path``)."""

    def open(self, content_hash: str) -> BinaryIO: ...

    def path(self, content_hash: str) -> Path:
        """Where the blob is on the local disk (for sendfile-style serving)."""

    def stat(self, content_hash: str) -> BlobInfo | None: ...

    def delete(self, content_hash: str) -> bool:
        """Remove the blob; False when it was not there."""

    def __iter__(self) -> Iterator[str]:
        """The hash of every blob in the store."""

    def remove_temporary(self, older_than: datetime | None = None) -> int:
        """Remove staged files left by crashed uploads (all of them, or those last
        written before ``older_than``), never one an upload is still writing; returns
        how many went."""
