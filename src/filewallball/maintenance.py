"""Housekeeping that spans many transactions, so it runs at the edge (CLI, scheduler)."""

from __future__ import annotations

from datetime import datetime, timedelta

from filewallball.database import Database
from filewallball.models import utcnow
from filewallball.operations.activity import delete_events_before
from filewallball.operations.statistics import CountsMoved, fold_counts

__all__ = ["fold_file_counts", "purge_old_events"]


def fold_file_counts(database: Database) -> int:
    """Fold the counts' rows of differences, a bounded transaction at a time (commands
    that write rows do it before they end); returns how many rows went. Losing a race
    to another fold ends it: that one is doing the work."""
    total = 0
    while True:
        try:
            with database.transaction() as session:
                folded = fold_counts(session)
        except CountsMoved:
            return total
        if not folded:
            return total
        total += folded


def purge_old_events(
    database: Database,
    older_than: timedelta,
    *,
    batch_size: int = 5000,
    now: datetime | None = None,
) -> int:
    """Delete view and download events older than ``older_than``, one committed batch at a
    time, so a big backlog never holds locks or grows the undo log for long."""
    cutoff = (now or utcnow()) - older_than
    total = 0
    while True:
        with database.transaction() as session:
            deleted = delete_events_before(session, cutoff, limit=batch_size)
        if not deleted:
            return total
        total += deleted
