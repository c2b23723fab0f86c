"""Views and downloads are written in batches after their answers (SPEC section 13):
soon without being asked, all of them at a clean shutdown, again after a failed write,
and a batch never loses an event for another's sake."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from filewallball.api import create_app, events
from filewallball.api.events import BATCH_EVENTS, EventWriter
from filewallball.models import FileDownload, FileInfo
from filewallball.operations.activity import Event
from filewallball.settings import Settings
from tests.api.conftest import ADMIN
from tests.servers import only_on

ON_SQLITE = only_on("sqlite")


def _put(client: TestClient) -> str:
    name = f"e-{secrets.token_hex(4)}.txt"
    answer = client.put(f"/api/v1/files/{name}", content=name.encode(), headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["file_uuid"])


def _downloads(engine: Engine, file_uuid: str) -> int:
    query = (
        sa.select(sa.func.count(FileDownload.id))
        .join(FileInfo, FileInfo.id == FileDownload.file_id)
        .where(FileInfo.file_uuid == file_uuid)
    )
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


@ON_SQLITE
def test_events_are_written_soon_without_being_asked(
    client: TestClient, service_engine: Engine
) -> None:
    file_uuid = _put(client)
    for _ in range(3):
        assert client.get(f"/api/v1/files/{file_uuid}/content").status_code == 200
    deadline = time.monotonic() + 30  # a generous bound for a busy machine, not a timing
    while _downloads(service_engine, file_uuid) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _downloads(service_engine, file_uuid) == 3


@ON_SQLITE
def test_a_clean_shutdown_writes_the_events_still_waiting(
    settings: Settings, service_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "FLUSH_SECONDS", 3600.0)  # no turn comes before the end
    with TestClient(create_app(settings)) as client:
        file_uuid = _put(client)
        for _ in range(2):
            assert client.get(f"/api/v1/files/{file_uuid}/content").status_code == 200
        assert _downloads(service_engine, file_uuid) == 0
    assert _downloads(service_engine, file_uuid) == 2


def _writer(monkeypatch: pytest.MonkeyPatch, failures: int) -> tuple[EventWriter, list[int]]:
    monkeypatch.setattr(events, "FLUSH_SECONDS", 0.01)
    written: list[int] = []
    attempts = iter(range(10_000))

    async def write(batch: Sequence[Event]) -> None:
        if next(attempts) < failures:
            raise OSError("the database is away")
        written.extend(event.file_id for event in batch)

    return EventWriter(write), written


def test_a_failed_write_is_tried_again_with_the_same_events_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> list[int]:
        writer, written = _writer(monkeypatch, failures=2)
        for file_id in range(5):
            writer.add(Event(file_id))
        await writer.drain()
        return written

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_many_events_go_in_bounded_batches_and_a_close_writes_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []

    async def scenario() -> None:
        async def write(batch: Sequence[Event]) -> None:
            sizes.append(len(batch))

        writer = EventWriter(write)
        for file_id in range(2 * BATCH_EVENTS + 7):
            writer.add(Event(file_id))
        await writer.close()

    asyncio.run(scenario())
    assert sizes == [BATCH_EVENTS, BATCH_EVENTS, 7]


def test_at_shutdown_a_failing_write_gives_up_after_one_more_try(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[int]:
        writer, written = _writer(monkeypatch, failures=10_000)
        writer.add(Event(1))
        await writer.close()
        return written

    assert asyncio.run(scenario()) == []
    assert "1 events were not written at shutdown" in caplog.text
