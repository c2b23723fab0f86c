"""Valid model instances with unique values, so a test states only what it is about."""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from filewallball.filenames import extension_of
from filewallball.models import (
    ApiKey,
    Blob,
    FileCategory,
    FileDownload,
    FileExtension,
    FileInfo,
    FileTag,
    FileTagRelation,
    FileUpload,
    FileView,
    SystemSetting,
    User,
)
from filewallball.operations.files import FileSpec

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


def category(**fields: Any) -> FileCategory:
    return FileCategory(**{"name": unique("category-"), **fields})


def extension(**fields: Any) -> FileExtension:
    return FileExtension(
        **{"extension": unique("ext"), "mime_type": "application/x-test", **fields}
    )


def blob(**fields: Any) -> Blob:
    content = unique("content-").encode()
    return Blob(
        **{"content_hash": hashlib.sha256(content).hexdigest(), "size": len(content), **fields}
    )


def tag(**fields: Any) -> FileTag:
    return FileTag(**{"tag_name": unique("tag-"), **fields})


def setting(**fields: Any) -> SystemSetting:
    return SystemSetting(**{"setting_key": unique("key_"), "setting_value": "v", **fields})


def user(**fields: Any) -> User:
    return User(**{"username": unique("user-"), "role": "member", **fields})


def api_key(owner: User, **fields: Any) -> ApiKey:
    """A key row; its secret hash is of no real secret."""
    return ApiKey(
        **{
            "user": owner,
            "name": unique("key-"),
            "prefix": unique("k").zfill(8)[-8:],
            "secret_hash": "0" * 64,
            "scopes": "files:read",
            **fields,
        }
    )


def file(**fields: Any) -> FileInfo:
    """A file; ``tags=[...]`` links it to those tags."""
    links = [FileTagRelation(tag=tag) for tag in fields.pop("tags", [])]
    name = unique("report-") + ".pdf"
    content = name.encode()
    values = {
        "original_filename": name,
        "stored_filename": name,
        "file_extension": "pdf",
        "mime_type": "application/pdf",
        "file_size": len(content),
        "file_hash": hashlib.sha256(content).hexdigest(),
        "storage_path": "blobs/" + hashlib.sha256(content).hexdigest(),
        **fields,
    }
    return FileInfo(**values, tag_links=links)


def upload(file: FileInfo, **fields: Any) -> FileUpload:
    return FileUpload(**{"file": file, "upload_session_id": unique("session-"), **fields})


def view(file: FileInfo, **fields: Any) -> FileView:
    return FileView(**{"file": file, "client_ip": "2001:db8::1", **fields})


def download(file: FileInfo, **fields: Any) -> FileDownload:
    return FileDownload(**{"file": file, "client_ip": "192.0.2.7", "bytes_served": 10, **fields})


def spec(**fields: Any) -> FileSpec:
    """A FileSpec for new content; pass ``content=b"..."`` to choose the bytes."""
    content: bytes = fields.pop("content", unique("content-").encode())
    digest = hashlib.sha256(content).hexdigest()
    values = {
        "original_filename": unique("photo-") + ".jpg",
        "file_size": len(content),
        "file_hash": digest,
        "storage_path": f"{digest[:2]}/{digest[2:4]}/{digest}",
        "mime_type": "image/jpeg",
        **fields,
    }
    return FileSpec(**values)


UNSNIFFABLE = b"random test bytes\n"


def random_content(size: int) -> bytes:
    """Random bytes that no sniffer takes for a known type. Plain random bytes look like
    an MP3, a BMP, an EXE... about once in 6,000 (filetype, measured over 200,000), and a
    suite that uploads thousands of them would fail now and then with a 415."""
    return (UNSNIFFABLE + os.urandom(max(size - len(UNSNIFFABLE), 0)))[:size]


# The columns of files since revision 0001: what a test of a later migration writes
# before that migration adds its own (the models' columns would not exist yet).
EARLY_FILES = sa.table(
    "files",
    *(
        sa.column(name)
        for name in (
            "file_uuid",
            "original_filename",
            "stored_filename",
            "file_extension",
            "mime_type",
            "file_size",
            "file_hash",
            "storage_path",
            "file_category_id",
            "is_public",
            "is_deleted",
            "created_at",
            "updated_at",
        )
    ),
)


def insert_early_files(
    connection: sa.Connection, specs: Sequence[FileSpec], category_ids: Mapping[str, int] = {}
) -> list[str]:
    """Rows of ``files`` for ``specs``, written with the columns of revision 0001 only;
    returns their UUIDs."""
    uuids = [spec.file_uuid or str(uuid.uuid4()) for spec in specs]
    moment = datetime(2026, 12, 1)  # noqa: DTZ001 - naive UTC, as every database takes it
    connection.execute(
        sa.insert(EARLY_FILES),
        [
            {
                "file_uuid": file_uuid,
                "original_filename": spec.original_filename,
                "stored_filename": spec.storage_path.rpartition("/")[2],
                "file_extension": extension_of(spec.original_filename),
                "mime_type": spec.mime_type,
                "file_size": spec.file_size,
                "file_hash": spec.file_hash,
                "storage_path": spec.storage_path,
                "file_category_id": category_ids[spec.category] if spec.category else None,
                "is_public": spec.is_public,
                "is_deleted": False,
                "created_at": moment,
                "updated_at": moment,
            }
            for file_uuid, spec in zip(uuids, specs, strict=True)
        ],
    )
    return uuids
