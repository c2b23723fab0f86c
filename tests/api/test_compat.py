"""The routes of the earlier FileWallBall API answer with its shapes, exactly, so that its
clients and scripts keep working.

The database is shared by the run's API tests: the listing checks use only relations
between this test's own files, or invariants that hold whatever else is in the table.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, events_written

UPLOADED = {
    "file_id",
    "filename",
    "file_size",
    "upload_time",
    "download_url",
    "view_url",
    "message",
}
INFO = {
    "file_id",
    "filename",
    "file_size",
    "mime_type",
    "upload_time",
    "file_hash",
    "download_count",
    "download_url",
    "view_url",
}
PAGINATION = {"total", "page", "limit", "total_pages", "has_next", "has_prev"}


def _upload(client: TestClient, name: str, content: bytes) -> httpx2.Response:
    return client.post("/upload", files={"file": (name, content, "text/plain")}, headers=ADMIN)


def _text(size: int = 32) -> bytes:
    """Unique content that no sniffer mistakes for a binary format."""
    return secrets.token_hex(size)[:size].encode()


def _uploaded_id(client: TestClient, name: str, content: bytes) -> str:
    answer = _upload(client, name, content)
    assert answer.status_code == 200, answer.text
    file_id: str = answer.json()["file_id"]
    return file_id


def _no_server_path(answer: httpx2.Response, data_dir: Path) -> None:
    assert str(data_dir) not in answer.text
    assert str(data_dir) not in str(answer.headers)
    assert "storage_path" not in answer.text


def test_upload_answers_the_earlier_shape(admin: TestClient, data_dir: Path) -> None:
    content = _text(100)
    answer = _upload(admin, "notes.txt", content)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == UPLOADED
    file_id = body["file_id"]
    assert str(uuid.UUID(file_id)) == file_id
    assert body["filename"] == "notes.txt"
    assert body["file_size"] == len(content)
    assert datetime.fromisoformat(body["upload_time"]).tzinfo is not None
    assert body["download_url"] == f"/download/{file_id}"
    assert body["view_url"] == f"/view/{file_id}"
    assert isinstance(body["message"], str)
    assert body["message"]
    _no_server_path(answer, data_dir)
    assert admin.get(body["download_url"]).content == content


def test_file_info_answers_the_earlier_shape_and_counts_downloads(
    client: TestClient, data_dir: Path
) -> None:
    content = _text(500)
    file_id = _uploaded_id(client, "counted.txt", content)

    def info() -> dict[str, Any]:
        answer = client.get(f"/files/{file_id}")
        assert answer.status_code == 200, answer.text
        _no_server_path(answer, data_dir)
        body: dict[str, Any] = answer.json()
        return body

    body = info()
    assert set(body) == INFO
    assert body["file_id"] == file_id
    assert body["filename"] == "counted.txt"
    assert body["file_size"] == len(content)
    assert body["mime_type"] == "text/plain"
    assert datetime.fromisoformat(body["upload_time"]).tzinfo is not None
    assert body["file_hash"] == hashlib.sha256(content).hexdigest()
    assert body["download_count"] == 0
    assert body["download_url"] == f"/download/{file_id}"
    assert body["view_url"] == f"/view/{file_id}"

    assert client.get(f"/download/{file_id}").content == content
    assert client.get(f"/api/v1/files/{file_id}/content").content == content
    assert client.get(f"/download/{file_id}", headers={"Range": "bytes=0-9"}).status_code == 206
    # Neither a view, a HEAD nor a "not modified" answer is a download.
    assert client.get(f"/view/{file_id}").status_code == 200
    assert client.head(f"/api/v1/files/{file_id}/content").status_code == 200
    etag = f'"{body["file_hash"]}"'
    assert client.get(f"/download/{file_id}", headers={"If-None-Match": etag}).status_code == 304
    events_written(client)
    assert info()["download_count"] == 3
    assert client.get(f"/files/{file_id.upper()}").json()["file_id"] == file_id


def _page(client: TestClient, **params: str | int) -> dict[str, Any]:
    answer = client.get("/files", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"files", "pagination"}
    assert set(body["pagination"]) == PAGINATION
    return body


def _every_file(client: TestClient, **params: str | int) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _page(client, page=page, limit=500, **params)
        files += body["files"]
        if not body["pagination"]["has_next"]:
            return files
        page += 1


def test_listing_pages_cover_every_file_once(admin: TestClient, data_dir: Path) -> None:
    for index in range(3):
        _uploaded_id(admin, f"paged-{index}.txt", _text())
    total = _page(admin)["pagination"]["total"]
    limit = min(500, -(-total // 4))  # about four pages, however full the table is
    pages = -(-total // limit)

    seen: list[str] = []
    for number in range(1, pages + 1):
        body = _page(admin, page=number, limit=limit)
        assert body["pagination"] == {
            "total": total,
            "page": number,
            "limit": limit,
            "total_pages": pages,
            "has_next": number < pages,
            "has_prev": number > 1,
        }
        expected = limit if number < pages else total - limit * (pages - 1)
        assert len(body["files"]) == expected
        seen += [item["file_id"] for item in body["files"]]
    assert len(seen) == len(set(seen)) == total

    beyond = _page(admin, page=pages + 1, limit=limit)
    assert beyond["files"] == []
    assert beyond["pagination"]["has_next"] is False
    assert beyond["pagination"]["has_prev"] is True
    default = _page(admin)["pagination"]
    assert (default["page"], default["limit"], default["has_prev"]) == (1, 20, False)
    [listed] = _page(admin, limit=1)["files"]
    assert listed.keys() >= {"file_id", "filename", "file_size", "upload_time", "download_url"}
    assert listed["download_url"] == f"/download/{listed['file_id']}"
    assert listed["view_url"] == f"/view/{listed['file_id']}"
    _no_server_path(admin.get("/files"), data_dir)


def test_listing_sorts_by_upload_time_name_and_size(admin: TestClient) -> None:
    marker = secrets.token_hex(4)
    # Uploaded in this order; names and sizes each sort differently from it.
    made = [(f"{marker}-b.txt", 30), (f"{marker}-c.txt", 10), (f"{marker}-a.txt", 20)]
    ids = {_uploaded_id(admin, name, _text(size)): (name, size) for name, size in made}
    sort_keys: dict[str, Callable[[str], Any]] = {
        "uploaded_at": list(ids).index,
        "filename": lambda file_id: ids[file_id][0],
        "size": lambda file_id: ids[file_id][1],
    }
    for order in ("asc", "desc"):
        backwards = order == "desc"
        for sort_by, key in sort_keys.items():
            listed = _every_file(admin, sort_by=sort_by, order=order)
            mine = [item["file_id"] for item in listed if item["file_id"] in ids]
            assert mine == sorted(ids, key=key, reverse=backwards), (sort_by, order)
            # Whatever else is in the table, sizes and times are in order too.
            if sort_by == "size":
                sizes = [item["file_size"] for item in listed]
                assert sizes == sorted(sizes, reverse=backwards), order
            if sort_by == "uploaded_at":
                times = [datetime.fromisoformat(item["upload_time"]) for item in listed]
                assert times == sorted(times, reverse=backwards), order


def test_bad_listing_parameters_are_json_errors(client: TestClient) -> None:
    for params in (
        {"page": 0},
        {"limit": 0},
        {"sort_by": "storage_path"},
        {"order": "up"},
        {"page": "x"},
    ):
        refused = client.get("/files", params=params)
        assert refused.status_code in (400, 422), (params, refused.status_code)
        assert set(refused.json()["error"]) == {"code", "message"}, params


PNG = b"\x89PNG\r\n\x1a\n"


def test_download_is_byte_identical(client: TestClient, data_dir: Path) -> None:
    # Binary content starts with its format's signature, so that no sniffer refuses it.
    uploads = {
        "empty.txt": b"",
        "one.txt": b"x",
        "odd.png": PNG + os.urandom(65536 + 7),
        "large.png": PNG + os.urandom(3 * 1024 * 1024),
    }
    for name, content in uploads.items():
        file_id = _uploaded_id(client, name, content)
        downloaded = client.get(f"/download/{file_id}")
        assert downloaded.status_code == 200, name
        assert downloaded.content == content, name
        assert downloaded.headers["content-disposition"].startswith("attachment;"), name
        assert downloaded.headers["etag"] == f'"{hashlib.sha256(content).hexdigest()}"', name
        _no_server_path(downloaded, data_dir)


def test_view_shows_plain_text_inline(client: TestClient) -> None:
    content = _text(64)
    file_id = _uploaded_id(client, "shown.txt", content)
    viewed = client.get(f"/view/{file_id}")
    assert viewed.status_code == 200
    assert viewed.content == content
    assert viewed.headers["content-type"].startswith("text/plain")
    assert viewed.headers["content-disposition"].startswith("inline;")


def test_delete_answers_the_earlier_shape_and_hides_the_file(
    client: TestClient, data_dir: Path
) -> None:
    file_id = _uploaded_id(client, "doomed.txt", _text())
    deleted = client.delete(f"/files/{file_id}", headers=ADMIN)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert set(body) == {"message", "file_id"}
    assert body["file_id"] == file_id
    assert isinstance(body["message"], str)
    assert body["message"]
    _no_server_path(deleted, data_dir)

    for path in (f"/files/{file_id}", f"/download/{file_id}", f"/view/{file_id}"):
        gone = client.get(path)
        assert gone.status_code == 404, path
        assert gone.json()["error"]["code"] == "not_found"
    assert file_id not in {item["file_id"] for item in _page(client)["files"]}  # newest first
    native = client.get(f"/api/v1/files/{file_id}", headers=ADMIN).json()
    assert native["is_deleted"] is True

    missing = client.delete(f"/files/{uuid.uuid4()}", headers=ADMIN)
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message"}


def test_health_answers_healthy(client: TestClient, data_dir: Path) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "healthy"
    _no_server_path(answer, data_dir)


INVALID_IDS = [
    "not-a-uuid",
    "12345",
    "' OR '1'='1",
    "%00",
    "0" * 31,
    "ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ",
]
ID_ROUTES = [
    ("GET", "/files/{}"),
    ("GET", "/download/{}"),
    ("GET", "/view/{}"),
    ("DELETE", "/files/{}"),
]


def test_invalid_ids_are_json_errors_never_500(client: TestClient, data_dir: Path) -> None:
    for method, route in ID_ROUTES:
        for file_id in [*INVALID_IDS, str(uuid.uuid4()), "0" * 65]:
            answer = client.request(method, route.format(file_id), headers=ADMIN)
            where = f"{method} {route.format(file_id)} -> {answer.status_code} {answer.text}"
            # Over-long ids are refused by the path's declared limit (422), before parsing.
            allowed = (400, 404, 422) if len(file_id) > 64 else (400, 404)
            assert answer.status_code in allowed, where
            assert set(answer.json()["error"]) == {"code", "message"}, where
            _no_server_path(answer, data_dir)
