"""The blob store in an S3 bucket: ``<prefix>/ab/cd/abcd…`` for each SHA-256.

The same promises as on disk, kept the object store's way. An upload streams into a
staging object (``<prefix>/.staging/<uuid>``: one PUT when it is small, else a multipart
upload, a part at a time, so a server's memory does not grow with the upload) while it
is hashed; placing it is a server-side copy to the content's key, which S3 makes visible
whole or not at all, so a reader never sees part of a blob. Bytes go once over the
network; the copy stays inside the object store.

An object store cannot tell an upload in progress from one a crash abandoned (there is
no lock to hold), so a staging object or multipart upload counts as dead only once
nothing was written to it for a while: the cutoff the caller gives, else
``QUIET_BEFORE_DEAD``. Those this process is writing are never dead.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from filewallball.errors import InvalidInput, StorageFull
from filewallball.settings import Settings
from filewallball.storage.base import BlobInfo, StagedBlob, aside, blob_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        HeadObjectOutputTypeDef,
        MultipartUploadTypeDef,
    )

log = logging.getLogger("filewallball.storage")

_BLOB = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_STAGING_NAME = re.compile(r"[0-9a-f]{32}")
STAGING = ".staging"
PART_BYTES = 8 * 1024 * 1024  # S3's smallest part is 5 MiB (but for the last)
PARTS_PER_STEP = 1000  # parts grow by PART_BYTES every this many: S3 allows 10 000
COPY_PART_BYTES = 1024 * 1024 * 1024
LARGEST_SINGLE_COPY = 5 * 1024 * 1024 * 1024  # S3's limit for CopyObject
READ_BUFFER_BYTES = 256 * 1024
SENDERS = 16  # threads sending parts, one per upload at a time
QUIET_BEFORE_DEAD = timedelta(hours=1)
MULTIPART = " (unfinished multipart upload)"


def _missing(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


def _quota(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code", "") in (
        "QuotaExceeded",
        "InsufficientCapacity",
    )


class ObjectStoreError(OSError):
    """The object store failed or could not be reached: to the store's holders a
    storage error like a disk's (the service answers 500 ``storage_error``, ``/health``
    says the storage is not writable), not an unknown one."""


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Around every public method (also usable as its decorator)."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise ObjectStoreError(errno.EIO, f"the object store failed: {error}") from error


def client_for(settings: Settings) -> S3Client:
    """An S3 client as the settings and the standard AWS environment say. Checksums
    only where S3 requires them: our SHA-256 is the check that counts, and not every
    S3-compatible store accepts the newer checksum headers."""
    region = (
        settings.s3_region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    config = Config(
        s3={"addressing_style": settings.s3_addressing_style},
        retries={"mode": "standard"},
        max_pool_connections=64,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=region, config=config
    )


class StagedObject:
    """A staged blob: a staging object being written, a part at a time. A full part is
    sent by one of the store's threads while the next one fills, so receiving and
    sending overlap (two parts held at most)."""

    def __init__(self, store: S3BlobStore, name: str) -> None:
        self._store = store
        self.name = name
        self.key = store.object_key(f"{STAGING}/{name}")
        self.size = 0
        self.content_hash: str | None = None
        # The content's object was copied from this staging object, which stays until
        # ``discard`` so that it can be copied again (see ``BlobStore.place``).
        self.placed = False
        self._removed = False
        self._digest = hashlib.sha256()
        # Sent as it is: botocore takes a bytearray as it takes bytes (its stubs say only
        # bytes), and bytes() would copy a part.
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._sending: Future[CompletedPartTypeDef] | None = None
        self._open = True

    @_storage_errors()
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._open:
            raise RuntimeError("the staged blob is closed")
        self._digest.update(data)
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= PART_BYTES * (1 + len(self._parts) // PARTS_PER_STEP):
            self._send_part()

    def _send_part(self) -> None:
        self._sent_part()  # the one before, or its failure
        client, bucket, key = self._store.client, self._store.bucket, self.key
        if self._upload_id is None:
            with _quota_is_storage_full():
                started = client.create_multipart_upload(Bucket=bucket, Key=key)
            self._upload_id = started["UploadId"]
        upload_id, number = self._upload_id, len(self._parts) + 1
        body, self._buffer = self._buffer, bytearray()

        def send() -> CompletedPartTypeDef:
            with _quota_is_storage_full():
                sent = client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,  # type: ignore[arg-type]  # see _buffer
                )
            return {"PartNumber": number, "ETag": sent["ETag"]}

        self._sending = self._store.senders.submit(send)

    def _sent_part(self) -> None:
        if self._sending is not None:
            sending, self._sending = self._sending, None
            self._parts.append(sending.result())

    @_storage_errors()
    def finish(self) -> str:
        if not self._open:
            raise RuntimeError("the staged blob is closed")
        client, bucket = self._store.client, self._store.bucket
        with _quota_is_storage_full():
            if self._upload_id is None:
                client.put_object(Bucket=bucket, Key=self.key, Body=self._buffer)  # type: ignore[arg-type]
            else:
                if self._buffer:
                    self._send_part()
                self._sent_part()
                client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._upload_id = None
        self._buffer = bytearray()
        self._open = False
        self.content_hash = self._digest.hexdigest()
        return self.content_hash

    def discard(self) -> None:
        """Whatever a failure leaves (the object store unreachable) is a dead staging
        object for fsck later, not a second error on top of the first."""
        self._buffer = bytearray()
        self._open = False
        try:
            if self._sending is not None:  # aborting under a part in flight could keep it
                with suppress(Exception):
                    self._sending.result()
                self._sending = None
            if self._upload_id is not None:
                upload_id, self._upload_id = self._upload_id, None
                self._store.client.abort_multipart_upload(
                    Bucket=self._store.bucket, Key=self.key, UploadId=upload_id
                )
            elif self.content_hash is not None and not self._removed:
                self._store.client.delete_object(Bucket=self._store.bucket, Key=self.key)
                self._removed = True  # gone: nothing to do a second time
        except (BotoCoreError, ClientError):
            log.warning("could not remove the staged upload %s", self.key, exc_info=True)
        finally:
            self._store.forget(self.name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()


@contextmanager
def _quota_is_storage_full() -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if _quota(error):
            raise StorageFull("the object store refused the upload: its quota is full") from None
        raise


class ObjectReader(io.RawIOBase):
    """An object's bytes from one GET per position read from: reading on streams the
    same answer, a seek drops it and the next read asks from there (``Range``). Every
    GET names the ETag first seen, so a blob replaced meanwhile fails the read instead
    of mixing two objects' bytes."""

    def __init__(self, client: S3Client, bucket: str, key: str, size: int, etag: str) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._size, self._etag = size, etag
        self._position = 0
        self._body: io.RawIOBase | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop_body()
            self._position = position
        return position

    @_storage_errors()
    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._position >= self._size or not len(buffer):
            return 0
        if self._body is None:
            answer = self._client.get_object(
                Bucket=self._bucket,
                Key=self._key,
                Range=f"bytes={self._position}-",
                IfMatch=self._etag,
            )
            self._body = answer["Body"]  # type: ignore[assignment]
        assert self._body is not None
        data = self._body.read(len(buffer))
        if not data:
            raise OSError(f"{self._key} ended at {self._position} of {self._size} bytes")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


class S3BlobStore:
    """Blobs as objects in ``bucket`` under ``prefix`` (may be empty)."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._root = f"{self.prefix}/" if self.prefix else ""
        self._writing: set[str] = set()
        self._lock = threading.Lock()
        self.senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="filewallball-s3")
        self.page_size = 1000  # S3's largest page of a listing

    def check_bucket(self) -> None:
        """A missing bucket or refused credentials, said in one line at start."""
        endpoint = self.client.meta.endpoint_url
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            problem = "does not exist" if status == 404 else f"cannot be used (HTTP {status})"
            raise InvalidInput(f"the bucket {self.bucket!r} at {endpoint} {problem}") from None
        except BotoCoreError as error:
            raise InvalidInput(f"the bucket {self.bucket!r} at {endpoint}: {error}") from None

    def object_key(self, name: str) -> str:
        return self._root + name

    def key(self, content_hash: str) -> str:
        return blob_key(content_hash)

    def stage(self) -> StagedObject:
        name = uuid.uuid4().hex
        with self._lock:
            self._writing.add(name)
        return StagedObject(self, name)

    def forget(self, name: str) -> None:
        with self._lock:
            self._writing.discard(name)

    @_storage_errors()
    def place(self, staged: StagedBlob, *, replace: bool = False) -> bool:
        if not isinstance(staged, StagedObject):
            raise TypeError("a staged blob is placed by the store that staged it")
        if staged.content_hash is None:
            raise RuntimeError("finish() the staged blob before placing it")
        existing = self.stat(staged.content_hash)
        if existing is not None and existing.size == staged.size and (staged.placed or not replace):
            return False
        # Missing (never there, or removed since this staged copy was placed), or damaged:
        # the staging object has the verified bytes, and stays until ``discard``.
        self._copy(staged.key, self.object_key(self.key(staged.content_hash)), staged.size)
        staged.placed = True
        return True

    def _copy(self, source: str, target: str, size: int) -> None:
        origin = {"Bucket": self.bucket, "Key": source}
        if size <= LARGEST_SINGLE_COPY:
            self.client.copy_object(Bucket=self.bucket, Key=target, CopySource=origin)  # type: ignore[arg-type]
            return
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=target)["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            for number, first in enumerate(range(0, size, COPY_PART_BYTES), start=1):
                last = min(first + COPY_PART_BYTES, size) - 1
                copied = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=origin,  # type: ignore[arg-type]
                    CopySourceRange=f"bytes={first}-{last}",
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with suppress(BotoCoreError, ClientError):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=target, UploadId=upload_id
                )
            raise

    @_storage_errors()
    def open(self, content_hash: str) -> BinaryIO:
        key = self.object_key(self.key(content_hash))
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(f"no object {key} in bucket {self.bucket}")
        size, etag = head["ContentLength"], head["ETag"]
        raw = ObjectReader(self.client, self.bucket, key, size, etag)
        return io.BufferedReader(raw, buffer_size=READ_BUFFER_BYTES)

    def local_path(self, content_hash: str) -> Path | None:
        return None

    @_storage_errors()
    def stat(self, content_hash: str) -> BlobInfo | None:
        head = self._head(self.object_key(self.key(content_hash)))
        if head is None:
            return None
        return BlobInfo(content_hash, head["ContentLength"], head["LastModified"])

    @_storage_errors()
    def delete(self, content_hash: str) -> bool:
        key = self.object_key(self.key(content_hash))
        if self._head(key) is None:
            return False
        self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def _keys(self, under: str = "") -> Iterator[tuple[str, datetime]]:
        """Every object's name below the prefix (relative to it) and when it was
        written, in key order, a page at a time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=self._root + under,
            PaginationConfig={"PageSize": self.page_size},
        )
        for page in pages:
            for entry in page.get("Contents", []):
                yield entry["Key"][len(self._root) :], entry["LastModified"]

    def __iter__(self) -> Iterator[str]:
        """Key order is hash order: every blob's key is ``ab/cd/`` and its hash."""
        with _storage_errors():
            for name, _written in self._keys():
                if (match := _BLOB.fullmatch(name)) and match[3][:4] == match[1] + match[2]:
                    yield match[3]

    def space(self) -> None:
        return None

    @_storage_errors()
    def strays(self) -> list[str]:
        """Objects below the prefix not named like a blob under its own ``ab/cd/``, nor
        like a staging object."""
        found = []
        for name, _written in self._keys():
            blob = _BLOB.fullmatch(name)
            if blob and blob[3][:4] == blob[1] + blob[2]:
                continue
            staging, _, rest = name.partition("/")
            if staging == STAGING and _STAGING_NAME.fullmatch(rest):
                continue
            found.append(name)
        return found

    @_storage_errors()
    def move_stray(self, name: str, into: Path) -> Path:
        """Download a stray to the same relative path under ``into`` (never over
        something there), then delete the object: it is somebody's, so it is kept."""
        target = aside(into, name)
        self.client.download_file(self.bucket, self.object_key(name), str(target))
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(name))
        return target

    @_storage_errors()
    def dead_temporary(self, older_than: datetime | None = None) -> list[str]:
        return [name for name, _remove in self._dead_temporary(older_than)]

    @_storage_errors()
    def remove_temporary(self, older_than: datetime | None = None) -> int:
        removed = 0
        for _name, remove in self._dead_temporary(older_than):
            with suppress(ClientError):  # gone meanwhile: finished, or removed by another
                remove()
                removed += 1
        return removed

    def _dead_temporary(self, older_than: datetime | None) -> list[tuple[str, _Removal]]:
        cutoff = older_than or datetime.now(UTC) - QUIET_BEFORE_DEAD
        with self._lock:
            writing = set(self._writing)
        dead: list[tuple[str, _Removal]] = []
        for name, written in self._keys(f"{STAGING}/"):
            staged = name.removeprefix(f"{STAGING}/")
            if _STAGING_NAME.fullmatch(staged) and staged not in writing and written < cutoff:
                dead.append((staged, _Removal(self, name, None)))
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket,
            Prefix=self.object_key(f"{STAGING}/"),
            PaginationConfig={"PageSize": self.page_size},
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                staged = upload["Key"].removeprefix(self.object_key(f"{STAGING}/"))
                if staged in writing or self._last_written(upload) >= cutoff:
                    continue
                name = upload["Key"][len(self._root) :]
                dead.append((staged + MULTIPART, _Removal(self, name, upload["UploadId"])))
        return dead

    def _last_written(self, upload: MultipartUploadTypeDef) -> datetime:
        """When a multipart upload last received a part (or began, before its first)."""
        latest = upload["Initiated"]
        parts = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
        for page in parts:
            for part in page.get("Parts", []):
                latest = max(latest, part["LastModified"])
        return latest


class _Removal:
    def __init__(self, store: S3BlobStore, name: str, upload_id: str | None) -> None:
        self.store, self.name, self.upload_id = store, name, upload_id

    def __call__(self) -> None:
        client, bucket, key = self.store.client, self.store.bucket, self.store.object_key(self.name)
        if self.upload_id is None:
            client.delete_object(Bucket=bucket, Key=key)
        else:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=self.upload_id)
