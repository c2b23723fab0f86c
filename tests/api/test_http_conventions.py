"""HTTP's own conventions: a 405 lists in ``Allow`` every method its path takes, OPTIONS
is answered on every route, CORS preflights still get the CORS answer, and raw UTF-8 in
a query string (which browsers and curl send as typed) is read as UTF-8."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from filewallball.api import create_app
from filewallball.settings import Settings
from tests.api.conftest import ADMIN, Running

FILE = f"/api/v1/files/{uuid.uuid4()}"


def _allowed(answer_allow: str) -> set[str]:
    return {method.strip() for method in answer_allow.split(",")}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # GET, POST and PUT of /api/v1/files come from two routers: Starlette named one.
        ("DELETE", "/api/v1/files", {"GET", "POST", "PUT", "OPTIONS"}),
        ("POST", FILE, {"GET", "PATCH", "DELETE", "PUT", "OPTIONS"}),
        ("DELETE", f"{FILE}/content", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", "/health", {"GET", "OPTIONS"}),
        ("PUT", "/files", {"GET", "OPTIONS"}),
        ("PUT", "/openapi.json", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/docs/assets/swagger-ui.css", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_a_405_lists_every_method_of_the_path(
    admin: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    answer = admin.request(method, path)
    assert answer.status_code == 405, answer.text
    assert _allowed(answer.headers["allow"]) == allowed
    error = answer.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert method in error["message"]
    assert all(name in error["message"] for name in allowed)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/files", {"GET", "POST", "PUT", "OPTIONS"}),
        (FILE, {"GET", "PATCH", "DELETE", "PUT", "OPTIONS"}),
        ("/health", {"GET", "OPTIONS"}),
        ("/photo.jpg", {"PUT", "OPTIONS"}),  # the root upload
    ],
)
def test_options_answers_the_methods_of_the_path(
    client: TestClient, path: str, allowed: set[str]
) -> None:
    answer = client.options(path)  # anonymous: what a path takes is no secret
    assert answer.status_code == 204, answer.text
    assert _allowed(answer.headers["allow"]) == allowed
    assert answer.content == b""


def test_options_of_an_unknown_path_is_404(client: TestClient) -> None:
    assert client.options("/api/v1/nothing").status_code == 404
    assert client.options("/health/deeper").status_code == 404


def test_cors_preflights_still_get_the_cors_answer(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(cors_origins=["https://app.example.com"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        preflight = client.options(
            "/photo.jpg",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "PUT" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers
        refused = client.options(
            "/photo.jpg",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
        )
        assert "access-control-allow-origin" not in refused.headers
        plain = client.options("/api/v1/files", headers={"Origin": "https://app.example.com"})
        assert plain.status_code == 204
        assert plain.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "PUT" in plain.headers["allow"]
        uploaded = client.put(
            "/cors.txt", content=b"x", headers={**ADMIN, "Origin": "https://app.example.com"}
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "Location" in uploaded.headers["access-control-expose-headers"]


def test_without_cors_origins_a_preflight_gets_no_cors_answer(client: TestClient) -> None:
    preflight = client.options(
        "/api/v1/files",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"},
    )
    assert preflight.status_code == 204
    assert "access-control-allow-origin" not in preflight.headers


# --- against the real server: what reaches the application is the server's to decide ---


def _raw_get(url: str, target: bytes) -> tuple[int, bytes]:
    """A GET of ``target`` sent byte for byte, as no HTTP library would send it."""
    parts = urlsplit(url)
    with socket.create_connection(
        (str(parts.hostname), int(parts.port or 80)), timeout=10
    ) as connection:
        connection.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: " + ADMIN["Authorization"].encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_raw_utf8_in_a_query_string_is_read_as_utf8(running: Running) -> None:
    name = f"café-{uuid.uuid4().hex[:8]}.txt"
    uploaded = httpx.put(f"{running.url}/api/v1/files/{quote(name)}", content=b"x", headers=ADMIN)
    assert uploaded.status_code == 201, uploaded.text
    status, body = _raw_get(running.url, f"/api/v1/files?q={name[:-4]}".encode())
    assert status == 200, body
    assert [item["original_filename"] for item in json.loads(body)["items"]] == [name]


def test_a_bad_value_in_raw_utf8_gets_the_json_error_shape(running: Running) -> None:
    status, body = _raw_get(running.url, "/api/v1/files?limit=é".encode())
    assert status == 422, body
    assert json.loads(body)["error"]["code"] == "validation_error"
