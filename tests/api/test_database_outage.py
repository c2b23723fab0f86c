"""The database goes away during uploads and comes back: clients get 503 with a clear
message, nothing is left behind, and the same server process carries on afterwards.

This test stops and restarts the local MariaDB server itself (the suite runs one test
at a time), so it runs on MariaDB only.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from filewallball.database import create_database_engine
from tests.api.conftest import ADMIN, blob_files, staged_files, start_server, stop_server
from tests.conftest import upgrade
from tests.factories import random_content
from tests.servers import Server, require_server, settings_for

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]
START = ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"]


def _reachable() -> bool:
    engine = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/test", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _wait(until: bool, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while _reachable() != until:
        assert time.monotonic() < deadline, f"MariaDB did not become {'up' if until else 'down'}"
        time.sleep(0.2)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[sa.URL]:
    require_server("mariadb")
    server = Server("mariadb", tmp_path)
    url = server.create_database()
    engine = upgrade(create_database_engine(settings_for(url)))
    engine.dispose()
    yield url
    if not _reachable():
        subprocess.run(START, check=True)
        _wait(until=True)
    server.drop_database(url)


def _slow(content: bytes, pause: float) -> Iterator[bytes]:
    for start in range(0, len(content), 64 * 1024):
        yield content[start : start + 64 * 1024]
        time.sleep(pause)


def test_uploads_during_an_outage_get_503_and_the_server_recovers(
    database_url: sa.URL, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(database_url, data_dir, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=server.url, headers=ADMIN, timeout=60) as client:
            before = client.put("/api/v1/files/before.txt", content=b"before the outage")
            assert before.status_code == 201

            outcome: dict[str, httpx.Response] = {}
            content = random_content(1024 * 1024)

            def upload() -> None:
                outcome["response"] = client.put(
                    "/api/v1/files/during.tar", content=_slow(content, 0.1)
                )

            uploading = threading.Thread(target=upload)
            uploading.start()
            time.sleep(0.3)  # the upload has begun: its first transaction is committed
            subprocess.run(["mariadb-admin", "-uroot", "shutdown"], check=True)
            _wait(until=False)
            uploading.join(60)

            during = outcome["response"]
            assert during.status_code == 503, during.text
            assert during.json()["error"]["code"] == "database_unavailable"
            assert "try again" in during.json()["error"]["message"]
            assert during.headers["retry-after"] == "5"
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["status"] == "degraded"
            assert client.put("/api/v1/files/x.txt", content=b"x").status_code == 503

            subprocess.run(START, check=True)
            _wait(until=True)

            # The failed upload's clean-up, refused during the outage, runs once the
            # database is back: its attempt is recorded as failed, not left "started".
            engine = sa.create_engine(database_url, poolclass=sa.NullPool)
            deadline = time.monotonic() + 30
            while True:
                with engine.connect() as connection:
                    statuses = (
                        connection.execute(
                            sa.text("SELECT upload_status FROM file_uploads WHERE file_id IS NULL")
                        )
                        .scalars()
                        .all()
                    )
                if statuses == ["failed"] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            engine.dispose()
            assert statuses == ["failed"]

            after = client.put("/api/v1/files/after.txt", content=b"after the outage")
            assert after.status_code == 201, after.text  # same process, no restart
            assert client.get(before.json()["content_url"]).content == b"before the outage"
            assert client.get("/health").status_code == 200
        assert staged_files(data_dir) == []
        names = {path.name for path in blob_files(data_dir)}
        assert names == {before.json()["file_hash"], after.json()["file_hash"]}  # no orphan
    finally:
        stop_server(server)
