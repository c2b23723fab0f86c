"""Behind a reverse proxy the caller is the client the proxy forwarded, if the proxy is
trusted; anyone else's X-Forwarded-For is ignored."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from filewallball.api import create_app
from filewallball.settings import Settings
from tests.api.conftest import ADMIN
from tests.servers import only_on

TRUSTED = ["127.0.0.0/8", "10.1.0.0/16"]


def _uploader_ip(
    make_settings: Callable[..., Settings],
    engine: Engine,
    peer: str,
    forwarded: str | None,
) -> str | None:
    app = create_app(make_settings(trusted_proxies=TRUSTED))
    headers = dict(ADMIN)
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    with TestClient(app, raise_server_exceptions=False, client=(peer, 40000)) as client:
        name = f"{secrets.token_hex(8)}.txt"
        answer = client.put(f"/api/v1/files/{name}", content=name.encode(), headers=headers)
        assert answer.status_code == 201, answer.text
    with engine.connect() as connection:
        query = sa.text(
            "SELECT u.client_ip FROM file_uploads u JOIN files f ON f.id = u.file_id"
            " WHERE f.file_uuid = :uuid"
        )
        return connection.execute(query, {"uuid": answer.json()["file_uuid"]}).scalar_one()


@only_on("sqlite")
@pytest.mark.parametrize(
    ("peer", "forwarded", "recorded"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        # The right-most address that is not a trusted proxy: the rest is the client's word.
        ("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"),
        ("10.1.0.5", "2001:db8::7", "2001:db8::7"),
        # Every hop trusted: the left-most one is all there is to go by.
        ("127.0.0.1", "10.1.9.9, 127.0.0.2", "10.1.9.9"),
        # Not from a trusted proxy: its header is the caller's claim, not evidence.
        ("192.0.2.50", "203.0.113.7", "192.0.2.50"),
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_the_recorded_caller_is_the_client_a_trusted_proxy_forwarded(
    make_settings: Callable[..., Settings],
    service_engine: Engine,
    peer: str,
    forwarded: str | None,
    recorded: str,
) -> None:
    assert _uploader_ip(make_settings, service_engine, peer, forwarded) == recorded
