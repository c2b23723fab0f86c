"""Downloads and views: Range, If-Range, ETag, 304, 416, HEAD, names, events."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from filewallball.api.routes.content import ascii_fallback
from filewallball.models import utcnow
from filewallball.operations.integrity import Finding, Report, mark_lost, record_report
from filewallball.storage import BlobStore, LocalBlobStore
from tests.api.conftest import events_written
from tests.factories import random_content

CONTENT = random_content(10_000)


@pytest.fixture
def stored(admin: TestClient) -> dict[str, Any]:
    created = admin.put("/api/v1/files/range test.txt", content=CONTENT)
    assert created.status_code == 201
    body: dict[str, Any] = created.json()
    return body


def _downloads(engine: Engine, file_uuid: str) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.scalars(
                sa.text(
                    "SELECT d.bytes_served FROM file_downloads d JOIN files f ON f.id = d.file_id "
                    "WHERE f.file_uuid = :u ORDER BY d.id"
                ),
                {"u": file_uuid},
            )
        )


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=9000-", 9000, 9999), ("bytes=-500", 9500, 9999)],
    ids=["single", "open-ended", "suffix"],
)
def test_ranges(
    admin: TestClient,
    stored: dict[str, Any],
    service_engine: Engine,
    header: str,
    start: int,
    end: int,
) -> None:
    partial = admin.get(stored["content_url"], headers={"Range": header})
    assert partial.status_code == 206
    assert partial.content == CONTENT[start : end + 1]
    assert partial.headers["content-range"] == f"bytes {start}-{end}/10000"
    assert partial.headers["content-length"] == str(end - start + 1)
    events_written(admin)
    assert _downloads(service_engine, stored["file_uuid"]) == [end - start + 1]


class _WithoutLocalFiles:
    """The local store declining to name its files: an object store, to the download route."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def local_path(self, _content_hash: str) -> None:
        return None


def test_a_store_without_local_files_is_read_through_open(
    admin: TestClient, stored: dict[str, Any]
) -> None:
    state = admin.app.state
    services = state.services
    state.services = dataclasses.replace(services, store=_WithoutLocalFiles(services.store))
    url = stored["content_url"]
    try:
        whole = admin.get(url)
        single = admin.get(url, headers={"Range": "bytes=100-199"})
        several = admin.get(url, headers={"Range": "bytes=0-9,5000-5009"})
        head = admin.head(url)
    finally:
        state.services = services
    assert whole.status_code == 200
    assert whole.content == CONTENT
    assert single.status_code == 206
    assert single.content == CONTENT[100:200]
    assert several.status_code == 206
    assert several.headers["content-type"].startswith("multipart/byteranges")
    assert CONTENT[:10] in several.content
    assert CONTENT[5000:5010] in several.content
    assert head.status_code == 200
    assert head.headers["content-length"] == "10000"


def test_unsatisfiable_range_is_416(admin: TestClient, stored: dict[str, Any]) -> None:
    refused = admin.get(stored["content_url"], headers={"Range": "bytes=20000-"})
    assert refused.status_code == 416
    assert refused.headers["content-range"] == "bytes */10000"


def test_if_range_with_a_stale_etag_sends_everything(
    admin: TestClient, stored: dict[str, Any]
) -> None:
    etag = f'"{stored["file_hash"]}"'
    fresh = admin.get(stored["content_url"], headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206
    stale = admin.get(stored["content_url"], headers={"Range": "bytes=0-9", "If-Range": '"x"'})
    assert stale.status_code == 200
    assert stale.content == CONTENT


def test_conditional_requests_answer_304(
    admin: TestClient, stored: dict[str, Any], service_engine: Engine
) -> None:
    first = admin.get(stored["content_url"])
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag == f'"{stored["file_hash"]}"'
    assert parsedate_to_datetime(modified) == datetime.fromisoformat(stored["created_at"]).replace(
        microsecond=0
    )
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'W/"other", {etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
    ):
        cached = admin.get(stored["content_url"], headers=headers)
        assert cached.status_code == 304, headers
        assert cached.content == b""
        assert cached.headers["etag"] == etag
    changed = admin.get(stored["content_url"], headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    old = format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
    assert admin.get(stored["content_url"], headers={"If-Modified-Since": old}).status_code == 200
    # Only the bodies that went out count as downloads.
    events_written(admin)
    assert _downloads(service_engine, stored["file_uuid"]) == [10_000, 10_000, 10_000]


def test_head_sends_the_headers_only(
    admin: TestClient, stored: dict[str, Any], service_engine: Engine
) -> None:
    head = admin.head(stored["content_url"])
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "10000"
    assert head.headers["etag"] == f'"{stored["file_hash"]}"'
    assert _downloads(service_engine, stored["file_uuid"]) == []


def test_non_ascii_names_survive_content_disposition(admin: TestClient) -> None:
    name = 'Résumé "final"; 東京.txt'
    stored = admin.put(f"/api/v1/files/{name}", content=b"hi").json()
    disposition = admin.get(stored["content_url"]).headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Resume _final__ __.txt"')
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == name
    assert all(32 <= ord(c) < 127 for c in disposition)


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("résumé.txt", "resume.txt"),
        ("Ångström\u2013naïve.md", "Angstrom_naive.md"),
        ("\ufb01le \uff21.txt", "file A.txt"),  # compatibility forms: the ligature, full width
        ("한국어.pdf", "___.pdf"),  # a syllable is one character, not its jamo
        ('a"b;c\\d.txt', "a_b_c_d.txt"),
    ],
)
def test_the_ascii_fallback_keeps_the_letters_under_the_accents(name: str, fallback: str) -> None:
    assert ascii_fallback(name) == fallback


def test_view_is_inline_for_text_and_counts_a_view(
    admin: TestClient, stored: dict[str, Any], service_engine: Engine
) -> None:
    viewed = admin.get(stored["view_url"])
    assert viewed.status_code == 200
    assert viewed.content == CONTENT
    assert viewed.headers["content-disposition"].startswith("inline;")
    assert viewed.headers["content-type"] == "text/plain; charset=utf-8"
    assert "default-src 'none'" in viewed.headers["content-security-policy"]
    assert viewed.headers["x-content-type-options"] == "nosniff"
    events_written(admin)
    activity = admin.get(f"/api/v1/files/{stored['file_uuid']}/activity").json()
    assert activity["views"] == 1
    assert activity["downloads"] == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ],
)
def test_active_content_is_never_inline(admin: TestClient, name: str, content: bytes) -> None:
    stored = admin.put(f"/api/v1/files/{name}", content=content).json()
    for url in (stored["view_url"], stored["content_url"]):
        served = admin.get(url)
        assert served.status_code == 200
        assert served.headers["content-disposition"].startswith("attachment;")
        assert served.headers["x-content-type-options"] == "nosniff"
    assert admin.get(stored["view_url"]).headers["content-type"] == "application/octet-stream"


def test_missing_content_is_410(admin: TestClient, stored: dict[str, Any], data_dir: Any) -> None:
    h = stored["file_hash"]
    (data_dir / "blobs" / h[:2] / h[2:4] / h).unlink()
    gone = admin.get(stored["content_url"])
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "gone"
    assert str(data_dir) not in gone.text


def test_content_marked_lost_by_fsck_answers_410_until_uploaded_again(
    admin: TestClient, service_engine: Engine, data_dir: Path
) -> None:
    content = random_content(2000)
    stored = admin.put("/api/v1/files/marked.txt", content=content).json()
    store = LocalBlobStore(data_dir / "blobs")
    store.local_path(stored["file_hash"]).write_bytes(b"damaged")
    with Session(service_engine) as session, session.begin():
        assert mark_lost(session, store, Finding("corrupt", stored["file_hash"], "test"))
        record_report(session, Report(started_at=utcnow(), deep=True))
    gone = admin.get(stored["content_url"])
    assert gone.status_code == 410
    assert "corrupt (found by fsck)" in gone.json()["error"]["message"]
    assert admin.get(f"/api/v1/files/{stored['file_uuid']}").json()["content_status"] == "corrupt"
    assert admin.get("/health").json()["fsck"]["deep"] is True

    again = admin.put("/api/v1/files/marked-again.txt", content=content)
    assert again.status_code == 201
    assert again.json()["content_status"] == "ok"
    assert admin.get(stored["content_url"]).content == content
