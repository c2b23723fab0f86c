"""Blocking file-system work inside a transaction of the service (placing a blob,
removing one) runs in a worker thread: the event loop serves other requests meanwhile,
and the transaction goes on with its locks when the work is done."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy.orm import Session

from filewallball.database import AsyncDatabase, off_the_event_loop
from filewallball.operations.blobs import lock_blob
from filewallball.settings import Settings

CONTENT_HASH = "e" * 64


def test_file_work_in_a_transaction_leaves_the_event_loop_free(settings: Settings) -> None:
    working, released = threading.Event(), threading.Event()
    threads: dict[str, int] = {}

    def blocking() -> bool:
        threads["work"] = threading.get_ident()
        working.set()
        # Set by a coroutine on the event loop: only in time if the loop is free.
        return released.wait(timeout=30)

    def transaction(session: Session) -> tuple[bool, bool]:
        blob = lock_blob(session, CONTENT_HASH, 1)
        in_time = off_the_event_loop(session, blocking)
        session.delete(blob)  # the same transaction, still open, its lock held
        session.flush()
        return in_time, session.in_transaction()

    async def release() -> None:
        while not working.is_set():
            await asyncio.sleep(0.01)
        released.set()

    async def main() -> tuple[bool, bool]:
        threads["loop"] = threading.get_ident()
        database = AsyncDatabase.from_settings(settings)
        try:
            outcome, _ = await asyncio.gather(database.run(transaction), release())
        finally:
            await database.dispose()
        return outcome

    in_time, in_transaction = asyncio.run(main())
    assert in_time, "the event loop was blocked while the work ran"
    assert in_transaction
    assert threads["work"] != threads["loop"]
