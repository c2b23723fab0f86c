"""Leases of scheduled housekeeping jobs: claim a due job, hand it back with its next run.

A claim is one conditional UPDATE ("due, and nobody holds it"): the database applies it
to the row's latest committed version, after any other claim of the same row has
committed, so of many workers claiming at once exactly one matches the row (MariaDB and
PostgreSQL re-check the condition after waiting for the row's lock; SQLite runs one
writer at a time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.models import HousekeepingJob
from filewallball.models.types import JOB_HOLDER_LENGTH, JOB_RESULT_LENGTH


def claim_job(
    session: Session, job: str, holder: str, *, now: datetime, hold_for: timedelta
) -> bool:
    """Take the lease of ``job`` until ``now + hold_for`` if the job is due and nobody
    holds it (or a holder let its lease run out). Commit before running the job, so that
    the other workers see the claim.

    The migrations make each job's row; a job without one (added to the code, but no
    migration made its row) gets it from its first claim, where workers claiming at the
    same moment may deadlock on MariaDB: the loser's claim fails, and it tries again at
    its next check."""
    held_until = now + hold_for
    claimed = session.execute(
        sa.update(HousekeepingJob)
        .where(
            HousekeepingJob.job == job,
            HousekeepingJob.next_run_at <= now,
            sa.or_(HousekeepingJob.held_until.is_(None), HousekeepingJob.held_until <= now),
        )
        .values(held_by=holder[:JOB_HOLDER_LENGTH], held_until=held_until)
        .execution_options(synchronize_session=False)
    )
    if cast("sa.CursorResult[Any]", claimed).rowcount == 1:
        return True
    if session.scalar(sa.select(HousekeepingJob.id).where(HousekeepingJob.job == job)):
        return False
    session.flush()
    try:
        with session.begin_nested():
            session.add(
                HousekeepingJob(
                    job=job,
                    next_run_at=now,
                    held_by=holder[:JOB_HOLDER_LENGTH],
                    held_until=held_until,
                )
            )
    except IntegrityError:
        return False  # another worker made the row at the same moment, and holds it
    return True


def finish_job(
    session: Session,
    job: str,
    holder: str,
    *,
    now: datetime,
    next_run_at: datetime,
    result: str,
) -> bool:
    """Give the lease back and say when the job runs next; returns False when the lease
    was no longer ours (it ran out and another worker took it), which changes nothing."""
    finished = session.execute(
        sa.update(HousekeepingJob)
        .where(HousekeepingJob.job == job, HousekeepingJob.held_by == holder[:JOB_HOLDER_LENGTH])
        .values(
            held_by=None,
            held_until=None,
            next_run_at=next_run_at,
            last_run_at=now,
            last_result=result[:JOB_RESULT_LENGTH],
        )
        .execution_options(synchronize_session=False)
    )
    return cast("sa.CursorResult[Any]", finished).rowcount == 1
