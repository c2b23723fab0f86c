"""What a request works with: the database, the blob store, the settings, the metrics,
and the one way a request runs operations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from fastapi import Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from filewallball.api.events import EventWriter
from filewallball.api.metrics import Metrics
from filewallball.database import AsyncDatabase, is_deadlock
from filewallball.maintenance import OneSession, Transactions
from filewallball.operations.activity import Event, record_events
from filewallball.operations.keys import Principal, record_key_uses
from filewallball.settings import Settings
from filewallball.storage import BlobStore

log = logging.getLogger("filewallball.api")
P = ParamSpec("P")
T = TypeVar("T")


RETRY_DELAYS = (1, 2, 5, 10, *([30] * 20))  # seconds: about ten minutes in all
TRANSIENT: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout, OSError)
DEADLOCK_ATTEMPTS = 3


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: AsyncDatabase
    store: BlobStore
    metrics: Metrics
    pending: set[asyncio.Task[None]] = field(default_factory=set)
    events: EventWriter[Event] = field(init=False)
    # (key id, when): last_used_at moves once per batch, not once per request.
    key_uses: EventWriter[tuple[int, datetime]] = field(init=False)
    # Resolved API keys, by the SHA-256 of the whole key, each with when it stops
    # counting (api.access: at most a second later).
    principals: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", EventWriter(self._write_events))
        object.__setattr__(self, "key_uses", EventWriter(self._write_key_uses))

    async def _write_events(self, events: Sequence[Event]) -> None:
        await self.run(record_events, events)

    async def _write_key_uses(self, uses: Sequence[tuple[int, datetime]]) -> None:
        await self.run(record_key_uses, uses)

    def retry_later(self, work: Callable[[Session], object], what: str) -> None:
        """Run ``work`` in its own transaction once the database answers again: the
        clean-up of an upload that failed because the database was gone. If the process
        ends first, fsck finds what is left."""

        async def retry() -> None:
            for delay in RETRY_DELAYS:
                await asyncio.sleep(delay)
                try:
                    await self.run(work)
                except TRANSIENT:
                    continue
                log.info("done after the database came back: %s", what)
                return
            log.error("gave up (fsck will find what is left): %s", what)

        self._start(retry())

    def every(
        self,
        seconds: float,
        job: Callable[[], Awaitable[object]],
        what: str,
        *ignored: type[Exception],
        at_start: bool = False,
    ) -> None:
        """Run ``job`` every ``seconds`` until the service stops, the first time at once
        when ``at_start``; a failure (the database away, or one of ``ignored``) waits for
        the next turn."""

        failures = (*TRANSIENT, *ignored)

        async def repeat() -> None:
            if not at_start:
                await asyncio.sleep(seconds)
            while True:
                try:
                    await job()
                except failures as error:
                    log.debug("%s: %s; next time", what, error)
                await asyncio.sleep(seconds)

        self._start(repeat())

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def close(self) -> None:
        """Write the waiting events, stop the background work, letting a transaction it
        was in roll back (or, in a worker thread on SQLite, end), then close the
        connections."""
        await self.events.close()
        await self.key_uses.close()
        tasks = list(self.pending)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.database.dispose()

    async def run(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work`` (operations, and turning their rows into answers) in one
        transaction, committed before the response is built: a failed commit is the
        request's error, not a surprise after a 200. ``work`` gets a plain Session and
        runs in a greenlet, so the operations are the same ones the CLI calls.

        A transaction the database rolled back to break a deadlock is run again, a few
        times, instead of answering 503. That is safe because ``work`` never reads the
        request (a streamed body is received outside any transaction) and gets all it
        needs as arguments; what it does outside the database it can do twice (placing
        a staged blob finds it placed, releasing one finds it gone)."""
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return await self.database.run(work, *args, **kwargs)
            except DBAPIError as error:
                if attempt == DEADLOCK_ATTEMPTS or not is_deadlock(error):
                    raise
                log.warning("deadlock (attempt %d); running the transaction again", attempt)
        raise AssertionError("unreachable")

    async def read(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``run`` for work that only reads (every GET but the event it records): it
        takes no lock on SQLite, so no number of readers, anonymous or not, delays an
        upload, and SQLite refuses any write it attempts."""
        return await self.database.read(work, *args, **kwargs)

    async def housekeep(
        self, work: Callable[Concatenate[Transactions, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run housekeeping (``maintenance``), which commits one transaction after another,
        on one session of the service's engine, in one greenlet like a request's work."""
        async with self.database.sessions() as session:
            return await session.run_sync(_in_transactions, work, *args, **kwargs)

    async def in_thread(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Blocking file-system work, off the event loop."""
        return await anyio.to_thread.run_sync(lambda: work(*args, **kwargs))


def _in_transactions(
    session: Session,
    work: Callable[Concatenate[Transactions, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    return work(OneSession(session), *args, **kwargs)


async def get_services(request: Request) -> Services:
    """The app's services, as a dependency; ``async`` so that FastAPI calls it on the
    event loop instead of sending it to a worker thread."""
    services: Services = request.app.state.services
    return services
