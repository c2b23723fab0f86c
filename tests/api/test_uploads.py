"""Uploads through the HTTP API: round trips, dedup, and every refusal leaving nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from filewallball.uploading import BATCH_BYTES
from tests.api.conftest import blob_files, staged_files
from tests.factories import random_content

MiB = 1024 * 1024
ELF = b"\x7fELF\x02\x01\x01" + bytes(121)


def _rows(engine: Engine, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params))


def _files_with_hash(engine: Engine, content_hash: str) -> int:
    return len(_rows(engine, "SELECT id FROM files WHERE file_hash = :h", h=content_hash))


@pytest.mark.parametrize(
    ("name", "size"),
    [("empty.txt", 0), ("one.txt", 1), ("mebibyte.txt", MiB), ("große Übersicht 東京.txt", 1000)],
)
def test_put_round_trip_is_byte_identical(
    admin: TestClient, service_engine: Engine, data_dir: Path, name: str, size: int
) -> None:
    content = random_content(size)
    created = admin.put(f"/api/v1/files/{name}", content=content)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["original_filename"] == name
    assert body["file_size"] == size
    assert body["file_hash"] == hashlib.sha256(content).hexdigest()
    assert body["content_url"] == f"/api/v1/files/{body['file_uuid']}/content"
    assert "storage_path" not in body
    assert str(data_dir) not in created.text

    downloaded = admin.get(body["content_url"])
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["etag"] == f'"{body["file_hash"]}"'
    assert staged_files(data_dir) == []
    [upload] = _rows(
        service_engine,
        "SELECT u.upload_status, u.upload_completed_at, u.client_ip FROM file_uploads u "
        "JOIN files f ON f.id = u.file_id WHERE f.file_uuid = :u",
        u=body["file_uuid"],
    )
    assert upload[0] == "completed"
    assert upload[1] is not None


def test_multipart_upload_with_fields_before_and_after_the_file(
    admin: TestClient, data_dir: Path
) -> None:
    content = random_content(3000)
    created = admin.post(
        "/api/v1/files",
        files={"file": ("report.pdf", b"%PDF-1.7\n" + content, "application/pdf")},
        data={"tags": "Quarterly, finance", "category": "documents", "is_public": "false"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tags"] == ["finance", "quarterly"]
    assert body["category"] == "documents"
    assert body["is_public"] is False
    assert body["mime_type"] == "application/pdf"
    assert admin.get(body["content_url"]).content == b"%PDF-1.7\n" + content

    # Fields after the file part (hand-built body) are applied too.
    boundary = "fwbBoundary"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nlate fields\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="tags"\r\n\r\nlate\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    late = admin.post(
        "/api/v1/files",
        content=raw,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert late.status_code == 201, late.text
    assert late.json()["tags"] == ["late"]
    assert staged_files(data_dir) == []


@pytest.mark.parametrize("multipart", [False, True], ids=["put", "multipart"])
def test_a_body_of_several_batches_arrives_whole(
    admin: TestClient, data_dir: Path, multipart: bool
) -> None:
    """The worker thread writes one batch while the next arrives: every byte lands once
    and in order, whatever the chunks (here they split batches and the boundary)."""
    content = random_content(3 * BATCH_BYTES + 12345)
    boundary = "splitBoundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.tar"\r\n\r\n'
    ).encode()
    body = head + content + f"\r\n--{boundary}--\r\n".encode() if multipart else content

    def chunks() -> Iterator[bytes]:
        yield from (body[i : i + 65537] for i in range(0, len(body), 65537))

    if multipart:
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        created = admin.post("/api/v1/files", content=chunks(), headers=headers)
    else:
        created = admin.put("/api/v1/files/b.tar", content=chunks())
    assert created.status_code == 201, created.text
    assert created.json()["file_hash"] == hashlib.sha256(content).hexdigest()
    assert admin.get(created.json()["content_url"]).content == content
    assert staged_files(data_dir) == []


def test_identical_content_is_stored_once(
    admin: TestClient, service_engine: Engine, data_dir: Path
) -> None:
    content = random_content(5000)
    first = admin.put("/api/v1/files/first.txt", content=content).json()
    second = admin.put("/api/v1/files/second.txt", content=content).json()
    assert first["file_uuid"] != second["file_uuid"]
    assert first["file_hash"] == second["file_hash"]
    assert _files_with_hash(service_engine, first["file_hash"]) == 2
    blobs = [p for p in blob_files(data_dir) if p.name == first["file_hash"]]
    assert len(blobs) == 1
    assert blobs[0].read_bytes() == content
    [blob_row] = _rows(
        service_engine, "SELECT size FROM blobs WHERE content_hash = :h", h=first["file_hash"]
    )
    assert blob_row[0] == 5000


def _assert_nothing_stored(
    engine: Engine, data_dir: Path, content: bytes, blobs_before: list[Path]
) -> None:
    content_hash = hashlib.sha256(content).hexdigest()
    assert _files_with_hash(engine, content_hash) == 0
    assert _rows(engine, "SELECT id FROM blobs WHERE content_hash = :h", h=content_hash) == []
    assert blob_files(data_dir) == blobs_before
    assert staged_files(data_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("tool.exe", b"MZ" + bytes(200), 415, ".exe files are not allowed"),
        ("setup", b"MZ" + bytes(200), 415, "(.exe), and .exe files are not allowed"),
        ("data.unknownext", b"MZ" + bytes(200), 415, "(.exe), and .exe files are not allowed"),
        ("evil.png", ELF, 415, "application/x-executable"),
        ("elf.txt", ELF, 415, "not what its extension .txt says"),
    ],
)
def test_refused_types_leave_nothing(
    admin: TestClient,
    service_engine: Engine,
    data_dir: Path,
    name: str,
    content: bytes,
    status: int,
    words: str,
) -> None:
    blobs_before = blob_files(data_dir)
    refused = admin.put(f"/api/v1/files/{name}", content=content + random_content(16))
    assert refused.status_code == status
    error = refused.json()["error"]
    assert error["code"] == "unsupported_type"
    assert words in error["message"]
    _assert_nothing_stored(service_engine, data_dir, content, blobs_before)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../../etc/passwd.txt", "path separator"),
        ("..\\x.txt", "path separator"),
        ("/abs/path.txt", "path separator"),
        ("nul\x00byte.txt", "control characters"),
        ("x" * 300 + ".txt", "the limit is 255"),
        ("..", "only dots"),
    ],
)
def test_hostile_names_are_refused(
    admin: TestClient, data_dir: Path, name: str, words: str
) -> None:
    boundary = "b0undary"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + name.encode()
        + f'"\r\n\r\nbody\r\n--{boundary}--\r\n'.encode()
    )
    refused = admin.post(
        "/api/v1/files",
        content=raw,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert refused.status_code == 400, refused.text
    assert words in refused.json()["error"]["message"]
    assert blob_files(data_dir) == []
    assert staged_files(data_dir) == []


@pytest.mark.parametrize("name", ["cr\rlf\n.txt", "tab\there.txt", "bell\x07.txt"])
def test_control_characters_in_a_put_name_are_refused(
    admin: TestClient, data_dir: Path, name: str
) -> None:
    refused = admin.put(f"/api/v1/files/{quote(name, safe='')}", content=b"x")
    assert refused.status_code == 400
    assert "control characters" in refused.json()["error"]["message"]
    assert "\n" not in "".join(refused.headers.values())
    assert blob_files(data_dir) == []


def test_a_limit_crossed_midstream_is_413_and_nothing_stays(
    admin: TestClient, service_engine: Engine, data_dir: Path
) -> None:
    policy = {"mime_type": "text/plain", "is_allowed": True, "max_file_size": 2 * MiB}
    assert admin.put("/api/v1/extensions/small", json=policy).status_code == 200
    content = random_content(3 * MiB)

    def chunks() -> object:
        yield from (content[i : i + 65536] for i in range(0, len(content), 65536))

    # Streamed without a Content-Length: the limit is found while receiving.
    refused = admin.put("/api/v1/files/big.small", content=chunks())
    assert refused.status_code == 413
    assert "2 MiB" in refused.json()["error"]["message"]
    _assert_nothing_stored(service_engine, data_dir, content, [])
    statuses = _rows(
        service_engine,
        "SELECT upload_status FROM file_uploads WHERE file_id IS NULL ORDER BY id DESC",
    )
    assert statuses[0][0] == "failed"

    # A Content-Length over the limit is refused before any byte is stored.
    declared = admin.put("/api/v1/files/big2.small", content=content)
    assert declared.status_code == 413
    _assert_nothing_stored(service_engine, data_dir, content, [])


def test_the_global_limit_applies_to_every_extension(admin: TestClient, data_dir: Path) -> None:
    assert admin.put("/api/v1/settings/max_upload_bytes", json={"value": 1000}).status_code == 200
    try:
        refused = admin.put("/api/v1/files/large.txt", content=random_content(1001))
        assert refused.status_code == 413
        assert admin.put("/api/v1/files/fits.txt", content=random_content(1000)).status_code == 201
    finally:
        admin.put("/api/v1/settings/max_upload_bytes", json={"value": 8 * 1024**3})
    assert staged_files(data_dir) == []


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b"no boundary", {"Content-Type": "multipart/form-data"}, "boundary"),
        (
            b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\ncut',
            {"Content-Type": "multipart/form-data; boundary=XX"},
            "truncated",
        ),
        (
            b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\none'
            b'\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="b.txt"\r\n\r\n'
            b"two\r\n--XX--\r\n",
            {"Content-Type": "multipart/form-data; boundary=XX"},
            "second file part",
        ),
        (
            b'--XX\r\nContent-Disposition: form-data; name="tags"\r\n\r\nx\r\n--XX--\r\n',
            {"Content-Type": "multipart/form-data; boundary=XX"},
            "no 'file' part",
        ),
        (b"{}", {"Content-Type": "application/json"}, "multipart/form-data"),
    ],
    ids=["no-boundary", "truncated", "two-files", "no-file", "not-multipart"],
)
def test_malformed_multipart_is_400(
    admin: TestClient, data_dir: Path, body: bytes, headers: dict[str, str], words: str
) -> None:
    refused = admin.post("/api/v1/files", content=body, headers=headers)
    assert refused.status_code == 400, refused.text
    assert words in refused.json()["error"]["message"]
    assert blob_files(data_dir) == []
    assert staged_files(data_dir) == []


def test_unknown_category_is_refused_before_the_body(admin: TestClient, data_dir: Path) -> None:
    refused = admin.put("/api/v1/files/a.txt?category=nope", content=b"x")
    assert refused.status_code == 404
    assert "'nope'" in refused.json()["error"]["message"]
    assert blob_files(data_dir) == []


def test_uploads_need_the_admin_token(client: TestClient, data_dir: Path) -> None:
    refused = client.put("/api/v1/files/a.txt", content=b"x")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    wrong = client.put(
        "/api/v1/files/a.txt", content=b"x", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert blob_files(data_dir) == []
