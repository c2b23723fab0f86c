"""The root upload (SPEC section 12): ``curl -T photo.jpg http://host/`` answers the URL
that downloads the file; ``PUT /api/v1/files`` takes a file without a name in its path.
The service's own root names are never uploads, and GET of an unknown root path is 404."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from filewallball.api import create_app
from filewallball.api.routes.root import RESERVED_NAMES
from filewallball.settings import Settings
from tests.api.conftest import ADMIN, TOKEN, Running

# SPEC section 12: the root names the service uses.
SPEC_ROOT_NAMES = frozenset(
    {"login", "logout", "health", "metrics", "docs", "upload", "files", "download", "view"}
    | {"s", "u", "ui"}
)


def _count_files(admin: TestClient, name: str) -> int:
    listed = admin.get("/api/v1/files", params={"q": name, "limit": 100})
    assert listed.status_code == 200, listed.text
    return sum(item["original_filename"] == name for item in listed.json()["items"])


def test_a_root_upload_answers_the_url_that_downloads_it(admin: TestClient) -> None:
    answer = admin.put("/photo of me.jpg", content=b"\xff\xd8\xff\xe0 not really a jpeg")
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    [url] = answer.text.splitlines()
    assert answer.text == f"{url}\n"
    assert answer.headers["location"] == url
    assert re.fullmatch(r"http://testserver/download/[0-9a-f-]{36}/photo%20of%20me\.jpg", url)
    downloaded = admin.get(url)
    assert downloaded.status_code == 200
    assert downloaded.content == b"\xff\xd8\xff\xe0 not really a jpeg"
    assert "filename*=UTF-8''photo%20of%20me.jpg" in downloaded.headers["content-disposition"]
    head = admin.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(downloaded.content))


def test_a_root_upload_answers_the_file_json_when_asked(admin: TestClient) -> None:
    answer = admin.put(
        "/notes.txt?tags=a,b&is_public=false",
        content=b"some notes",
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    file = answer.json()
    assert file["original_filename"] == "notes.txt"
    assert sorted(file["tags"]) == ["a", "b"]
    assert file["is_public"] is False
    assert answer.headers["location"].endswith(f"/download/{file['file_uuid']}/notes.txt")


def test_the_root_upload_is_documented_as_a_url_or_the_file(client: TestClient) -> None:
    put = client.get("/openapi.json").json()["paths"]["/{filename}"]["put"]
    created = put["responses"]["201"]["content"]
    assert created["text/plain"]["schema"]["type"] == "string"
    assert created["application/json"]["schema"]["$ref"].endswith("/FileOut")
    assert "405" in put["responses"]


def test_the_url_is_under_the_public_url_when_one_is_set(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(public_url="https://files.example.com/")
    with TestClient(create_app(settings), headers=ADMIN) as client:
        answer = client.put("/résumé.txt", content=b"cv")
    assert answer.status_code == 201, answer.text
    assert re.fullmatch(
        r"https://files\.example\.com/download/[0-9a-f-]{36}/r%C3%A9sum%C3%A9\.txt\n", answer.text
    )


def test_the_url_is_under_the_requests_host_otherwise(admin: TestClient) -> None:
    answer = admin.put("/h.txt", content=b"h", headers={"Host": "files.example.org:8443"})
    assert answer.status_code == 201, answer.text
    assert answer.text.startswith("http://files.example.org:8443/download/")


def test_a_root_upload_needs_the_admin(client: TestClient) -> None:
    answer = client.put("/anonymous.txt", content=b"x")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("name", sorted(SPEC_ROOT_NAMES))
def test_the_services_root_names_are_never_uploads(admin: TestClient, name: str) -> None:
    answer = admin.put(f"/{name}", content=b"would shadow the service")
    assert answer.status_code in (404, 405), answer.text
    assert answer.json()["error"]["code"] in ("not_found", "method_not_allowed")
    assert _count_files(admin, name) == 0


def test_every_root_name_the_routes_use_is_reserved(client: TestClient) -> None:
    documented = client.get("/openapi.json").json()["paths"]
    # The routes left out of the document (/docs and its assets) are the app's own.
    undocumented = [getattr(route, "path", "") for route in cast(FastAPI, client.app).routes]
    used = {path.lstrip("/").partition("/")[0] for path in [*documented, *undocumented]}
    assert used - {"", "{filename}"} <= RESERVED_NAMES
    assert "docs" in used
    assert SPEC_ROOT_NAMES <= RESERVED_NAMES


def test_get_of_an_unknown_root_path_stays_404(admin: TestClient) -> None:
    uploaded = admin.put("/here.txt", content=b"here")
    assert uploaded.status_code == 201
    for method in ("GET", "HEAD", "POST", "DELETE"):
        answer = admin.request(method, "/here.txt")
        assert answer.status_code == 404, (method, answer.text)


def test_put_files_without_a_name_takes_content_disposition(admin: TestClient) -> None:
    given = {"Content-Disposition": "attachment; filename*=UTF-8''%E2%82%AC%20rates.csv"}
    answer = admin.put("/api/v1/files?filename=ignored.txt", content=b"a,b\n", headers=given)
    assert answer.status_code == 201, answer.text
    assert answer.json()["original_filename"] == "€ rates.csv"
    plain = {"Content-Disposition": 'attachment; filename="plain name.txt"'}
    answer = admin.put("/api/v1/files", content=b"x", headers=plain)
    assert answer.json()["original_filename"] == "plain name.txt"
    raw = {"Content-Disposition": 'attachment; filename="café.txt"'.encode()}
    answer = admin.put("/api/v1/files", content=b"x", headers=raw)  # type: ignore[dict-item]
    assert answer.json()["original_filename"] == "café.txt"


def test_put_files_without_a_name_takes_the_filename_parameter(admin: TestClient) -> None:
    answer = admin.put("/api/v1/files?filename=from query.txt&tags=q", content=b"x")
    assert answer.status_code == 201, answer.text
    assert answer.json()["original_filename"] == "from query.txt"
    assert answer.json()["tags"] == ["q"]


def test_put_files_with_no_name_at_all_makes_one_up(admin: TestClient) -> None:
    names = set()
    for _ in range(2):
        answer = admin.put("/api/v1/files", content=b"nameless bytes")
        assert answer.status_code == 201, answer.text
        names.add(answer.json()["original_filename"])
        assert re.fullmatch(r"upload-[0-9a-f]{8}", answer.json()["original_filename"])
        assert answer.json()["mime_type"] == "application/octet-stream"
    assert len(names) == 2


def test_a_content_disposition_name_that_is_not_utf8_is_refused(admin: TestClient) -> None:
    headers = {"Content-Disposition": "attachment; filename*=UTF-8''caf%E9.txt"}
    answer = admin.put("/api/v1/files", content=b"x", headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"


# --- with curl, against the real server -------------------------------------------------


def _curl(*arguments: str | bytes, check: bool = True) -> str:
    """curl's answer; ``-w`` appends the status on a line of its own."""
    done = subprocess.run(
        ["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}", "-w", "\n%{http_code}", *arguments],
        capture_output=True,
        check=True,
    )
    answer, _, status = done.stdout.decode().rpartition("\n")
    assert not check or status.startswith("2"), answer
    return answer


def test_curl_uploads_to_the_root_and_downloads_from_the_url(
    running: Running, tmp_path: Path
) -> None:
    sent = tmp_path / "holiday photo.jpg"
    sent.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    answer = _curl("-T", str(sent), f"{running.url}/")
    [url] = answer.splitlines()
    assert url.startswith(f"{running.url}/download/")
    assert url.endswith("/holiday%20photo.jpg")
    received = tmp_path / "received.jpg"
    _curl("-o", str(received), url)
    assert received.read_bytes() == sent.read_bytes()


def test_curl_uploads_to_the_files_route_without_a_slash(running: Running, tmp_path: Path) -> None:
    sent = tmp_path / "data.bin"
    sent.write_bytes(b"curl sends no name here")
    file = json.loads(_curl("-T", str(sent), f"{running.url}/api/v1/files"))
    assert re.fullmatch(r"upload-[0-9a-f]{8}", file["original_filename"])
    assert file["file_size"] == len(sent.read_bytes())
    disposition = "Content-Disposition: attachment; filename=data.bin"
    named = _curl("-T", str(sent), "-H", disposition, f"{running.url}/api/v1/files")
    assert json.loads(named)["original_filename"] == "data.bin"


def test_a_latin1_content_disposition_name_is_refused(running: Running, tmp_path: Path) -> None:
    sent = tmp_path / "x.txt"
    sent.write_bytes(b"x")
    latin1 = b'Content-Disposition: attachment; filename="caf\xe9.txt"'
    answer = _curl("-T", str(sent), "-H", latin1, f"{running.url}/api/v1/files", check=False)
    assert json.loads(answer)["error"]["code"] == "invalid_input"
    utf8 = 'Content-Disposition: attachment; filename="café.txt"'.encode()
    answer = _curl("-T", str(sent), "-H", utf8, f"{running.url}/api/v1/files")
    assert json.loads(answer)["original_filename"] == "café.txt"
