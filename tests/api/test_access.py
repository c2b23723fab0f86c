"""Who may see and change what: private and deleted files never leak to anonymous callers,
every write needs the admin token, and every answer carries the security headers.

The database is shared by the run's API tests: each test makes its own files, named
after a random marker, and never assumes an empty table.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from filewallball import __version__
from filewallball.api import create_app
from filewallball.settings import Settings
from tests.api.conftest import ADMIN, blob_files, events_written

WRONG = {"Authorization": "Bearer not-the-token"}
NOBODY: dict[str, str] = {}
MiB = 1024 * 1024


def _put(
    client: TestClient,
    name: str,
    content: bytes | None = None,
    *,
    public: bool = True,
    tags: tuple[str, ...] = (),
    headers: dict[str, str] = ADMIN,
) -> str:
    """Upload ``content`` (unique text by default) and return the new file's UUID."""
    params = {"is_public": str(public).lower(), "tags": ",".join(tags)}
    body = content if content is not None else f"{secrets.token_hex(16)}\n".encode()
    created = client.put(f"/api/v1/files/{name}", content=body, params=params, headers=headers)
    assert created.status_code == 201, created.text
    file_uuid: str = created.json()["file_uuid"]
    return file_uuid


@dataclass(frozen=True)
class Files:
    """A live public, a private and a soft-deleted (public) file, all with two tags."""

    marker: str
    public: str
    private: str
    deleted: str


def _files(client: TestClient) -> Files:
    marker = f"m{secrets.token_hex(6)}"
    tags = (marker, f"{marker}-also")
    public = _put(client, f"{marker}-public.txt", tags=tags)
    private = _put(client, f"{marker}-private.txt", public=False, tags=tags)
    deleted = _put(client, f"{marker}-deleted.txt", tags=tags)
    assert client.delete(f"/api/v1/files/{deleted}", headers=ADMIN).status_code == 200
    return Files(marker, public, private, deleted)


def _events(engine: Engine, *file_uuids: str) -> int:
    """How many views and downloads were recorded for the files."""
    counted = sa.text(
        "SELECT (SELECT count(*) FROM file_views v WHERE v.file_id = f.id)"
        " + (SELECT count(*) FROM file_downloads d WHERE d.file_id = f.id)"
        " FROM files f WHERE f.file_uuid IN :u"
    ).bindparams(sa.bindparam("u", expanding=True))
    with engine.connect() as connection:
        return sum(connection.execute(counted, {"u": list(file_uuids)}).scalars())


def _as_missing(answer: httpx2.Response, file_uuid: str) -> tuple[int, str, dict[str, str]]:
    """The answer with the UUID asked for blanked out, to compare with a missing file's."""
    headers = {k: v for k, v in answer.headers.items() if k not in ("content-length", "date")}
    return answer.status_code, answer.text.replace(file_uuid, "<uuid>"), headers


# --- reading one file ------------------------------------------------------------------

CONTENT_ROUTES = ["/api/v1/files/{}/content", "/api/v1/files/{}/view", "/download/{}", "/view/{}"]
READ_ROUTES = [
    ("GET", "/api/v1/files/{}"),
    ("GET", "/api/v1/files/{}/activity"),
    ("GET", "/api/v1/files/{}/content"),
    ("HEAD", "/api/v1/files/{}/content"),
    ("GET", "/api/v1/files/{}/view"),
    ("GET", "/files/{}"),
    ("GET", "/download/{}"),
    ("GET", "/view/{}"),
]


@pytest.mark.parametrize(("method", "route"), READ_ROUTES, ids=[f"{m} {r}" for m, r in READ_ROUTES])
def test_hidden_files_read_as_missing_to_anyone_but_the_admin(
    client: TestClient, service_engine: Engine, method: str, route: str
) -> None:
    files = _files(client)

    def ask(file_uuid: str, headers: dict[str, str] = NOBODY) -> httpx2.Response:
        return client.request(method, route.format(file_uuid), headers=headers)

    assert ask(files.public).status_code == 200
    missing = str(uuid.uuid4())
    absent = ask(missing)
    assert absent.status_code == 404
    hidden = (files.private, files.deleted)
    for file_uuid in hidden:
        assert _as_missing(ask(file_uuid), file_uuid) == _as_missing(absent, missing)
        if route in CONTENT_ROUTES:
            assert ask(file_uuid, {"If-None-Match": "*"}).status_code == 404
            assert ask(file_uuid, {"Range": "bytes=0-0"}).status_code == 404
    assert _events(service_engine, *hidden) == 0
    assert ask(files.private, WRONG).status_code == 401
    for file_uuid in hidden:
        assert ask(file_uuid, ADMIN).status_code == 200


# --- listings --------------------------------------------------------------------------

SEARCHES: dict[str, Callable[[Files], dict[str, Any]]] = {
    "q": lambda f: {"q": f.marker.upper(), "extension": "txt", "mime": "text/"},
    "tag": lambda f: {"tag": f.marker},
    "tag-sorted-by-size": lambda f: {"tag": [f.marker, "no-such-tag"], "sort": "file_size"},
    "tags-all": lambda f: {"tag": [f.marker, f"{f.marker}-also"], "tag_mode": "all"},
}


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
def test_native_search_hides_private_and_deleted_files(
    client: TestClient, search: Callable[[Files], dict[str, Any]]
) -> None:
    files = _files(client)
    params = {**search(files), "with_total": "true"}

    def found(headers: dict[str, str], **more: str) -> tuple[set[str], int]:
        answer = client.get("/api/v1/files", params={**params, **more}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        return {item["file_uuid"] for item in page["items"]}, page["total"]

    assert found(NOBODY) == ({files.public}, 1)
    assert found(NOBODY, is_public="true") == ({files.public}, 1)
    assert found(ADMIN) == ({files.public, files.private}, 2)
    assert found(ADMIN, is_public="false") == ({files.private}, 1)
    everything = {files.public, files.private, files.deleted}
    assert found(ADMIN, include_deleted="true") == (everything, 3)


def _newest(client: TestClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    """The first page of the listing, newest first. A test's own files are the newest in the
    table, uploaded public, private, deleted in that order: a hidden file that leaked would
    be listed before the public one, on this page."""
    answer = client.get("/api/v1/files", params={**params, "limit": "50"}, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_the_native_listing_shows_anonymous_callers_live_public_files_only(
    client: TestClient,
) -> None:
    files = _files(client)
    anonymous = _newest(client, NOBODY)
    assert all(item["is_public"] and not item["is_deleted"] for item in anonymous)
    assert anonymous[0]["file_uuid"] == files.public

    admin = [item["file_uuid"] for item in _newest(client, ADMIN)]
    assert admin[:2] == [files.private, files.public]
    with_deleted = [item["file_uuid"] for item in _newest(client, ADMIN, include_deleted="true")]
    assert with_deleted[:3] == [files.deleted, files.private, files.public]


def test_asking_for_hidden_files_without_the_token_is_401(client: TestClient) -> None:
    for params in (
        {"include_deleted": "true"},
        {"is_public": "false"},
        {"q": "x", "include_deleted": "1"},
    ):
        refused = client.get("/api/v1/files", params=params)
        assert refused.status_code == 401, params
        assert refused.json()["error"]["code"] == "unauthorized"
        assert client.get("/api/v1/files", params=params, headers=WRONG).status_code == 401
        assert client.get("/api/v1/files", params=params, headers=ADMIN).status_code == 200
        # RFC 9110 (11.6.1): a 401 answer names its authentication scheme.
        assert refused.headers.get("www-authenticate") == "Bearer", params


def _earlier_newest(client: TestClient, headers: dict[str, str]) -> list[str]:
    """The first page of the earlier API's listing (newest first, see ``_newest``)."""
    answer = client.get("/files", params={"limit": 50}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["file_id"] for item in answer.json()["files"]]


def test_the_earlier_listing_hides_private_and_deleted_files(client: TestClient) -> None:
    files = _files(client)
    anonymous = _earlier_newest(client, NOBODY)
    assert anonymous[0] == files.public
    assert files.private not in anonymous
    assert files.deleted not in anonymous
    assert _earlier_newest(client, ADMIN)[:2] == [files.private, files.public]
    assert client.get("/files", headers=WRONG).status_code == 401


def _tag_counts(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    answer = client.get("/api/v1/tags", params={"limit": 1000}, headers=headers)
    assert answer.status_code == 200, answer.text
    return {tag["tag_name"]: tag["files"] for tag in answer.json()}


def test_tag_counts_include_private_files_only_for_the_admin(client: TestClient) -> None:
    files = _files(client)
    secret = f"{files.marker}-secret"
    _put(client, f"{files.marker}-other.txt", public=False, tags=(secret,))

    anonymous = _tag_counts(client, NOBODY)
    assert anonymous[files.marker] == 1
    assert secret not in anonymous
    admin = _tag_counts(client, ADMIN)
    assert admin[files.marker] == 2
    assert admin[secret] == 1
    assert client.get("/api/v1/tags", headers=WRONG).status_code == 401


def test_statistics_are_for_the_admin_only(client: TestClient) -> None:
    refused = client.get("/api/v1/stats")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/stats", headers=WRONG).status_code == 401

    before = client.get("/api/v1/stats", headers=ADMIN).json()["totals"]
    _files(client)
    after = client.get("/api/v1/stats", headers=ADMIN).json()["totals"]
    assert after["files"] == before["files"] + 2  # the private file counts too
    assert after["deleted_files"] == before["deleted_files"] + 1


# --- writes ----------------------------------------------------------------------------

Write = tuple[str, str, dict[str, Any]]
POLICY = {"mime_type": "text/plain", "is_allowed": True, "max_file_size": MiB}


def _form(name: str) -> dict[str, Any]:
    return {"files": {"file": (name, f"{secrets.token_hex(16)}\n".encode(), "text/plain")}}


WRITES: dict[str, Callable[[Files], Write]] = {
    "native-form-upload": lambda f: ("POST", "/api/v1/files", _form(f"{f.marker}.txt")),
    "native-raw-upload": lambda f: (
        "PUT",
        f"/api/v1/files/{f.marker}.txt",
        {"content": f"{f.marker}\n".encode()},
    ),
    "change-file": lambda f: (
        "PATCH",
        f"/api/v1/files/{f.public}",
        {"json": {"original_filename": "renamed.txt", "is_public": False, "tags": []}},
    ),
    "delete-file": lambda f: ("DELETE", f"/api/v1/files/{f.public}", {}),
    "restore-file": lambda f: ("POST", f"/api/v1/files/{f.deleted}/restore", {}),
    "tag-file": lambda f: ("PUT", f"/api/v1/files/{f.public}/tags/{f.marker}-new", {}),
    "untag-file": lambda f: ("DELETE", f"/api/v1/files/{f.public}/tags/{f.marker}", {}),
    "new-category": lambda f: ("POST", "/api/v1/categories", {"json": {"name": f.marker}}),
    "change-category": lambda f: (
        "PATCH",
        "/api/v1/categories/documents",
        {"json": {"description": f.marker, "is_active": False}},
    ),
    "set-extension-policy": lambda f: ("PUT", f"/api/v1/extensions/{f.marker}", {"json": POLICY}),
    "replace-extension-policy": lambda f: (
        "PUT",
        "/api/v1/extensions/txt",
        {"json": {**POLICY, "is_allowed": False}},
    ),
    "set-setting": lambda f: ("PUT", "/api/v1/settings/max_upload_bytes", {"json": {"value": 1}}),
    "earlier-upload": lambda f: ("POST", "/upload", _form(f"{f.marker}.txt")),
    "earlier-delete": lambda f: ("DELETE", f"/files/{f.public}", {}),
}

STATE = [
    "SELECT file_uuid, original_filename, is_public, is_deleted, file_category_id, updated_at"
    " FROM files ORDER BY id",
    "SELECT file_id, tag_id FROM file_tag_relations ORDER BY id",
    "SELECT tag_name, is_active FROM file_tags ORDER BY id",
    "SELECT name, description, is_active FROM file_categories ORDER BY id",
    "SELECT extension, mime_type, is_allowed, max_file_size FROM file_extensions ORDER BY id",
    "SELECT setting_key, setting_value FROM system_settings ORDER BY id",
    "SELECT id, upload_status FROM file_uploads ORDER BY id",
    "SELECT content_hash FROM blobs ORDER BY id",
]


def _state(engine: Engine, data_dir: Path) -> list[object]:
    with engine.connect() as connection:
        rows: list[object] = [list(connection.execute(sa.text(sql))) for sql in STATE]
    return [*rows, blob_files(data_dir)]


def test_writes_need_the_admin_token_and_change_nothing_without_it(
    client: TestClient, service_engine: Engine, data_dir: Path
) -> None:
    files = _files(client)
    before = _state(service_engine, data_dir)
    for name, write in WRITES.items():
        method, path, body = write(files)
        for headers in (NOBODY, WRONG):
            refused = client.request(method, path, **body, headers=headers)
            where = f"{name}: {method} {path} {headers} -> {refused.status_code} {refused.text}"
            assert refused.status_code == 401, where
            assert refused.headers.get("www-authenticate") == "Bearer", where
            assert refused.json()["error"]["code"] == "unauthorized", where
    assert _state(service_engine, data_dir) == before


@pytest.fixture
def open_client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """The app with no admin token configured (the CLI then serves loopback only), asked
    as a program on the same machine asks: from 127.0.0.1, to localhost."""
    with TestClient(
        create_app(make_settings(admin_token=None)),
        raise_server_exceptions=False,
        base_url="http://localhost",
        client=("127.0.0.1", 50000),
    ) as c:
        yield c


def test_without_a_configured_token_every_caller_is_the_admin(open_client: TestClient) -> None:
    marker = f"m{secrets.token_hex(6)}"
    private = _put(open_client, f"{marker}.txt", public=False, tags=(marker,), headers=NOBODY)
    for path in ("/api/v1/files/{}", "/api/v1/files/{}/content", "/files/{}", "/download/{}"):
        assert open_client.get(path.format(private)).status_code == 200, path
    listed = open_client.get("/api/v1/files", params={"q": marker, "is_public": "false"})
    assert [item["file_uuid"] for item in listed.json()["items"]] == [private]
    assert {tag["tag_name"] for tag in open_client.get("/api/v1/tags").json()} >= {marker}
    assert open_client.get("/api/v1/stats").status_code == 200

    assert open_client.delete(f"/api/v1/files/{private}").status_code == 200
    assert open_client.get(f"/api/v1/files/{private}").json()["is_deleted"] is True
    deleted = open_client.get("/api/v1/files", params={"q": marker, "include_deleted": "true"})
    assert [item["file_uuid"] for item in deleted.json()["items"]] == [private]
    assert open_client.post(f"/api/v1/files/{private}/restore").status_code == 200
    assert open_client.delete(f"/files/{private}").status_code == 200


# --- the service's own state -----------------------------------------------------------


def test_metrics_need_the_metrics_token_or_the_admin_token(
    make_settings: Callable[..., Settings],
) -> None:
    scraper = {"Authorization": "Bearer scrape-only"}
    app = create_app(make_settings(metrics_token="scrape-only"))
    with TestClient(app, raise_server_exceptions=False) as client:
        for headers in (NOBODY, WRONG):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["error"]["code"] == "unauthorized"
            assert "filewallball_" not in refused.text
        for headers in (scraper, ADMIN):
            answer = client.get("/metrics", headers=headers)
            assert answer.status_code == 200, headers
            assert "filewallball_http_requests_total" in answer.text
        assert client.get("/api/v1/stats", headers=scraper).status_code == 401  # only metrics
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=scraper).status_code == 401
        assert client.get("/metrics", headers=ADMIN).status_code == 200


def test_anonymous_health_says_only_whether_the_service_works(client: TestClient) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "healthy",
        "version": __version__,
        "database": {"reachable": True},
        "storage": {"writable": True},
    }
    full = client.get("/health", headers=ADMIN).json()
    assert {"dialect", "round_trip_ms", "pool"} <= set(full["database"])
    assert {"free_bytes", "total_bytes", "low_space"} <= set(full["storage"])
    assert "fsck" in full
    assert client.get("/health", headers=WRONG).status_code == 401


def test_in_loopback_mode_metrics_and_full_health_are_open(open_client: TestClient) -> None:
    assert "filewallball_http_requests_total" in open_client.get("/metrics").text
    assert "free_bytes" in open_client.get("/health").json()["storage"]


# --- what every answer carries ---------------------------------------------------------


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    files = _files(client)
    content = f"/api/v1/files/{files.public}/content"
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/health", {}),
        ("GET", "/api/v1/files", {}),
        ("GET", f"/api/v1/files/{files.public}", {}),
        ("GET", content, {}),
        ("HEAD", content, {}),
        ("GET", content, {"headers": {"Range": "bytes=0-3"}}),
        ("GET", content, {"headers": {"If-None-Match": "*"}}),
        ("GET", content, {"headers": {"Range": "bytes=999999-"}}),
        ("GET", f"/api/v1/files/{files.public}/view", {}),
        ("GET", f"/view/{files.public}", {}),
        ("GET", "/files", {}),
        ("GET", f"/api/v1/files/{files.private}", {}),
        ("GET", f"/api/v1/files/{uuid.uuid4()}/content", {}),
        ("GET", "/api/v1/files/not-a-uuid", {}),
        ("GET", "/api/v1/files", {"params": {"limit": 0}}),
        ("GET", "/api/v1/stats", {}),
        ("GET", "/api/v1/stats", {"headers": WRONG}),
        ("PUT", "/api/v1/files/tool.exe", {"content": b"MZ", "headers": ADMIN}),
        ("POST", "/health", {}),
        ("GET", "/no/such/route", {}),
    ]
    for method, path, options in requests:
        answer = client.request(method, path, **options)
        where = f"{method} {path} {options} -> {answer.status_code}"
        assert answer.headers.get("x-content-type-options") == "nosniff", where
        assert answer.headers.get("x-frame-options") in ("DENY", "SAMEORIGIN"), where
        assert answer.headers.get("referrer-policy") == "no-referrer", where


ACTIVE_CONTENT = {
    "html": b"<!doctype html><script>alert(document.cookie)</script>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>1</script></svg>',
    "xml": b'<?xml version="1.0"?><x xmlns:h="http://www.w3.org/1999/xhtml">'
    b"<h:script>alert(1)</h:script></x>",
    "js": b"fetch('/api/v1/files').then(r => r.text()).then(alert);",
}


def test_active_content_is_only_ever_an_attachment(client: TestClient) -> None:
    # .js has no default policy: allow it, as an admin who wants to share scripts would.
    policy = {"mime_type": "text/javascript", "is_allowed": True, "max_file_size": MiB}
    assert client.put("/api/v1/extensions/js", json=policy, headers=ADMIN).status_code == 200
    for extension, content in ACTIVE_CONTENT.items():
        body = content + f"\n<!-- {secrets.token_hex(8)} -->".encode()
        file_uuid = _put(client, f"page-{secrets.token_hex(4)}.{extension}", body)
        for route in CONTENT_ROUTES:
            served = client.get(route.format(file_uuid))
            where = f".{extension} {route} -> {served.status_code} {served.headers}"
            assert served.status_code == 200, where
            assert served.content == body, where
            assert served.headers["content-disposition"].startswith("attachment;"), where
            assert "inline" not in served.headers["content-disposition"], where
            assert served.headers["x-content-type-options"] == "nosniff", where


SAFE_CONTENT = {
    "txt": ("text/plain", b"plain words\n"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)),
    "pdf": ("application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
}


def test_safe_types_are_viewed_inline_under_a_restrictive_policy(client: TestClient) -> None:
    for extension, (mime_type, head) in SAFE_CONTENT.items():
        body = head + secrets.token_bytes(64)
        file_uuid = _put(client, f"shown-{secrets.token_hex(4)}.{extension}", body)
        for route in ("/api/v1/files/{}/view", "/view/{}"):
            viewed = client.get(route.format(file_uuid))
            where = f".{extension} {route} -> {viewed.status_code} {viewed.headers}"
            assert viewed.status_code == 200, where
            assert viewed.content == body, where
            assert viewed.headers["content-type"].startswith(mime_type), where
            assert viewed.headers["content-disposition"].startswith("inline;"), where
            assert viewed.headers["x-content-type-options"] == "nosniff", where
            policy = viewed.headers["content-security-policy"]
            assert "default-src 'none'" in policy, where
            assert "script-src" not in policy, where
            assert "unsafe-eval" not in policy, where
            if extension != "pdf":  # browsers' PDF viewers do not run in a sandbox
                assert "sandbox" in policy, where
        downloaded = client.get(f"/api/v1/files/{file_uuid}/content")
        assert downloaded.headers["content-disposition"].startswith("attachment;"), extension


def test_error_answers_reveal_no_internals(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    files = _files(client)
    lost = f"{secrets.token_hex(16)}\n".encode()
    lost_uuid = _put(client, f"{files.marker}-lost.txt", lost)
    for blob in blob_files(data_dir):
        if blob.name == hashlib.sha256(lost).hexdigest():
            blob.unlink()
    long_id = "0" * 65
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/files/not-a-uuid", {}),
        ("GET", "/api/v1/files/' OR 1=1 --", {}),
        ("GET", f"/api/v1/files/{long_id}", {}),
        ("GET", f"/api/v1/files/{uuid.uuid4()}/content", {}),
        ("GET", f"/api/v1/files/{lost_uuid}/content", {}),
        ("GET", "/api/v1/files", {"params": {"limit": 0}}),
        ("GET", "/api/v1/files", {"params": {"cursor": "bm90IGEgY3Vyc29y"}}),
        ("GET", "/api/v1/files", {"params": {"sort": "storage_path"}}),
        ("GET", "/api/v1/files", {"params": {"created_after": "yesterday"}}),
        ("GET", "/api/v1/files", {"params": {"min_size": 5, "max_size": 1}}),
        ("GET", "/api/v1/stats", {"params": {"period": "century"}, "headers": ADMIN}),
        (
            "PATCH",
            f"/api/v1/files/{files.public}",
            {"json": {"category": "nope"}, "headers": ADMIN},
        ),
        ("PATCH", f"/api/v1/files/{files.public}", {"content": b"{", "headers": ADMIN}),
        ("POST", "/api/v1/categories", {"json": {"name": "documents"}, "headers": ADMIN}),
        ("PUT", "/api/v1/settings/max_upload_bytes", {"json": {"value": "lots"}, "headers": ADMIN}),
        ("PUT", "/api/v1/files/tool.exe", {"content": b"MZ", "headers": ADMIN}),
        (
            "PUT",
            "/api/v1/files/a.txt",
            {"content": b"\x7fELF\x02\x01\x01" + bytes(121), "headers": ADMIN},
        ),
        ("POST", "/api/v1/files", {"content": b"--x\r\n", "headers": ADMIN}),
        ("GET", "/files", {"params": {"page": 0}}),
        ("GET", "/files", {"params": {"sort_by": "storage_path"}}),
        ("GET", "/download/12345", {}),
        ("DELETE", f"/files/{uuid.uuid4()}", {"headers": ADMIN}),
        ("GET", "/no/such/route", {}),
    ]
    for method, path, options in requests:
        answer = client.request(method, path, **options)
        where = f"{method} {path} {options} -> {answer.status_code} {answer.text}"
        assert 400 <= answer.status_code < 500, where
        error = answer.json()["error"]
        assert set(error) == {"code", "message"}, where
        assert isinstance(error["code"], str), where
        assert isinstance(error["message"], str), where
        for secret in ("Traceback", "sqlalchemy", "SELECT", str(data_dir), str(tmp_path)):
            assert secret.lower() not in answer.text.lower(), where


def test_range_errors_have_the_error_shape(client: TestClient) -> None:
    content = f"{secrets.token_hex(16)}\n".encode()
    file_uuid = _put(client, f"r-{secrets.token_hex(4)}.txt", content)
    unsatisfiable, backwards, unknown_unit = "bytes=99999-", "bytes=5-1", "items=0-1"
    answers = {
        range_: client.get(f"/api/v1/files/{file_uuid}/content", headers={"Range": range_})
        for range_ in (unsatisfiable, backwards, unknown_unit)
    }
    ignored = sum(answer.status_code == 200 for answer in answers.values())
    events_written(client)
    assert client.get(f"/api/v1/files/{file_uuid}/activity").json()["downloads"] == ignored
    for range_, answer in answers.items():
        where = f"{range_} -> {answer.status_code} {answer.headers} {answer.text!r}"
        if answer.status_code == 200 and range_ != unsatisfiable:  # a server may ignore it
            assert answer.content == content, where
            continue
        assert answer.status_code in (400, 416), where
        assert answer.headers["content-type"].startswith("application/json"), where
        assert set(answer.json()["error"]) == {"code", "message"}, where
        if range_ == unsatisfiable:
            assert answer.status_code == 416, where
            assert answer.headers["content-range"] == f"bytes */{len(content)}", where
