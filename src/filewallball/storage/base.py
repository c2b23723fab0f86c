"""The blob store's interface: all that a holder of a store may ask of it.

Written to fit an object store as well as the local filesystem: a staged blob can be a
multipart upload to a temporary key, placing it a copy to the content's key, listing a
paginated walk, and a store that has no file on this machine for a blob says so
(``local_path``) instead of pretending. Every method blocks: async code calls it from a
worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, Self

from filewallball.errors import InvalidInput

HASH = re.compile(r"[0-9a-f]{64}")


def blob_key(content_hash: str) -> str:
    """A blob's name in every store, ``ab/cd/abcd…``: two levels of 256 keep any one
    directory (or listing page) small."""
    if not HASH.fullmatch(content_hash):
        raise InvalidInput(f"{content_hash!r} is not a SHA-256 hex digest")
    return f"{content_hash[:2]}/{content_hash[2:4]}/{content_hash}"


def aside(into: Path, name: str) -> Path:
    """Where a stray called ``name`` goes under ``into``: its own relative path, or
    with ``.1``, ``.2``... when something is there already (it is never overwritten)."""
    target = into / name
    suffix = 0
    while target.exists() or target.is_symlink():
        suffix += 1
        target = into / f"{name}.{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


@dataclass(frozen=True)
class BlobInfo:
    content_hash: str
    size: int
    modified_at: datetime


@dataclass(frozen=True)
class Space:
    free_bytes: int
    total_bytes: int


class StagedBlob(Protocol):
    """Bytes on their way into the store, hashed as they arrive. Nothing is visible under
    a blob's name until the store places the finished blob there (``BlobStore.place``).
    Used as a context manager, it is discarded on the way out; a blob placed from it
    stays."""

    @property
    def size(self) -> int:
        """How many bytes were written."""

    @property
    def content_hash(self) -> str | None:
        """The SHA-256 of the bytes, once ``finish`` has returned it."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; StorageFull when the store has no room for it."""

    def finish(self) -> str:
        """Make the bytes durable and return their SHA-256."""

    def discard(self) -> None:
        """Drop the staged copy (a blob placed from it stays); again, nothing happens."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *_exc: object) -> None: ...


class BlobStore(Protocol):
    """Content-addressed storage: a blob is named by the SHA-256 of its bytes."""

    def stage(self) -> StagedBlob:
        """A new staged blob to write an upload into."""

    def place(self, staged: StagedBlob, *, replace: bool = False) -> bool:
        """Make a finished staged blob readable under its hash, durably. Returns False
        when an intact blob was already there, or this staged copy was placed already;
        ``replace`` puts the staged copy in place regardless (the one there is known
        damaged). The staged copy stays until ``discard``, so it can be placed again
        (a transaction run twice, or the blob removed after an earlier placing)."""

    def key(self, content_hash: str) -> str:
        """The blob's name inside the store (``files.storage_path``)."""

    def open(self, content_hash: str) -> BinaryIO:
        """The blob's bytes, seekable (FileNotFoundError when it is not there)."""

    def local_path(self, content_hash: str) -> Path | None:
        """The blob's file on this machine, for the server to send from the kernel or a
        backup to hard-link; None from a store that keeps no such file."""

    def stat(self, content_hash: str) -> BlobInfo | None: ...

    def delete(self, content_hash: str) -> bool:
        """Remove the blob; False when it was not there."""

    def __iter__(self) -> Iterator[str]:
        """The hash of every blob in the store, in hash order, read a page at a time."""

    def dead_temporary(self, older_than: datetime | None = None) -> list[str]:
        """The staged blobs no upload is writing any more (left by a crash), all of them
        or those last written before ``older_than``."""

    def remove_temporary(self, older_than: datetime | None = None) -> int:
        """Remove what ``dead_temporary`` names, never a blob an upload is still
        writing; returns how many went."""

    def strays(self) -> list[str]:
        """What is in the store's space that the store did not put there, by names
        relative to it."""

    def move_stray(self, name: str, into: Path) -> Path:
        """Move a stray out of the store to the same relative path under the local
        directory ``into``, never over something already there; returns where it went."""

    def space(self) -> Space | None:
        """Room left for blobs; None from a store without such a bound."""
