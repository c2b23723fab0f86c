"""SHA-256 of content read in chunks, so no file is ever held in memory whole."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024


def sha256_of_stream(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """The hex digest and the number of bytes read to the end of ``stream``."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_of_file(path: Path, *, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    with path.open("rb") as stream:
        return sha256_of_stream(stream, chunk_size=chunk_size)
