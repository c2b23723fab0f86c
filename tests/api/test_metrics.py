"""/metrics of a real server with two worker processes: whichever worker answers a
scrape, it shows the counts of both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.engine import URL

from filewallball.cli.serve import METRICS_PREFIX, remove_abandoned_metrics
from tests.api.conftest import ADMIN, Running, start_server, stop_server

UPLOADED = 'filewallball_uploads_total{outcome="completed"}'
MAX_UPLOADS = 200  # until both workers have taken some; a handful is the usual
SCRAPES = 20


def _value(scrape: str, series: str) -> float | None:
    for line in scrape.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return None


def _scrape(running: Running) -> str:
    """A connection of its own, so that any worker may answer."""
    answer = httpx.get(f"{running.url}/metrics", headers=ADMIN, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def _shared_dir(worker: int) -> Path:
    """Where the worker keeps its metrics: the files it has mapped, once its app has
    started (the first worker may answer /health before the second one is up)."""
    deadline = time.monotonic() + 30
    while True:
        mapped = Path(f"/proc/{worker}/maps").read_text().split()
        found = {Path(path) for path in mapped if path.endswith(f"/counter_{worker}.db")}
        if found or time.monotonic() > deadline:
            [counters] = found
            return counters.parent
        time.sleep(0.05)


def _uploads_of(shared: Path, worker: int) -> float:
    """The uploads one worker counted, from its own file of counters."""
    for metric in MultiProcessCollector.merge([str(shared / f"counter_{worker}.db")]):
        for sample in metric.samples:
            if sample.name == "filewallball_uploads_total":
                return sample.value
    return 0


def _stored(scrape: str) -> dict[str, float]:
    """The gauges of what the store holds (present also when the store is empty)."""
    found = {
        kind: _value(scrape, f"filewallball_stored_{kind}")
        for kind in ("files", "bytes", "contents")
    }
    assert None not in found.values(), scrape
    return {kind: value or 0 for kind, value in found.items()}


def test_counters_are_summed_over_the_workers_and_outlive_them(
    service_url: URL, tmp_path: Path
) -> None:
    running = start_server(service_url, tmp_path / "data", tmp_path / "serve.log", workers=2)
    try:
        workers = running.pids()[1:]
        assert len(workers) == 2
        shared = _shared_dir(workers[0])
        assert shared.is_dir()
        assert _shared_dir(workers[1]) == shared
        before = _stored(_scrape(running))
        assert _value(_scrape(running), UPLOADED) is None

        uploaded = size = 0
        while uploaded < MAX_UPLOADS and not all(_uploads_of(shared, w) for w in workers):
            content = f"content {uploaded}".encode()
            created = httpx.put(
                f"{running.url}/api/v1/files/n{uploaded}.txt",
                content=content,
                headers=ADMIN,
                timeout=30,
            )
            assert created.status_code == 201, created.text
            uploaded, size = uploaded + 1, size + len(content)
        assert all(_uploads_of(shared, w) for w in workers), "one worker took every upload"

        for _ in range(SCRAPES):
            assert _value(_scrape(running), UPLOADED) == uploaded
        scrape = _scrape(running)
        after = _stored(scrape)
        assert after["files"] - before["files"] == uploaded
        assert after["bytes"] - before["bytes"] == size
        assert after["contents"] - before["contents"] == uploaded
        assert (_value(scrape, "filewallball_storage_free_bytes") or 0) > 0
        pooled = {
            line.split('pid="')[1].split('"')[0]
            for line in scrape.splitlines()
            if line.startswith("filewallball_db_pool_size{")
        }
        assert pooled in (set(), {str(w) for w in workers})  # none on SQLite

        os.kill(running.process.pid, signal.SIGHUP)  # Granian replaces every worker
        deadline = time.monotonic() + 60
        while set(running.pids()[1:]) & set(workers) or len(running.pids()) != 3:
            assert time.monotonic() < deadline, "the workers were not replaced"
            time.sleep(0.2)
        for _ in range(SCRAPES):
            assert _value(_scrape(running), UPLOADED) == uploaded
        assert list(shared.glob(f"gauge_live*_{workers[0]}.db")) == []
        assert list(shared.glob(f"gauge_live*_{workers[1]}.db")) == []
    finally:
        stop_server(running)
    assert not shared.exists()


def test_serve_removes_the_metrics_of_servers_that_were_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    killed = tmp_path / f"{METRICS_PREFIX}{ended.stdout.strip()}-abcd"
    running = tmp_path / f"{METRICS_PREFIX}{os.getpid()}-efgh"
    unknown = tmp_path / f"{METRICS_PREFIX}notapid"
    for directory in (killed, running, unknown):
        directory.mkdir()
        (directory / "counter_1.db").write_bytes(b"x")
    remove_abandoned_metrics()
    assert sorted(tmp_path.iterdir()) == sorted([running, unknown])
