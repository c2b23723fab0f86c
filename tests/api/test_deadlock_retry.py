"""A transaction the database rolls back to break a deadlock is run again by the
request's edge (``Services.run``), instead of answering 503."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from filewallball.api.metrics import Metrics
from filewallball.api.services import Services
from filewallball.database import AsyncDatabase
from filewallball.settings import Settings
from filewallball.storage import LocalBlobStore
from tests.servers import only_on

# SQLite has one writer at a time: nothing to deadlock.
pytestmark = only_on("mariadb", "postgresql")

UPDATE = sa.text("UPDATE system_settings SET setting_value = :value WHERE setting_key = :key")


def test_a_deadlocked_transaction_is_run_again(
    settings: Settings, service_engine: Engine, data_dir: Path
) -> None:
    """Two transactions lock two rows in opposite orders: one is chosen as the victim,
    rolled back, and run again once the other has committed; both succeed."""
    keys = [f"deadlock_{uuid.uuid4().hex[:8]}_{side}" for side in ("a", "b")]
    with service_engine.begin() as connection:
        for key in keys:
            connection.execute(
                sa.text(
                    "INSERT INTO system_settings (setting_key, setting_value, setting_type,"
                    " is_public, created_at, updated_at)"
                    " VALUES (:key, '0', 'string', false, :now, :now)"
                ),
                {"key": key, "now": "2030-01-01 00:00:00"},
            )
    both_locked = threading.Barrier(2)
    attempts: Counter[str] = Counter()

    def work(session: Session, mine: str, theirs: str) -> None:
        attempts[mine] += 1
        session.execute(UPDATE, {"key": mine, "value": mine})
        if attempts[mine] == 1:
            both_locked.wait(timeout=30)
        session.execute(UPDATE, {"key": theirs, "value": mine})

    failures: list[BaseException] = []

    def run(mine: str, theirs: str) -> None:
        async def main() -> None:
            database = AsyncDatabase.from_settings(settings)
            store = LocalBlobStore(data_dir / "blobs")
            services = Services(settings, database, store, Metrics(database.pool_status))
            try:
                await services.run(work, mine, theirs)
            finally:
                await database.dispose()

        try:
            asyncio.run(main())
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [
        threading.Thread(target=run, args=(keys[0], keys[1])),
        threading.Thread(target=run, args=(keys[1], keys[0])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(attempts.values()) == [1, 2]  # the victim ran twice
    with service_engine.connect() as connection:
        values = (
            connection.execute(
                sa.text(
                    "SELECT setting_value FROM system_settings WHERE setting_key IN :keys"
                ).bindparams(sa.bindparam("keys", expanding=True)),
                {"keys": keys},
            )
            .scalars()
            .all()
        )
    victim = next(key for key, count in attempts.items() if count == 2)
    assert values == [victim, victim]  # it committed last, both rows
