"""A server killed (SIGKILL) in the middle of concurrent uploads loses nothing that was
acknowledged, serves nothing half-written, and leaves only litter that fsck removes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.api.conftest import (
    ADMIN,
    FILEWALLBALL,
    blob_files,
    environment,
    staged_files,
    start_server,
    stop_server,
)
from tests.factories import random_content
from tests.servers import every_database

# Each database undoes the transactions of a killed client its own way.
pytestmark = [every_database, pytest.mark.slow]

MiB = 1024 * 1024
UPLOADS = 20


def _slow_body(content: bytes) -> Iterator[bytes]:
    for start in range(0, len(content), 256 * 1024):
        yield content[start : start + 256 * 1024]
        time.sleep(0.02)


def test_sigkill_during_uploads_loses_no_acknowledged_file(
    migrated: Engine, tmp_path: Path
) -> None:
    service_url = migrated.url  # a database of its own: fsck checks every row in it
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    server = start_server(service_url, data_dir, log)
    contents = [random_content(MiB * (1 + i % 4)) for i in range(UPLOADS)]
    acknowledged: dict[str, str] = {}  # file_uuid -> sha256
    lock = threading.Lock()

    def upload(index: int) -> None:
        time.sleep(0.05 * index)  # staggered: some finish, some are cut off
        try:
            response = httpx.put(
                f"{server.url}/api/v1/files/crash-{index}.tar",
                content=_slow_body(contents[index]),
                headers=ADMIN,
                timeout=30,
            )
        except httpx.TransportError:
            return  # cut off by the kill: not acknowledged, may be lost
        if response.status_code == 201:
            with lock:
                acknowledged[response.json()["file_uuid"]] = response.json()["file_hash"]

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(UPLOADS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < UPLOADS // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    for thread in threads:
        thread.join(30)
    assert 0 < len(acknowledged) < UPLOADS, "the kill should land mid-way"

    restarted = start_server(service_url, data_dir, log, migrate=False)
    try:
        assert staged_files(data_dir) == []  # partial uploads cleared at start-up
        for path in blob_files(data_dir):  # every visible blob is whole
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
        with httpx.Client(base_url=restarted.url, headers=ADMIN, timeout=30) as client:
            for file_uuid, content_hash in acknowledged.items():
                body = client.get(f"/api/v1/files/{file_uuid}/content")
                assert body.status_code == 200
                assert hashlib.sha256(body.content).hexdigest() == content_hash
    finally:
        stop_server(restarted)

    env = environment(service_url, data_dir)

    def fsck(*args: str) -> tuple[int, dict[str, object]]:
        done = subprocess.run(
            [FILEWALLBALL, "fsck", "--json", "--cutoff-minutes", "0", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        return done.returncode, json.loads(done.stdout)

    _, report = fsck("--repair")
    kinds = {finding["kind"] for finding in report["findings"]}  # type: ignore[attr-defined]
    assert kinds <= {"unreferenced"}, report  # at most blobs whose row never committed
    assert fsck()[0] == 0
