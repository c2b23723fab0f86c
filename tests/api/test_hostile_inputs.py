"""The hostile input catalogue: each request is refused with the right status and a
message naming the problem, and nothing is stored."""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.conftest import ADMIN, Running, blob_files, events_written, staged_files
from tests.servers import DIALECTS, every_database, on_database

BOUNDARY = "hostileBoundary"
JSON = {"Content-Type": "application/json"}


def _multipart(filename_bytes: bytes, body: bytes = b"content") -> dict[str, Any]:
    raw = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename_bytes
        + b'"\r\n\r\n'
        + body
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return {
        "content": raw,
        "headers": {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    }


# (what, method, url, request keyword arguments, status, words in the message)
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("traversal", "POST", "/api/v1/files", _multipart(b"../../etc/x.txt"), 400, "path separator"),
    ("backslash", "POST", "/api/v1/files", _multipart(b"..\\x.txt"), 400, "path separator"),
    ("absolute", "POST", "/api/v1/files", _multipart(b"/etc/x.txt"), 400, "path separator"),
    ("nul", "PUT", "/api/v1/files/a%00b.txt", {"content": b"x"}, 400, "control characters"),
    ("control", "PUT", "/api/v1/files/a%07b.txt", {"content": b"x"}, 400, "control characters"),
    ("crlf", "PUT", "/api/v1/files/a%0D%0Ab.txt", {"content": b"x"}, 400, "control characters"),
    ("long name", "PUT", f"/api/v1/files/{'n' * 10_000}.txt", {"content": b"x"}, 400, "255"),
    ("bad utf-8", "POST", "/api/v1/files", _multipart(b"caf\xe9.txt"), 400, "not valid UTF-8"),
    ("bad utf-8 raw", "PUT", "/api/v1/files/caf%E9.txt", {"content": b"x"}, 400, "not valid UTF-8"),
    (
        "bad utf-8 key",
        "PUT",
        "/api/v1/settings/k%FF",
        {"json": {"value": 1}},
        400,
        "not valid UTF-8",
    ),
    ("hangul filler", "PUT", "/api/v1/files/a%E3%85%A4.txt", {"content": b"x"}, 400, "U+3164"),
    ("grapheme joiner", "PUT", "/api/v1/files/a%CD%8F.txt", {"content": b"x"}, 400, "U+034F"),
    ("khmer vowel", "PUT", "/api/v1/files/a%E1%9E%B4.txt", {"content": b"x"}, 400, "U+17B4"),
    (
        "no boundary",
        "POST",
        "/api/v1/files",
        {"content": b"x", "headers": {"Content-Type": "multipart/form-data"}},
        400,
        "boundary",
    ),
    (
        "long boundary",
        "POST",
        "/api/v1/files",
        {
            "content": b"--" + b"q" * 5000 + b"\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=" + "q" * 5000},
        },
        400,
        "malformed multipart body",
    ),
    (
        "lone surrogate in a setting",
        "PUT",
        "/api/v1/settings/note",
        {"content": b'{"value": "\\ud800"}', "headers": {"Content-Type": "application/json"}},
        400,
        "not valid Unicode",
    ),
    (
        "lone surrogate in a name",
        "PATCH",
        "/api/v1/files/{uuid}",
        {
            "content": b'{"original_filename": "a\\udc80.txt"}',
            "headers": {"Content-Type": "application/json"},
        },
        422,
        "valid string",
    ),
    (
        "setting key ending in a space",
        "PUT",
        "/api/v1/settings/note%20",
        {"json": {"value": 1}},
        400,
        "white space",
    ),
    (
        "deeply nested setting",
        "PUT",
        "/api/v1/settings/note",
        {"content": b'{"value": ' + b"[" * 300 + b"]" * 300 + b"}", "headers": JSON},
        400,
        "nested deeper",
    ),
    (
        "NaN setting",
        "PUT",
        "/api/v1/settings/note",
        {"content": b'{"value": NaN}', "headers": JSON},
        400,
        "NaN",
    ),
    (
        "infinite setting",
        "PUT",
        "/api/v1/settings/note",
        {"content": b'{"value": [1e999]}', "headers": JSON},
        400,
        "Infinity",
    ),
    ("bad uuid", "GET", "/api/v1/files/not-a-uuid", {}, 400, "not a file UUID"),
    ("uuid-ish sql", "GET", "/api/v1/files/1%27%20OR%20%271%27=%271", {}, 400, "not a file UUID"),
    ("forged cursor", "GET", "/api/v1/files?cursor=eyJhIjoxfQ", {}, 400, "cursor"),
    ("negative size", "GET", "/api/v1/files?min_size=-5", {}, 422, "min_size"),
    ("huge limit", "GET", "/api/v1/files?limit=99999999999", {}, 422, "limit"),
    ("sql in tag", "PUT", "/api/v1/files/{uuid}/tags/x';DROP TABLE files;--", {}, 400, "tag"),
    ("wildcard tag", "PUT", "/api/v1/files/{uuid}/tags/%25_", {}, 400, "tag"),
    (
        "wrong json type",
        "PATCH",
        "/api/v1/files/{uuid}",
        {"json": {"is_public": "very"}},
        422,
        "is_public",
    ),
    ("json array", "PATCH", "/api/v1/files/{uuid}", {"json": [1, 2]}, 422, "valid dictionary"),
    (
        "oversized json",
        "PUT",
        "/api/v1/settings/note",
        {"json": {"value": "x" * 2_000_000}},
        413,
        "Too Large",
    ),
    (
        "negative range",
        "GET",
        "/api/v1/files/{uuid}/content",
        {"headers": {"Range": "bytes=-0"}},
        416,
        "outside",
    ),
    (
        "huge range",
        "GET",
        "/api/v1/files/{uuid}/content",
        {"headers": {"Range": "bytes=99999999999999999999-"}},
        416,
        "outside",
    ),
]


# Refused on every database alike, but past their guards these would meet a database's
# own rules: MariaDB's PAD SPACE ("note " is "note"), PostgreSQL's refusal of NUL, and
# the encodings of both, which have no lone surrogates. The rest are SQLite's alone.
ON_EVERY_DATABASE = {
    "setting key ending in a space",
    "nul",
    "lone surrogate in a setting",
    "lone surrogate in a name",
}


@pytest.mark.parametrize(
    ("server", "what", "method", "url", "kwargs", "status", "words"),
    [
        on_database(dialect, *case, id=f"{dialect}-{case[0]}")
        for case in CASES
        for dialect in (DIALECTS if case[0] in ON_EVERY_DATABASE else ("sqlite",))
    ],
    indirect=["server"],
)
def test_hostile_requests_are_refused_and_store_nothing(
    admin: TestClient,
    service_engine: Engine,
    data_dir: Path,
    what: str,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
    words: str,
) -> None:
    # Text: random bytes now and then begin like a type a .txt may not hold (two-byte
    # signatures such as gzip's), and the upload is refused.
    uploaded = admin.put("/api/v1/files/target.txt", content=f"{uuid.uuid4()}\n".encode())
    assert uploaded.status_code == 201, uploaded.text
    target = uploaded.json()
    with service_engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT count(*) FROM files")).scalar()
        tags = connection.execute(sa.text("SELECT count(*) FROM file_tags")).scalar()
    blobs = blob_files(data_dir)

    response = admin.request(method, url.replace("{uuid}", target["file_uuid"]), **kwargs)
    assert response.status_code == status, (what, response.text)
    assert words in response.json()["error"]["message"], what

    with service_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM files")).scalar() == rows
        assert connection.execute(sa.text("SELECT count(*) FROM file_tags")).scalar() == tags
    assert blob_files(data_dir) == blobs
    assert staged_files(data_dir) == []


def test_an_unreadable_setting_leaves_the_others_listed(
    admin: TestClient, service_engine: Engine
) -> None:
    """Written behind FileWallBall's back (or by a version that let it through)."""
    key = f"unreadable_{uuid.uuid4().hex[:8]}"
    insert = "INSERT INTO system_settings (setting_key, setting_value, setting_type, is_public,"
    insert += " created_at, updated_at) VALUES (:key, :value, 'json', :public, :now, :now)"
    with service_engine.begin() as connection:
        value = "[" * 300 + "]" * 300
        now = datetime.now(UTC).replace(tzinfo=None)
        connection.execute(
            sa.text(insert), {"key": key, "value": value, "public": True, "now": now}
        )
    try:
        listed = admin.get("/api/v1/settings")
        assert listed.status_code == 200
        assert key not in listed.json()
        assert "max_upload_bytes" in listed.json()
        alone = admin.get(f"/api/v1/settings/{key}")
        assert (alone.status_code, alone.json()["error"]["code"]) == (500, "corrupt_data")
        assert admin.put(f"/api/v1/settings/{key}", json={"value": [1]}).status_code == 200
        assert admin.get("/api/v1/settings").json()[key] == [1]
    finally:
        with service_engine.begin() as connection:
            connection.execute(
                sa.text("DELETE FROM system_settings WHERE setting_key = :key"), {"key": key}
            )


@every_database  # MariaDB and PostgreSQL refuse what is longer than the column
def test_a_long_user_agent_is_cut_to_fit_everywhere(
    admin: TestClient, service_engine: Engine
) -> None:
    """Uploads were refused with 400 on MariaDB and PostgreSQL; downloads cut it."""
    agent = f"agent-{uuid.uuid4()}-" + "a" * 2000
    headers = {"User-Agent": agent}
    uploaded = admin.put("/api/v1/files/agent.txt", content=b"agent", headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    file_uuid = uploaded.json()["file_uuid"]
    assert admin.get(f"/api/v1/files/{file_uuid}/content", headers=headers).status_code == 200
    events_written(admin)
    query = """
        SELECT u.user_agent, d.user_agent FROM files f
        JOIN file_uploads u ON u.file_id = f.id JOIN file_downloads d ON d.file_id = f.id
        WHERE f.file_uuid = :file_uuid"""
    with service_engine.connect() as connection:
        stored = connection.execute(sa.text(query), {"file_uuid": file_uuid}).one()
    assert tuple(stored) == (agent[:500], agent[:500])


@every_database  # each dialect escapes LIKE its own way (MariaDB: backslash by default)
def test_like_wildcards_in_a_search_are_literal(admin: TestClient) -> None:
    marker = uuid.uuid4().hex[:8]
    for name in (f"{marker}-100%.txt", f"{marker}-1000.txt", f"{marker}_a.txt", f"{marker}xa.txt"):
        assert admin.put(f"/api/v1/files/{name}", content=name.encode()).status_code == 201
    names = lambda q: sorted(  # noqa: E731
        item["original_filename"]
        for item in admin.get("/api/v1/files", params={"q": q}).json()["items"]
    )
    assert names(f"{marker}-100%") == [f"{marker}-100%.txt"]
    assert names(f"{marker}_") == [f"{marker}_a.txt"]
    assert names(f"{marker}' OR '1'='1") == []


def _raw_request(running: Running, request: bytes) -> bytes:
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_content_length_that_lies_stores_nothing(running: Running) -> None:
    blobs = blob_files(running.data_dir)
    request = (
        b"PUT /api/v1/files/liar.txt HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: {ADMIN['Authorization']}\r\n".encode()
        + b"Content-Length: 100000\r\n\r\nonly a few bytes"
    )
    answer = _raw_request(running, request)
    assert not answer.startswith(b"HTTP/1.1 201")
    assert blob_files(running.data_dir) == blobs
    assert staged_files(running.data_dir) == []


def test_a_path_that_is_not_utf8_is_refused_by_the_server(running: Running) -> None:
    """uvicorn itself decodes the path with replacement characters."""
    url = f"{running.url}/api/v1/files/caf%E9.txt"
    response = httpx.put(url, content=b"x", headers=ADMIN)
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["error"]["message"]


def test_huge_headers_are_refused(running: Running) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    answer = _raw_request(running, request)
    assert answer == b"" or answer.split(b" ")[1] in (b"400", b"431")


def test_a_client_gone_mid_upload_leaves_nothing(running: Running, service_engine: Engine) -> None:
    """The connection closes while batches are on their way to the disk: the upload's
    clean-up waits for the worker thread, removes what it wrote and records the failure."""
    agent = f"gone-{uuid.uuid4()}"

    def status() -> str | None:
        query = "SELECT upload_status FROM file_uploads WHERE user_agent = :agent"
        with service_engine.connect() as connection:
            return connection.execute(sa.text(query), {"agent": agent}).scalar_one_or_none()

    blobs = blob_files(running.data_dir)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="gone.tar"\r\n\r\n'
    ).encode()
    request = (
        f"POST /api/v1/files HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n"
        f"Authorization: {ADMIN['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode() + head
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        for _ in range(8):
            connection.sendall(os.urandom(1024 * 1024))
    deadline = time.monotonic() + 30
    while status() != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status() == "failed"
    assert staged_files(running.data_dir) == []
    assert blob_files(running.data_dir) == blobs
