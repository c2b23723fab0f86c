"""Fixtures for the HTTP service: a migrated database per dialect that the service
commits into (one per run, shared by the API tests; each test uses its own data
directory and its own names), and clients in-process or against a real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL, Engine

from filewallball.api import create_app
from filewallball.database import create_database_engine
from filewallball.settings import Settings
from tests.conftest import upgrade
from tests.servers import Server, settings_for

TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


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


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The same app, every request with the admin token."""
    client.headers.update(ADMIN)
    return client


def staged_files(data_dir: Path) -> list[Path]:
    staging = data_dir / "blobs" / ".staging"
    return sorted(staging.iterdir()) if staging.exists() else []


def blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    return sorted(p for p in root.glob("??/??/*") if p.is_file())
