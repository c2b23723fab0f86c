"""The service as users run it: ``filewallball serve`` in its own process, over TCP."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from filewallball.api.app import reuse_freed_buffers
from tests.api.conftest import (
    ADMIN,
    FILEWALLBALL,
    Running,
    blob_files,
    environment,
    free_port,
    growth_during,
    sha256_of,
    staged_files,
    start_server,
    stop_server,
    streamed,
)

MiB = 1024 * 1024
BOUNDARY = "serverBoundary"


def _form(filename: str, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """A multipart body streamed around ``pieces``."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\n\r\n"
    ).encode()
    yield from pieces
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("zero.txt", 0),
        ("one.txt", 1),
        ("mib.txt", MiB),
        pytest.param("fifty.txt", 50 * MiB, marks=pytest.mark.slow),
        ("東京 ü.txt", 10),
    ],
)
def test_round_trip_over_tcp(running: Running, name: str, size: int) -> None:
    seed = os.urandom(8)
    with httpx.Client(base_url=running.url, headers=ADMIN, timeout=60) as http:
        created = http.put(f"/api/v1/files/{name}", content=streamed(seed, size))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["file_hash"] == sha256_of(streamed(seed, size))
        digest, received = hashlib.sha256(), 0
        with http.stream("GET", body["content_url"]) as download:
            assert download.status_code == 200
            for piece in download.iter_bytes():
                digest.update(piece)
                received += len(piece)
        assert received == size
        assert digest.hexdigest() == body["file_hash"]
        multipart = http.post(
            "/api/v1/files", files={"file": (name, b"".join(streamed(seed, min(size, MiB))))}
        )
        assert multipart.status_code == 201
    assert staged_files(running.data_dir) == []


@pytest.mark.slow
@pytest.mark.parametrize("multipart", [False, True], ids=["put", "multipart"])
def test_a_large_upload_does_not_grow_the_server(running: Running, multipart: bool) -> None:
    size = 200 * MiB

    def send() -> httpx.Response:
        with httpx.Client(base_url=running.url, headers=ADMIN, timeout=120) as http:
            if multipart:
                return http.post(
                    "/api/v1/files",
                    content=_form("big.tar", streamed(b"form", size)),
                    headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                )
            return http.put("/api/v1/files/big.tar", content=streamed(b"big", size))

    created, growth = growth_during(running, send)
    assert created.status_code == 201, created.text
    assert created.json()["file_size"] == size
    assert growth < 50 * MiB, f"the server grew by {growth / MiB:.1f} MiB"
    [blob] = [p for p in blob_files(running.data_dir) if p.name == created.json()["file_hash"]]
    assert blob.stat().st_size == size


def test_serve_refuses_other_addresses_without_a_token(tmp_path: Path) -> None:
    """Refused from its arguments and settings alone, before any database is opened."""
    database, data_dir = tmp_path / "never.db", tmp_path / "data"
    result = subprocess.run(
        [FILEWALLBALL, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=environment(URL.create("sqlite", database=str(database)), data_dir),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "FILEWALLBALL_ADMIN_TOKEN is not set" in result.stderr
    assert not (data_dir / "blobs").exists()
    assert not database.exists()


def test_leftover_partial_uploads_are_removed_at_start(
    service_url: URL, data_dir: Path, tmp_path: Path
) -> None:
    staging = data_dir / "blobs" / ".staging"
    staging.mkdir(parents=True)
    (staging / "crashed.part").write_bytes(b"half an upload")
    server = start_server(service_url, data_dir, tmp_path / "serve.log")  # once it is up
    try:
        assert staged_files(data_dir) == []
    finally:
        stop_server(server)


def test_freed_buffers_are_kept_for_reuse_on_glibc() -> None:
    assert reuse_freed_buffers() is (platform.libc_ver()[0] == "glibc")


def test_other_clients_are_served_while_200_slow_sockets_are_open(running: Running) -> None:
    port = int(running.url.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            slow.append(sock)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never more
        assert httpx.get(f"{running.url}/health", timeout=30).status_code == 200
    finally:
        for sock in slow:
            sock.close()


def _downloaded_bytes(http: httpx.Client) -> float:
    [line] = [
        line
        for line in http.get("/metrics").text.splitlines()
        if line.startswith("filewallball_download_bytes_total ")
    ]
    return float(line.split()[1])


def test_a_whole_file_sent_by_the_server_is_counted(running: Running) -> None:
    """The server sends a whole file itself (http.response.pathsend): the download's
    bytes are counted all the same."""
    with httpx.Client(base_url=running.url, headers=ADMIN, timeout=30) as http:
        created = http.put("/api/v1/files/counted.txt", content=streamed(os.urandom(8), MiB))
        assert created.status_code == 201, created.text
        before = _downloaded_bytes(http)
        assert len(http.get(created.json()["content_url"]).content) == MiB
        deadline = time.monotonic() + 10  # counted once the response has gone
        while _downloaded_bytes(http) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _downloaded_bytes(http) - before == MiB
