"""Reading never takes the write lock: on SQLite a read-only request begins a deferred
transaction, which in WAL mode blocks no writer, so no number of anonymous searches can
make an upload wait or fail. And the counts a caller gets cover only what it may list.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL, Engine

from filewallball.api import create_app
from filewallball.database import Database
from filewallball.operations.search import FileQuery, search_files
from filewallball.settings import Settings
from tests.api.conftest import ADMIN
from tests.servers import every_database, only_on

NOBODY: dict[str, str] = {}


@contextmanager
def sqlite_write_lock(url: URL) -> Iterator[None]:
    """Another connection holding SQLite's write lock, as a long upload's would."""
    holder = sqlite3.connect(str(url.database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@only_on("sqlite")  # the write lock is SQLite's
def test_every_read_is_served_while_another_connection_holds_the_write_lock(
    make_settings: Callable[..., Settings], service_url: URL
) -> None:
    settings = make_settings(sqlite_busy_timeout_ms=100)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        marker = f"m{secrets.token_hex(6)}"
        created = client.put(f"/api/v1/files/{marker}.txt", content=b"read me\n", headers=ADMIN)
        file_uuid = created.json()["file_uuid"]
        reads: list[tuple[str, str, dict[str, str]]] = [
            ("GET", f"/api/v1/files?q={marker}&with_total=true", NOBODY),
            ("GET", f"/api/v1/files?tag=none-{marker}&with_total=true", NOBODY),
            ("GET", f"/api/v1/files/{file_uuid}", NOBODY),
            ("GET", f"/api/v1/files/{file_uuid}/activity", NOBODY),
            ("HEAD", f"/api/v1/files/{file_uuid}/content", NOBODY),
            ("GET", "/api/v1/tags", NOBODY),
            ("GET", "/api/v1/categories", NOBODY),
            ("GET", "/api/v1/extensions", NOBODY),
            ("GET", "/api/v1/settings", NOBODY),
            ("GET", "/files", NOBODY),
            ("GET", f"/files/{file_uuid}", NOBODY),
            ("GET", "/api/v1/stats", ADMIN),
            ("GET", "/api/v1/settings/max_upload_bytes", ADMIN),
            ("GET", "/api/v1/files?include_deleted=true&with_total=true", ADMIN),
            ("GET", "/health", ADMIN),
        ]
        with sqlite_write_lock(service_url):
            for method, path, headers in reads:
                answer = client.request(method, path, headers=headers)
                assert answer.status_code == 200, f"{method} {path}: {answer.text}"
            # The lock is real: a write waits for it, and gives up after the busy timeout.
            waited = client.put("/api/v1/files/blocked.txt", content=b"x", headers=ADMIN)
            assert waited.status_code == 503, waited.text


@every_database  # each database isolates a reader from a writer in its own way
def test_an_open_search_does_not_block_an_upload(
    make_settings: Callable[..., Settings],
) -> None:
    """What a busy anonymous search holds, a reading transaction on another connection,
    does not delay an upload: on SQLite it would otherwise wait out the busy timeout and
    fail."""
    settings = make_settings(sqlite_busy_timeout_ms=100)
    reader = Database.from_settings(settings)
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            query = FileQuery(is_public=True, with_total=True, limit=1)
            with reader.transaction(read_only=True) as session:
                before = search_files(session, query).total or 0
                marker = secrets.token_hex(6)
                uploaded = client.put(f"/api/v1/files/{marker}.txt", content=b"x", headers=ADMIN)
                assert uploaded.status_code == 201, uploaded.text
            with reader.transaction(read_only=True) as session:
                assert search_files(session, query).total == before + 1
    finally:
        reader.dispose()


@only_on("sqlite")  # query_only is SQLite's
def test_a_read_only_transaction_refuses_to_write(make_settings: Callable[..., Settings]) -> None:
    """A transaction that claims to read cannot write by mistake (SQLite's query_only;
    elsewhere the claim only chooses how the transaction begins)."""
    database = Database.from_settings(make_settings())
    try:
        with (
            pytest.raises(sa.exc.OperationalError, match="readonly"),
            database.transaction(read_only=True) as session,
        ):
            session.execute(sa.text("UPDATE system_settings SET updated_at = updated_at"))
        with database.transaction() as session:  # the same connection writes again
            session.execute(sa.text("UPDATE system_settings SET updated_at = updated_at"))
    finally:
        database.dispose()


def test_totals_count_only_what_the_caller_may_list(
    client: TestClient, service_engine: Engine
) -> None:
    """Anonymous totals count live public files, which an anonymous caller could count by
    paging; the admin's unfiltered total is the live files of ``/stats``."""
    marker = f"m{secrets.token_hex(6)}"
    for name, public in (("public", True), ("private", False), ("gone", True)):
        params = {"is_public": str(public).lower()}
        created = client.put(
            f"/api/v1/files/{marker}-{name}.txt",
            content=marker.encode(),
            params=params,
            headers=ADMIN,
        )
        if name == "gone":
            client.delete(f"/api/v1/files/{created.json()['file_uuid']}", headers=ADMIN)

    def total(headers: dict[str, str], **params: str) -> int:
        answer = client.get(
            "/api/v1/files", params={**params, "with_total": "true"}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        found: int = answer.json()["total"]
        return found

    assert total(NOBODY, q=marker) == 1
    assert total(ADMIN, q=marker) == 2
    with service_engine.connect() as connection:
        public = connection.execute(
            sa.text("SELECT count(*) FROM files WHERE is_public = :t AND is_deleted = :f"),
            {"t": True, "f": False},
        ).scalar_one()
    assert total(NOBODY) == public
    assert total(ADMIN) == client.get("/api/v1/stats", headers=ADMIN).json()["totals"]["files"]
