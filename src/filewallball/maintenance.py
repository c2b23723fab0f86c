"""Housekeeping: every job that commits one transaction after another, and the service's
schedule of them.

The purge, the expiry of events and the fold commit a bounded batch at a time, so that
a big backlog never holds locks or grows the undo log for long; fsck commits each repair
on its own. Each is safe to run twice at once: the purge deletes only rows still in the
trash at the moment they are deleted, a fold that loses a race stops, and fsck's repairs
re-check each finding under its content's lock. The commands are only edges that call
these functions (``filewallball purge``, ``fsck``, ``upload``); the service runs them on
a schedule: the fold on every worker every ``FOLD_SECONDS``, and the retention jobs
(``JOBS``: event expiry, the trash purge) at start-up and every ``JOB_INTERVAL``, once
across all the workers and servers that share the database, by the lease on each job's
row (``operations.housekeeping``).

The functions take ``Transactions``: a ``Database`` in the commands, and in the service
``OneSession``, a session of the asyncio engine inside ``AsyncSession.run_sync``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from filewallball.models import utcnow
from filewallball.operations.activity import delete_events_before
from filewallball.operations.blobs import release_blob
from filewallball.operations.files import delete_for_good, purge_candidates
from filewallball.operations.housekeeping import claim_job, finish_job
from filewallball.operations.integrity import (
    DEFAULT_CUTOFF,
    Adoption,
    Report,
    adopt_blob,
    adoption_of,
    count_contents,
    mark_lost,
    record_report,
    scan,
)
from filewallball.operations.statistics import CountsMoved, fold_counts
from filewallball.operations.system_settings import get_setting
from filewallball.storage import BlobStore

log = logging.getLogger("filewallball.maintenance")

FOLD_SECONDS = 30.0  # uploads append a row to file_counts each; folding keeps statistics instant
JOBS_CHECK_SECONDS = 60.0  # how often a worker of the service looks for a due job
JOB_INTERVAL = timedelta(hours=1)
JOB_LEASE = timedelta(hours=1)  # far longer than a scheduled run of SCHEDULED_BATCHES
RETRY_AFTER = timedelta(minutes=10)  # after a failed run
SCHEDULED_BATCHES = 20  # per job and run; a bigger backlog goes on at the next check
PURGE_BATCH = 500  # file rows per transaction
EVENTS_BATCH = 5000  # view or download events per transaction
RETENTION_DEFAULTS = {"log_retention_days": 90, "trash_retention_days": 30}


class Transactions(Protocol):
    """Something that opens transactions, each committed when its block succeeds."""

    def transaction(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True)
class OneSession:
    """Transactions one after another on one session: how the service runs housekeeping
    on its asyncio engine, inside the greenlet of ``AsyncSession.run_sync``."""

    session: Session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.session.begin():
            yield self.session


def fold_file_counts(transactions: Transactions) -> int:
    """Fold the counts' rows of differences, a bounded transaction at a time (commands
    that write rows do it before they end); returns how many rows went. Losing a race
    to another fold ends it: that one is doing the work."""
    total = 0
    while True:
        try:
            with transactions.transaction() as session:
                folded = fold_counts(session)
        except CountsMoved:
            return total
        if not folded:
            return total
        total += folded


@dataclass
class Expired:
    events: int = 0
    complete: bool = True  # False: stopped at max_batches, more may be left


def purge_old_events(
    transactions: Transactions,
    older_than: timedelta,
    *,
    batch_size: int = EVENTS_BATCH,
    max_batches: int | None = None,
    now: datetime | None = None,
) -> Expired:
    """Delete view and download events older than ``older_than``, one committed batch at a
    time, at most ``max_batches`` of them when given."""
    cutoff = (now or utcnow()) - older_than
    expired = Expired()
    while max_batches is None or max_batches > 0:
        with transactions.transaction() as session:
            deleted = delete_events_before(session, cutoff, limit=batch_size)
        expired.events += deleted
        if deleted < batch_size:  # of views and of downloads, fewer than a batch were left
            return expired
        max_batches = None if max_batches is None else max_batches - 1
    expired.complete = False
    return expired


@dataclass
class Purged:
    files: int = 0
    blobs: int = 0
    bytes_freed: int = 0
    complete: bool = True  # False: stopped at max_batches, more may be left


def purge_trash(
    transactions: Transactions,
    store: BlobStore,
    older_than: timedelta,
    *,
    batch_size: int = PURGE_BATCH,
    max_batches: int | None = None,
    now: datetime | None = None,
) -> Purged:
    """Delete for good the files in the trash for longer than ``older_than``: one
    committed transaction per batch of rows, then each of their contents in its own
    transaction, removed only when no row refers to it any more. The DELETE itself checks
    that each row is still in the trash and past retention, so a file restored after the
    batch was read stays."""
    now = now or utcnow()
    purged = Purged()
    while max_batches is None or max_batches > 0:
        with transactions.transaction() as session:
            files = purge_candidates(session, older_than, now=now, limit=batch_size)
            if not files:
                return purged
            sizes = {file.file_hash: file.file_size for file in files}
            purged.files += delete_for_good(session, files, deleted_before=now - older_than)
        for content_hash in sorted(sizes):
            with transactions.transaction() as session:
                released = release_blob(session, store, content_hash)
            if released:
                purged.blobs += 1
                purged.bytes_freed += sizes[content_hash]
        if len(files) < batch_size:
            return purged
        max_batches = None if max_batches is None else max_batches - 1
    purged.complete = False
    return purged


def retention_days(transactions: Transactions, key: str) -> int:
    """``log_retention_days`` or ``trash_retention_days``, as the settings say now."""
    with transactions.transaction() as session:
        days = get_setting(session, key, RETENTION_DEFAULTS[key])
    assert isinstance(days, int)  # the setting's declared type, checked on read
    return days


# -- fsck -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    report: Report
    # with adopt: for each unreferenced blob, the file it becomes or why it cannot
    adoptions: dict[str, Adoption | str]


def check_integrity(
    transactions: Transactions,
    store: BlobStore,
    *,
    strays_into: Path,
    deep: bool = False,
    cutoff: timedelta = DEFAULT_CUTOFF,
    adopt: bool = False,
    repair: bool = False,
    counted: Callable[[int], None] = lambda _contents: None,
    progress: Callable[[int], None] = lambda _bytes: None,
) -> Checked:
    """fsck: compare the database and the store (``operations.integrity``), with
    ``repair`` repair what the scan found, and record the report. ``counted`` is told
    how many contents the scan will check, ``progress`` what ``scan`` tells it."""
    with transactions.transaction() as session:
        counted(count_contents(session))
    with transactions.transaction() as session:
        report = scan(session, store, deep=deep, cutoff=cutoff, progress=progress)
    adoptions = _adoptions(store, report) if adopt else {}
    if repair:
        report.repaired = _repair(
            transactions, store, report, cutoff=cutoff, adoptions=adoptions, strays_into=strays_into
        )
    with transactions.transaction() as session:
        record_report(session, report)
    return Checked(report, adoptions)


def _adoptions(store: BlobStore, report: Report) -> dict[str, Adoption | str]:
    return {
        finding.content_hash: adoption_of(store, finding.content_hash)
        for finding in report.findings
        if finding.kind == "unreferenced" and finding.content_hash
    }


def _repair(
    transactions: Transactions,
    store: BlobStore,
    report: Report,
    *,
    cutoff: timedelta,
    adoptions: dict[str, Adoption | str],
    strays_into: Path,
) -> dict[str, int]:
    """Each finding in its own transaction, re-checked there under its content's lock;
    returns how many of each repair were made."""
    repaired = {"blobs_removed": 0, "temporary_removed": 0, "contents_marked": 0}
    if adoptions:
        repaired["files_adopted"] = 0
    if report.count("stray"):
        repaired["strays_moved"] = 0
    for finding in report.findings:
        if finding.kind == "unreferenced" and finding.content_hash in adoptions:
            adoption = adoptions[finding.content_hash]
            if isinstance(adoption, Adoption):  # a blob that does not verify stays
                with transactions.transaction() as session:
                    repaired["files_adopted"] += adopt_blob(session, store, adoption) is not None
        elif finding.kind == "stray":
            store.move_stray(finding.detail, strays_into)
            repaired["strays_moved"] += 1
        elif finding.kind == "unreferenced" and finding.content_hash:
            with transactions.transaction() as session:
                repaired["blobs_removed"] += release_blob(session, store, finding.content_hash)
        elif finding.kind in ("missing", "corrupt", "restored"):
            with transactions.transaction() as session:
                repaired["contents_marked"] += mark_lost(session, store, finding, deep=report.deep)
    if report.count("temporary"):
        repaired["temporary_removed"] = store.remove_temporary(
            older_than=report.started_at - cutoff
        )
    return repaired


# -- the service's schedule -------------------------------------------------------------


def _expire_events(transactions: Transactions, store: BlobStore, now: datetime) -> tuple[str, bool]:
    days = retention_days(transactions, "log_retention_days")
    expired = purge_old_events(
        transactions,
        timedelta(days=days),
        batch_size=EVENTS_BATCH,
        max_batches=SCHEDULED_BATCHES,
        now=now,
    )
    return f"{expired.events} events older than {days} days deleted", expired.complete


def _purge_trash(transactions: Transactions, store: BlobStore, now: datetime) -> tuple[str, bool]:
    days = retention_days(transactions, "trash_retention_days")
    purged = purge_trash(
        transactions,
        store,
        timedelta(days=days),
        batch_size=PURGE_BATCH,
        max_batches=SCHEDULED_BATCHES,
        now=now,
    )
    summary = (
        f"{purged.files} files deleted more than {days} days ago purged, "
        f"{purged.blobs} contents ({purged.bytes_freed} bytes) removed"
    )
    return summary, purged.complete


# name -> run(transactions, store, now): (what it did, whether it finished the backlog)
Job = Callable[[Transactions, BlobStore, datetime], tuple[str, bool]]
JOBS: dict[str, Job] = {"expire_events": _expire_events, "purge_trash": _purge_trash}


def worker_name() -> str:
    """Who holds a lease: the host and process, and a random part for a restarted process
    that got the same pid."""
    return f"{socket.gethostname()[:60]}/{os.getpid()}/{secrets.token_hex(4)}"


def run_due_jobs(
    transactions: Transactions, store: BlobStore, holder: str, *, now: datetime | None = None
) -> dict[str, str]:
    """Run every job that is due and that no other worker holds, each under its lease;
    returns what each job run here did. A job that finished its backlog runs again after
    ``JOB_INTERVAL``, one that stopped at its bound at the next check, one that failed
    after ``RETRY_AFTER``."""
    done: dict[str, str] = {}
    for name, job in JOBS.items():
        started = now or utcnow()
        with transactions.transaction() as session:
            if not claim_job(session, name, holder, now=started, hold_for=JOB_LEASE):
                continue
        try:
            result, complete = job(transactions, store, started)
        except Exception as error:  # one failing job must not stop the others, nor the schedule
            log.exception("housekeeping job %s failed; retrying in %s", name, RETRY_AFTER)
            result, next_run = f"failed: {error}", started + RETRY_AFTER
        else:
            next_run = started + JOB_INTERVAL if complete else started
        finished = now or utcnow()
        with transactions.transaction() as session:
            finish_job(session, name, holder, now=finished, next_run_at=next_run, result=result)
        done[name] = result
    return done
