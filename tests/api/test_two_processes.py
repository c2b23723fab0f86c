"""Two server processes on one database and one data directory: uploads of the same
contents and the same new tags from both at once."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.api.conftest import ADMIN, blob_files, start_server, stop_server
from tests.factories import random_content
from tests.servers import every_database

# Two processes' transactions meet in the database: its locks and upserts decide.
pytestmark = [every_database, pytest.mark.slow]

PER_SERVER = 50
CONTENTS = [random_content(64 * 1024 + i) for i in range(10)]


def test_two_servers_share_contents_and_tags(migrated: Engine, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # On SQLite the two processes take turns with one write lock, and a commit's fsync can
    # take seconds on a busy disk: past the default 5 s wait the upload answers 503 (and
    # stores nothing), which is right but not what this test is about.
    patience = {"FILEWALLBALL_SQLITE_BUSY_TIMEOUT_MS": "60000"}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = start_server(migrated.url, data_dir, logs[0], **patience)
    second = start_server(migrated.url, data_dir, logs[1], migrate=False, **patience)
    try:

        def upload(job: tuple[str, int]) -> int:
            url, index = job
            content = CONTENTS[index % len(CONTENTS)]
            response = httpx.put(
                f"{url}/api/v1/files/shared-{index}.tar",
                params={"tags": f"batch-{index % 3},shared"},
                content=content,
                headers=ADMIN,
                timeout=60,
            )
            return response.status_code

        jobs = [(server.url, i) for i in range(PER_SERVER) for server in (first, second)]
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(upload, jobs))
        assert statuses == [201] * len(jobs), [log.read_text()[-2000:] for log in logs]
    finally:
        stop_server(first)
        stop_server(second)

    with migrated.connect() as connection:
        rows = connection.execute(sa.text("SELECT file_hash FROM files")).scalars().all()
        blob_rows = connection.execute(sa.text("SELECT content_hash FROM blobs")).scalars().all()
        tags = connection.execute(sa.text("SELECT tag_name FROM file_tags")).scalars().all()
        links = connection.execute(sa.text("SELECT count(*) FROM file_tag_relations")).scalar()
    hashes = {hashlib.sha256(content).hexdigest() for content in CONTENTS}
    assert len(rows) == 2 * PER_SERVER
    assert set(rows) == hashes
    assert sorted(blob_rows) == sorted(hashes)
    stored = blob_files(data_dir)
    assert sorted(path.name for path in stored) == sorted(hashes)
    for path in stored:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    assert sorted(tags) == ["batch-0", "batch-1", "batch-2", "shared"]
    assert links == 2 * 2 * PER_SERVER
