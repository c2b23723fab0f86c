"""Slow and abusive connections, against ``filewallball serve`` over raw sockets: headers
that never finish, idle connections, more connections than a worker takes, and request
bodies the service refuses. The server is the same whatever the database: SQLite only."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from filewallball.api.lingering import LINGER_BYTES
from tests.api.conftest import Running, start_server, stop_server

pytestmark = [pytest.mark.sqlite, pytest.mark.slow]  # each waits out a timeout

MiB = 1024 * 1024
MAX_CONNECTIONS = 3


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server with a header timeout of one second and room for three connections."""
    tmp_path = tmp_path_factory.mktemp("guarded")
    data_dir = tmp_path / "data"
    url = URL.create("sqlite", database=str(tmp_path / "filewallball.db"))
    server = start_server(
        url,
        data_dir,
        tmp_path / "serve.log",
        FILEWALLBALL_HEADER_TIMEOUT_SECONDS="1",
        FILEWALLBALL_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    yield server
    stop_server(server)


def _connect(server: Running) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a 30 s socket timeout fails the test)."""
    received = b""
    while piece := sock.recv(65536):
        received += piece
    return received


def test_a_connection_that_never_finishes_its_headers_is_closed(guarded: Running) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert _read_until_closed(sock) == b""


def test_an_idle_kept_alive_connection_is_closed(guarded: Running) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"connection: close" not in answer.lower()  # kept alive, then timed out


def test_a_connection_past_the_limit_waits_until_one_closes(guarded: Running) -> None:
    """Past MAX_CONNECTIONS a connection is not served until one of them ends (here by
    the header timeout): when its answer comes, one of them is closed already."""
    slow = [_connect(guarded) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.2)  # accepted before the next one connects
        with _connect(guarded) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert any(_closed_by_server(sock) for sock in slow)
    finally:
        for sock in slow:
            sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False


def _refused_upload(server: Running, declared: int, sent: int) -> tuple[int, bytes, bytes]:
    """An anonymous PUT declaring ``declared`` bytes, of which it writes up to ``sent``
    before reading anything: bytes written, the answer's head, and how the server
    ended the connection (b"closed" or b"reset")."""
    chunk = b"x" * (256 * 1024)
    with _connect(server) as sock:
        sock.sendall(
            b"PUT /api/v1/files/refused.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Content-Length: {declared}\r\n\r\n".encode()
        )
        written = 0
        try:
            while written < sent:
                written += sock.send(chunk[: sent - written])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed, as it should
        answer = b""
        try:
            while b"\r\n\r\n" not in answer and (piece := sock.recv(65536)):
                answer += piece
            _read_until_closed(sock)
            ending = b"closed"
        except ConnectionResetError:
            ending = b"reset"
    return written, answer, ending


def test_a_large_refused_upload_gets_its_answer_and_is_not_read_to_the_end(
    guarded: Running,
) -> None:
    """The client writes its whole body before it reads. The server reads a bounded part
    of it (plus what the sockets' buffers hold), answers 401 and closes."""
    size = 48 * MiB
    written, answer, _ending = _refused_upload(guarded, size, size)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b"\r\nconnection: close\r\n" in answer.lower()
    assert written < size // 2, f"the server read {written / MiB:.0f} MiB of a refused body"


def test_a_refused_upload_is_closed_cleanly_once_the_client_stops_sending(
    guarded: Running,
) -> None:
    """The server reads what a client sent before it saw the refusal, so that closing
    does not reset the connection (a reset can destroy the answer before the client
    reads it)."""
    written, answer, ending = _refused_upload(guarded, 48 * MiB, LINGER_BYTES - 64 * 1024)
    assert written == LINGER_BYTES - 64 * 1024
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert ending == b"closed"
