"""Fixtures for the HTTP service: a migrated database that the service commits into (one
per run and dialect, shared by the API tests; each test uses its own data directory and
its own names), and clients in-process or against a real server.

HTTP behaviour (parsing, headers, access, ranges, the server's limits) is the same
whatever the database, so these tests run on SQLite. A test whose outcome the database
decides (concurrent writers, collation, column lengths, encodings, recovery of a killed
client's transaction) says so with ``tests.servers.every_database`` or ``only_on``; the
data layer itself is tested on every database in tests/operations and tests/test_*.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar, cast

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL, Engine

from filewallball.api import create_app
from filewallball.database import create_database_engine
from filewallball.settings import Settings
from tests.conftest import database_server, upgrade
from tests.factories import UNSNIFFABLE
from tests.servers import Server, on_database, settings_for

TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
FILEWALLBALL = str(Path(sys.executable).with_name("filewallball"))
T = TypeVar("T")


@pytest.fixture(scope="session", params=[on_database("sqlite")])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return database_server(request, tmp_path_factory)


@pytest.fixture(scope="session")
def service_url(server: Server) -> Iterator[URL]:
    url = server.create_database()
    engine = create_database_engine(settings_for(url))
    upgrade(engine)
    engine.dispose()
    yield url
    server.drop_database(url)


@pytest.fixture
def service_engine(service_url: URL) -> Iterator[Engine]:
    """For looking at what the service committed."""
    engine = sa.create_engine(service_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_settings(service_url: URL, data_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": data_dir, "admin_token": TOKEN, **overrides}
        return settings_for(service_url, pool_size=5, max_overflow=5, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app in-process, lifespan included; the admin token is configured."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def events_written(client: TestClient) -> None:
    """Views and downloads are written in batches after their answers: have the ones
    answered so far written now."""
    app = cast(FastAPI, client.app)
    client.portal.call(app.state.services.events.drain)  # type: ignore[union-attr]


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The same app, every request with the admin token."""
    client.headers.update(ADMIN)
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Running:
    """A ``filewallball serve`` in a process group of its own: Granian's supervisor and
    its worker processes."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, data_dir: Path) -> None:
        self.process, self.url, self.data_dir = process, url, data_dir

    def pids(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [pid, *map(int, children)]

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            status = Path(f"/proc/{pid}/status").read_text()
            [line] = [line for line in status.splitlines() if line.startswith("VmRSS:")]
            total += int(line.split()[1]) * 1024
        return total

    def kill(self) -> None:
        """SIGKILL to the supervisor and the workers (a worker outlives a supervisor
        killed alone)."""
        with contextlib.suppress(ProcessLookupError):  # all gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def environment(service_url: URL, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "FILEWALLBALL_DATABASE_URL": service_url.render_as_string(hide_password=False),
        "FILEWALLBALL_DATA_DIR": str(data_dir),
        "FILEWALLBALL_POOL_SIZE": "5",
        **extra,
    }


def start_server(
    service_url: URL,
    data_dir: Path,
    log: Path,
    *,
    migrate: bool = True,
    workers: int = 1,
    **settings: str,
) -> Running:
    """``filewallball serve`` on a free port, once /health answers; ``settings`` are
    extra environment variables."""
    port = free_port()
    command = [FILEWALLBALL, "serve", "--port", str(port), "--workers", str(workers)]
    if not migrate:
        command.append("--no-migrate")
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            env=environment(service_url, data_dir, FILEWALLBALL_ADMIN_TOKEN=TOKEN, **settings),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return Running(process, url, data_dir)
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            Running(process, url, data_dir).kill()
            raise AssertionError(log.read_text()[-3000:])
        time.sleep(0.1)


def stop_server(running: Running) -> None:
    os.killpg(running.process.pid, signal.SIGTERM)
    try:
        running.process.wait(10)
    except subprocess.TimeoutExpired:
        running.kill()


@pytest.fixture(scope="module")
def running(service_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server per database for the module (starting one takes seconds)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    server = start_server(service_url, tmp_path / "data", tmp_path / "serve.log")
    yield server
    stop_server(server)


def streamed(seed: bytes, size: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """Deterministic content of any size without holding it in memory."""
    block = (UNSNIFFABLE + hashlib.sha256(seed).digest() * (chunk // 32))[:chunk]
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece


def sha256_of(pieces: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


def growth_during(running: Running, work: Callable[[], T]) -> tuple[T, int]:
    """What ``work`` returns, and how far the server's memory (its processes' RSS) rose
    above where it was when ``work`` began, sampled every 10 ms."""
    before = running.rss_bytes()
    peak, done = before, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, running.rss_bytes())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, peak - before


def staged_files(data_dir: Path) -> list[Path]:
    staging = data_dir / "blobs" / ".staging"
    return sorted(staging.iterdir()) if staging.exists() else []


def blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    return sorted(p for p in root.glob("??/??/*") if p.is_file())
