"""Views and downloads, and the uses of API keys, written in batches off the request path.

They are statistics, not state (SPEC section 13): an answer does not wait for its
event, which is written within a second, in one transaction with the others of that
second; a clean shutdown writes what is left, and a crash of the process loses at most
that second. An event of a file purged meanwhile is left out on its own: the insert
reads each event's file row, so it never fails its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5  # the oldest waiting event is written at most this late (plus the write)
BATCH_EVENTS = 1000  # written at once when this many wait
MAX_WAITING = 100_000  # while the database is away; beyond this the oldest are dropped
E = TypeVar("E")


class EventWriter(Generic[E]):
    """Collects events and writes them with ``write`` (one transaction per batch), one
    batch at a time. A batch that fails (the database away) goes back to wait for the
    next turn."""

    def __init__(self, write: Callable[[Sequence[E]], Awaitable[object]]) -> None:
        self._write = write
        self._waiting: list[E] = []
        self._hurry = asyncio.Event()  # a full batch, or the service stopping
        self._writing: asyncio.Task[None] | None = None
        self._closed = False

    def add(self, event: E) -> None:
        self._waiting.append(event)
        if len(self._waiting) > MAX_WAITING:
            del self._waiting[: len(self._waiting) - MAX_WAITING]
            log.warning("more than %d events waiting; the oldest were dropped", MAX_WAITING)
        if len(self._waiting) >= BATCH_EVENTS:
            self._hurry.set()
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_waiting())

    async def close(self) -> None:
        """Write every waiting event (one more try for a failing batch) and stop."""
        self._closed = True
        await self.drain()
        if self._waiting:
            log.error("%d events were not written at shutdown", len(self._waiting))

    async def drain(self) -> None:
        """Write what waits now, without waiting for the next turn."""
        self._hurry.set()
        if self._writing is None and self._waiting:
            self._writing = asyncio.get_running_loop().create_task(self._write_waiting())
        if self._writing is not None:
            await asyncio.shield(self._writing)

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                if not self._hurry.is_set():
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), FLUSH_SECONDS)
                if len(self._waiting) <= BATCH_EVENTS and not self._closed:
                    self._hurry.clear()  # the next batch waits for its turn
                if not await self._write_batch():
                    if self._closed:
                        return
                    await asyncio.sleep(FLUSH_SECONDS)  # the database is away: later
        finally:
            self._writing = None

    async def _write_batch(self) -> bool:
        batch, self._waiting = self._waiting[:BATCH_EVENTS], self._waiting[BATCH_EVENTS:]
        try:
            await self._write(batch)
        except Exception as error:
            self._waiting[:0] = batch
            log.warning("writing %d events failed (%s); trying again", len(batch), error)
            return False
        return True
