"""Which requests reach the service at all (SPEC section 10): a Host it answers to, in
loopback mode only requests made directly on this machine, and no state-changing request
with ambient credentials (loopback mode) from another site."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from starlette.datastructures import Headers

from filewallball.api import create_app
from filewallball.api.guard import Origin, cross_site, parse_host, parse_origin
from filewallball.settings import Settings
from tests.api.conftest import ADMIN, Running
from tests.servers import only_on

LOCAL = ("127.0.0.1", 50000)


# --- the parsers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("localhost", ("localhost", None)),
        ("LocalHost:8000", ("localhost", 8000)),
        ("files.example.com.", ("files.example.com", None)),
        ("127.0.0.1:65535", ("127.0.0.1", 65535)),
        ("[::1]:8000", ("[::1]", 8000)),
        ("[0:0:0:0:0:0:0:1]", ("[::1]", None)),
        ("example.com:", ("example.com", None)),
        ("", None),
        (":80", None),
        ("example.com:65536", None),
        ("example.com:" + "9" * 5000, None),
        ("example.com:-1", None),
        ("[::1", None),
        ("[nonsense]", None),
        ("user@example.com", None),
        ("example.com/path", None),
        ("exa mple.com", None),
        ("ex%61mple.com", None),
    ],
)
def test_a_host_header_is_parsed_strictly(value: str, parsed: tuple[str, int | None]) -> None:
    assert parse_host(value) == parsed


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("http://localhost", Origin("http", "localhost", 80)),
        ("HTTPS://Files.Example.com", Origin("https", "files.example.com", 443)),
        ("http://127.0.0.1:8000", Origin("http", "127.0.0.1", 8000)),
        ("http://[::1]:8000", Origin("http", "[::1]", 8000)),
        ("null", None),
        ("file://", None),
        ("ftp://example.com", None),
        ("http://example.com/path", None),
        ("example.com", None),
    ],
)
def test_an_origin_is_parsed_strictly(value: str, parsed: Origin | None) -> None:
    assert parse_origin(value) == parsed


OWN = {Origin("http", "localhost", 8000)}


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", {}, None),  # curl, scripts: no browser, no ambient credentials to abuse
        ("POST", {"Sec-Fetch-Site": "same-origin"}, None),
        ("POST", {"Sec-Fetch-Site": "none"}, None),
        ("POST", {"Origin": "http://localhost:8000"}, None),
        ("POST", {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, None),
        ("GET", {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, None),
        ("OPTIONS", {"Origin": "https://evil.example"}, None),
        ("POST", {"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site: cross-site"),
        ("PUT", {"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site: same-site"),
        ("POST", {"Origin": "https://evil.example"}, "Origin: https://evil.example"),
        # Plain HTTP to a LAN address: the browser sends no Sec-Fetch-* at all.
        ("DELETE", {"Origin": "http://192.168.1.20:8000"}, "Origin: http://192.168.1.20:8000"),
        ("POST", {"Origin": "http://localhost:8001"}, "Origin: http://localhost:8001"),
        ("POST", {"Origin": "https://localhost:8000"}, "Origin: https://localhost:8000"),
        ("POST", {"Origin": "null"}, "Origin: null"),
        ("POST", {"Origin": "null", "Sec-Fetch-Site": "none"}, "Origin: null"),
        ("PATCH", {"Origin": "garbage"}, "Origin: garbage"),
        (
            "POST",
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
            "Origin: https://evil.example",
        ),
    ],
)
def test_cross_site_writes_are_recognised(
    method: str, headers: dict[str, str], refused: str | None
) -> None:
    assert cross_site(method, Headers(headers), OWN) == refused


# --- the service -----------------------------------------------------------------------

# The checks answer before the database is asked anything: one database tells.
ON_SQLITE = only_on("sqlite")


@pytest.fixture
def loopback(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Apps in loopback mode (no admin token), asked from 127.0.0.1 to localhost."""
    clients: list[TestClient] = []

    def make(
        peer: tuple[str, int] = LOCAL, base_url: str = "http://localhost", **settings: Any
    ) -> TestClient:
        app = create_app(make_settings(admin_token=None, **settings))
        client = TestClient(app, raise_server_exceptions=False, base_url=base_url, client=peer)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def local(loopback: Callable[..., TestClient]) -> TestClient:
    return loopback()


def _refused(answer: httpx2.Response, status: int, code: str, words: str) -> None:
    where = f"{answer.request.method} {answer.request.url} -> {answer.status_code} {answer.text}"
    assert answer.status_code == status, where
    assert answer.json() == {"error": {"code": code, "message": answer.json()["error"]["message"]}}
    assert words in answer.json()["error"]["message"], where
    assert answer.headers["x-content-type-options"] == "nosniff", where
    assert "location" not in answer.headers, where


def _files(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM files")).scalar_one())


@ON_SQLITE
def test_loopback_mode_answers_only_to_the_loopback_names(local: TestClient) -> None:
    for host in ("localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]:8000"):
        assert local.get("/health", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "0.0.0.0"):
        answer = local.get("/api/v1/files", headers={"Host": host})
        _refused(answer, 400, "invalid_host", host.lower())
        assert "FILEWALLBALL_ALLOWED_HOSTS" in answer.json()["error"]["message"]
    _refused(local.get("/health", headers={"Host": "a b"}), 400, "invalid_host", "not a host")
    doubled = local.get("/health", headers=[("Host", "localhost"), ("Host", "evil.example")])
    _refused(doubled, 400, "invalid_host", "more than one Host")


@ON_SQLITE
def test_a_rebinding_page_cannot_read_files(local: TestClient, service_engine: Engine) -> None:
    """DNS rebinding: the page's own name now points at 127.0.0.1, and its requests, made
    by the operator's browser on this machine, carry that name."""
    created = local.put(f"/api/v1/files/secret-{secrets.token_hex(4)}.txt", content=b"secret")
    private = created.json()["content_url"]
    rebound = {"Host": "attacker.example:8000", "Sec-Fetch-Site": "same-origin"}
    _refused(local.get(private, headers=rebound), 400, "invalid_host", "attacker.example")
    _refused(local.get("/api/v1/files", headers=rebound), 400, "invalid_host", "attacker.example")
    assert local.get(private).content == b"secret"


@ON_SQLITE
def test_a_trailing_slash_redirect_only_names_a_vetted_host(local: TestClient) -> None:
    redirected = local.get("/api/v1/files/", follow_redirects=False)
    assert redirected.status_code == 307
    assert redirected.headers["location"] == "http://localhost/api/v1/files"
    evil = local.get("/api/v1/files/", headers={"Host": "evil.example"}, follow_redirects=False)
    _refused(evil, 400, "invalid_host", "evil.example")


@ON_SQLITE
def test_allowed_hosts_and_the_public_url(
    make_settings: Callable[..., Settings], loopback: Callable[..., TestClient]
) -> None:
    settings = make_settings(
        allowed_hosts=["files.example.com", "*.example.org"],
        public_url="https://public.example.net/files/",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for host in (
            "files.example.com",
            "FILES.example.com:8443",
            "a.example.org",
            "b.a.example.org",
        ):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
        assert client.get("/health", headers={"Host": "public.example.net"}).status_code == 200
        for host in ("example.org", "evil.com", "localhost", "files.example.com.evil.com"):
            _refused(client.get("/health", headers={"Host": host}), 400, "invalid_host", host)
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        for host in ("anything.example", "10.0.0.7:8000", "[2001:db8::1]"):  # a token: any host
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
    lan = loopback(allowed_hosts=["files.lan"], base_url="http://files.lan")
    assert lan.get("/health").status_code == 200
    _refused(lan.get("/health", headers={"Host": "localhost"}), 400, "invalid_host", "localhost")


@ON_SQLITE
def test_a_request_without_a_host_is_refused(running: Running) -> None:
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n")[0].split(b" ")[1] == b"400", answer[:200]
    assert b'"invalid_host"' in answer
    assert b"no Host header" in answer


PROXIED = [
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9;proto=https"},
    {"Via": "1.1 proxy.example"},
    {"x-forwarded-for": "127.0.0.1"},
]


@ON_SQLITE
@pytest.mark.parametrize("headers", PROXIED, ids=[next(iter(h)) for h in PROXIED])
def test_loopback_mode_refuses_proxied_requests(
    local: TestClient, service_engine: Engine, headers: dict[str, str]
) -> None:
    before = _files(service_engine)
    name = next(iter(headers)).lower()
    for method, path, options in [
        ("GET", "/api/v1/files", {}),
        ("GET", "/health", {}),
        ("PUT", "/api/v1/files/proxied.txt", {"content": b"x"}),
    ]:
        answer = local.request(method, path, headers=headers, **options)
        _refused(answer, 403, "not_local", "through a proxy")
        assert name in answer.json()["error"]["message"].lower()
    assert _files(service_engine) == before


@ON_SQLITE
def test_loopback_mode_refuses_other_machines(loopback: Callable[..., TestClient]) -> None:
    for peer in ("192.168.1.20", "10.0.0.1", "2001:db8::1", "testclient"):
        answer = loopback(peer=(peer, 40000)).get("/api/v1/files")
        _refused(answer, 403, "not_local", peer)
    for peer in ("127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"):
        assert loopback(peer=(peer, 40000)).get("/api/v1/files").status_code == 200, peer


@ON_SQLITE
def test_with_a_token_proxies_and_other_machines_are_served(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings())
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.9", 1)) as client:
        answer = client.get("/api/v1/files", headers={"X-Forwarded-For": "198.51.100.1"})
        assert answer.status_code == 200, answer.text


def _form(name: str) -> dict[str, Any]:
    return {"files": {"file": (name, f"{secrets.token_hex(16)}\n".encode(), "text/plain")}}


CROSS_SITE = [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://192.168.1.20:8000"},  # a LAN page over HTTP: no Sec-Fetch-*
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame, data: URL
    {"Origin": "null"},
]


@ON_SQLITE
@pytest.mark.parametrize("headers", CROSS_SITE, ids=[str(h) for h in CROSS_SITE])
def test_loopback_mode_refuses_writes_from_other_sites(
    local: TestClient, service_engine: Engine, headers: dict[str, str]
) -> None:
    target = local.put(f"/api/v1/files/t-{secrets.token_hex(4)}.txt", content=b"x").json()
    before = _files(service_engine)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/files", _form("forged.txt")),
        ("POST", "/upload", _form("forged.txt")),
        ("PUT", "/api/v1/files/forged.txt", {"content": b"forged"}),
        ("DELETE", f"/api/v1/files/{target['file_uuid']}", {}),
        ("PATCH", f"/api/v1/files/{target['file_uuid']}", {"json": {"is_public": False}}),
        ("PUT", "/api/v1/settings/max_upload_bytes", {"json": {"value": 1}}),
    ]
    for method, path, options in writes:
        answer = local.request(method, path, headers=headers, **options)
        _refused(answer, 403, "cross_site", "another site")
    assert _files(service_engine) == before
    assert local.get(f"/api/v1/files/{target['file_uuid']}").json()["is_public"] is True
    assert local.get("/api/v1/files", headers=headers).status_code == 200  # reading is not


SAME_SITE = [
    {},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "null"},  # our own form, no-referrer
    {"Sec-Fetch-Site": "none"},
    {"Origin": "http://localhost:80"},
    {"Origin": "https://evil.example", "Authorization": "Bearer anything"},  # not ambient
]


@ON_SQLITE
@pytest.mark.parametrize("headers", SAME_SITE, ids=[str(h) for h in SAME_SITE])
def test_loopback_mode_accepts_writes_from_its_own_pages_and_programs(
    local: TestClient, headers: dict[str, str]
) -> None:
    answer = local.post("/api/v1/files", headers=headers, **_form("own.txt"))
    assert answer.status_code == 201, answer.text


@ON_SQLITE
def test_configured_origins_pass_the_origin_check(loopback: Callable[..., TestClient]) -> None:
    """An origin in FILEWALLBALL_CORS_ORIGINS is one the service trusts as its own, by
    Origin; a browser's Sec-Fetch-Site still decides when it sends one (SPEC section 10),
    and CORS never allows credentials."""
    client = loopback(cors_origins=["https://App.example.com/"])
    origin = {"Origin": "https://app.example.com"}
    answer = client.put("/api/v1/files/cors.txt", content=b"x", headers=origin)
    assert answer.status_code == 201, answer.text
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in answer.headers
    assert "Upload-File-UUID" in answer.headers["access-control-expose-headers"]
    marked = {**origin, "Sec-Fetch-Site": "cross-site"}
    refused = client.put("/api/v1/files/cors.txt", content=b"x", headers=marked)
    _refused(refused, 403, "cross_site", "Sec-Fetch-Site")
    other = {"Origin": "https://app.example.com.evil"}
    refused = client.put("/api/v1/files/cors.txt", content=b"x", headers=other)
    _refused(refused, 403, "cross_site", "app.example.com.evil")
    assert "access-control-allow-origin" not in refused.headers


@ON_SQLITE
def test_with_a_token_credentials_are_never_ambient(make_settings: Callable[..., Settings]) -> None:
    """The bearer token is sent by a program, never added by a browser: no check of
    origin applies, and without the token a write is refused for want of it."""
    forged = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        answer = client.put("/api/v1/files/t.txt", content=b"x", headers={**forged, **ADMIN})
        assert answer.status_code == 201, answer.text
        assert client.put("/api/v1/files/t.txt", content=b"x", headers=forged).status_code == 401


@ON_SQLITE
def test_the_public_url_is_an_origin_of_the_service(
    loopback: Callable[..., TestClient],
) -> None:
    client = loopback(public_url="http://files.local:8080")
    own = {"Origin": "http://files.local:8080", "Sec-Fetch-Site": "same-origin"}
    answer = client.put("/api/v1/files/p.txt", content=b"x", headers=own)
    assert answer.status_code == 201, answer.text
