"""Counts and sums over files: per category (the ``file_statistics`` view), over time, and
in total.

Per category and in total they come from ``file_counts``, which the database's triggers
keep (migration 0005), so they cost the same at a million files as at ten; trends count
the files of their window through an index.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from filewallball.errors import InvalidInput
from filewallball.models import FileCategory, FileCount, FileInfo, FileStatistics, utcnow
from filewallball.models.statistics import UNCATEGORISED

MAX_TREND_DAYS = 3660


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def start_of(self, day: date) -> date:
        if self is Period.WEEK:
            return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
        if self is Period.MONTH:
            return day.replace(day=1)
        return day

    def after(self, start: date) -> date:
        if self is Period.WEEK:
            return start + timedelta(weeks=1)
        if self is Period.MONTH:
            return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return start + timedelta(days=1)


class CategoryStats(BaseModel):
    """Live files of one category; the row without a category_id counts the uncategorised."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    category_id: int | None
    category_name: str | None
    file_count: int
    total_size: int
    avg_file_size: float | None
    last_upload: datetime | None


class TrendPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    files: int
    bytes: int


class Totals(BaseModel):
    model_config = ConfigDict(frozen=True)

    files: int
    bytes: int
    distinct_contents: int
    deleted_files: int
    deleted_bytes: int


class Statistics(BaseModel):
    """Live files per category, uploads per period, and totals (the trash included)."""

    model_config = ConfigDict(frozen=True)

    categories: list[CategoryStats]
    period: Period
    trends: list[TrendPoint]
    totals: Totals


def last_days(days: int) -> tuple[date, date]:
    """The first and last day of the last ``days`` days, today (UTC) included."""
    end = utcnow().date()
    return end - timedelta(days=days - 1), end


def statistics(session: Session, period: Period, *, start: date, end: date) -> Statistics:
    """Live files per category, uploads per period from ``start`` to ``end``, and totals."""
    return Statistics(
        categories=category_statistics(session),
        period=period,
        trends=upload_trends(session, period, start=start, end=end),
        totals=totals(session),
    )


class utc_day(FunctionElement[date]):
    """A timestamp's calendar day in UTC, whatever the session's time zone."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # stored as naive UTC


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


def category_statistics(session: Session) -> list[CategoryStats]:
    """One row per category, empty ones included, and one (category_id None) for the rest."""
    # populate_existing: the view's rows have no stable identity; never reuse stale ones.
    rows = session.scalars(
        sa.select(FileStatistics).execution_options(populate_existing=True)
    ).all()
    ordered = sorted(rows, key=lambda row: (row.category_name is None, row.category_name or ""))
    return [CategoryStats.model_validate(row) for row in ordered]


def upload_trends(session: Session, period: Period, *, start: date, end: date) -> list[TrendPoint]:
    """Live files and bytes uploaded in every period (day, ISO week, month) that overlaps
    ``start``..``end``, counting each period whole; empty periods are zeros."""
    if end < start:
        raise InvalidInput(f"trend window ends ({end}) before it starts ({start})")
    if (end - start).days > MAX_TREND_DAYS:
        raise InvalidInput(f"trend window is longer than {MAX_TREND_DAYS} days")
    first, last = period.start_of(start), period.start_of(end)
    day = utc_day(FileInfo.created_at)
    per_day = session.execute(
        sa.select(
            day, sa.func.count(FileInfo.id), sa.func.coalesce(sa.func.sum(FileInfo.file_size), 0)
        )
        .where(
            FileInfo.is_deleted == sa.false(),
            FileInfo.created_at >= datetime.combine(first, time(), UTC),
            FileInfo.created_at < datetime.combine(period.after(last), time(), UTC),
        )
        .group_by(day)
    ).all()
    buckets: dict[date, list[int]] = {}
    cursor = first
    while cursor <= last:
        buckets[cursor] = [0, 0]
        cursor = period.after(cursor)
    for on, files, size in per_day:
        bucket = buckets[period.start_of(on)]
        bucket[0] += int(files)
        bucket[1] += int(size)
    return [
        TrendPoint(start=begin, files=files, bytes=size) for begin, (files, size) in buckets.items()
    ]


def totals(session: Session) -> Totals:
    """Files and bytes, live and soft-deleted, and how many distinct contents are live."""
    row = session.execute(_TOTALS).one()
    return Totals.model_validate({name: int(value) for name, value in row._mapping.items()})


_SUMMED_INTO_TOTALS = {
    "files": FileCount.live_files,
    "bytes": FileCount.live_bytes,
    "distinct_contents": FileCount.live_contents,
    "deleted_files": FileCount.deleted_files,
    "deleted_bytes": FileCount.deleted_bytes,
}
_COUNTED = tuple(_SUMMED_INTO_TOTALS.values())
_TOTALS = sa.select(
    *(sa.func.coalesce(sa.func.sum(c), 0).label(name) for name, c in _SUMMED_INTO_TOTALS.items())
)
FOLD_LIMIT = 10_000  # rows of differences read per fold: one bounded transaction
DELETE_BATCH = 1000  # ids per DELETE


class CountsMoved(Exception):
    """Another fold took some of the rows this one summed: roll back, nothing is lost."""


def fold_counts(session: Session, *, limit: int = FOLD_LIMIT) -> int:
    """Sum the oldest ``limit`` differences the triggers appended into one row per
    category (keys of categories that no longer exist into the uncategorised row);
    returns how many rows went, 0 when there was nothing to fold. Readers get the same
    sums before and after. Call it again, each time in a transaction of its own, while it
    returns more than 0: a backlog of a million rows never becomes one huge transaction.

    Only rows already committed are read, and each is deleted by its id (no range locks
    that would hold up writers); if another fold deleted one first, this one raises
    CountsMoved and must roll back.
    """
    differences = session.execute(
        sa.select(FileCount.id, FileCount.category_key, *_COUNTED)
        .order_by(FileCount.id)
        .limit(limit)
    ).all()
    if len({difference.category_key for difference in differences}) == len(differences):
        return 0  # one row per key: folded
    categories = set(session.scalars(sa.select(FileCategory.id)))
    sums: dict[int, list[int]] = {}
    for _id, key, *counts in differences:
        summed = sums.setdefault(key if key in categories else UNCATEGORISED, [0] * len(counts))
        for position, count in enumerate(counts):
            summed[position] += count
    ids = [difference.id for difference in differences]
    for start in range(0, len(ids), DELETE_BATCH):
        chunk = ids[start : start + DELETE_BATCH]
        deleted = session.connection().execute(sa.delete(FileCount).where(FileCount.id.in_(chunk)))
        if deleted.rowcount != len(chunk):
            raise CountsMoved("another fold of the counts ran at the same time")
    session.execute(
        sa.insert(FileCount),
        [
            {"category_key": key, **dict(zip((c.key for c in _COUNTED), counts, strict=True))}
            for key, counts in sorted(sums.items())
        ],
    )
    return len(ids) - len(sums)
