"""Statistics, trends, totals and activity: correct, and the same on every database."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import InvalidInput
from filewallball.models import FileDownload, FileInfo, FileView, utcnow
from filewallball.operations import activity, files, statistics, tags
from filewallball.operations.clients import Client
from filewallball.operations.statistics import Period, TrendPoint
from tests import factories

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _dataset(session: Session) -> list[dict[str, Any]]:
    """The same 120 files on every database, recorded in Python as the expected answers."""
    rng = random.Random(5)
    rows = []
    for index in range(120):
        row = {
            "category": rng.choice([None, "images", "documents", "video"]),
            "size": rng.randrange(0, 10_000),
            "created_at": T0 + timedelta(days=rng.randrange(0, 75), seconds=rng.randrange(86_400)),
            "deleted": rng.random() < 0.15,
            "content": f"content-{index % 90}".encode(),
            "tags": rng.sample(["red", "green", "blue", "cyan"], rng.randrange(0, 3)),
        }
        spec = factories.spec(
            category=row["category"], content=row["content"], created_at=row["created_at"]
        )
        file = files.create_file(session, spec)
        file.file_size = row["size"]
        tags.add_tags(session, file, row["tags"])
        if row["deleted"]:
            files.soft_delete_file(session, file.file_uuid)
        rows.append(row)
    session.flush()
    return rows


def test_the_same_answers_on_every_database(session: Session) -> None:
    session.execute(sa.delete(FileInfo))  # this test owns all rows (rolled back afterwards)
    rows = _dataset(session)
    live = [row for row in rows if not row["deleted"]]

    per_category = {
        row.category_name: (row.file_count, row.total_size)
        for row in statistics.category_statistics(session)
    }
    expected: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for row in live:
        expected[row["category"]][0] += 1
        expected[row["category"]][1] += row["size"]
    for name in (None, "images", "documents", "video"):
        assert per_category[name] == tuple(expected[name]), name
    assert per_category["audio"] == (0, 0)

    weekly = statistics.upload_trends(
        session, Period.WEEK, start=date(2026, 1, 1), end=date(2026, 3, 16)
    )
    week_counts: Counter[date] = Counter()
    for row in live:
        day = row["created_at"].date()
        week_counts[day - timedelta(days=day.weekday())] += 1
    assert {point.start: point.files for point in weekly if point.files} == dict(week_counts)
    assert [point.start for point in weekly][:2] == [date(2025, 12, 29), date(2026, 1, 5)]

    total = statistics.totals(session)
    assert (total.files, total.bytes) == (len(live), sum(row["size"] for row in live))
    assert total.distinct_contents == len({row["content"] for row in live})
    assert total.deleted_files == len(rows) - len(live)
    assert total.deleted_bytes == sum(row["size"] for row in rows if row["deleted"])

    popular = [(tag.tag_name, count) for tag, count in tags.popular_tags(session)]
    counted = Counter(tag for row in live for tag in row["tags"])
    assert popular == sorted(counted.items(), key=lambda item: (-item[1], item[0]))


def _file_at(session: Session, moment: datetime, size: int = 1, **fields: Any) -> FileInfo:
    file = files.create_file(session, factories.spec(created_at=moment, **fields))
    file.file_size = size
    session.flush()
    return file


def test_daily_trends_fill_empty_days_with_zeros(session: Session) -> None:
    base = datetime(2030, 5, 10, tzinfo=UTC)
    _file_at(session, base + timedelta(hours=1), 100)
    _file_at(session, base + timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999), 10)
    _file_at(session, base + timedelta(days=2), 7)
    _file_at(session, base + timedelta(days=3), 1000)  # outside the window
    points = statistics.upload_trends(
        session, Period.DAY, start=date(2030, 5, 9), end=date(2030, 5, 12)
    )
    assert points == [
        TrendPoint(start=date(2030, 5, 9), files=0, bytes=0),
        TrendPoint(start=date(2030, 5, 10), files=2, bytes=110),
        TrendPoint(start=date(2030, 5, 11), files=0, bytes=0),
        TrendPoint(start=date(2030, 5, 12), files=1, bytes=7),
    ]


def test_days_are_utc_days(session: Session) -> None:
    """23:30 in New York on the 1st is the 2nd in UTC, and counts on the 2nd."""
    _file_at(session, datetime(2031, 1, 2, 4, 30, tzinfo=UTC))
    points = statistics.upload_trends(
        session, Period.DAY, start=date(2031, 1, 1), end=date(2031, 1, 2)
    )
    assert [p.files for p in points] == [0, 1]


def test_monthly_trends(session: Session) -> None:
    _file_at(session, datetime(2032, 1, 31, 23, tzinfo=UTC), 5)
    _file_at(session, datetime(2032, 3, 1, tzinfo=UTC), 6)
    points = statistics.upload_trends(
        session, Period.MONTH, start=date(2032, 1, 15), end=date(2032, 3, 2)
    )
    assert points == [
        TrendPoint(start=date(2032, 1, 1), files=1, bytes=5),
        TrendPoint(start=date(2032, 2, 1), files=0, bytes=0),
        TrendPoint(start=date(2032, 3, 1), files=1, bytes=6),
    ]


def test_trend_windows_are_checked(session: Session) -> None:
    with pytest.raises(InvalidInput, match="before it starts"):
        statistics.upload_trends(session, Period.DAY, start=date(2030, 1, 2), end=date(2030, 1, 1))
    with pytest.raises(InvalidInput, match="longer than"):
        statistics.upload_trends(session, Period.DAY, start=date(2000, 1, 1), end=date(2030, 1, 1))


def test_activity_of_one_file(session: Session) -> None:
    file, other = (files.create_file(session, factories.spec()) for _ in range(2))
    assert activity.file_activity(session, file) == activity.Activity(
        views=0, downloads=0, bytes_served=0, last_access=None
    )
    activity.record_view(session, file.id, Client(ip="2001:db8::7", user_agent="x" * 900))
    activity.record_download(session, file.id, bytes_served=100, client=Client(ip="not an ip"))
    activity.record_download(session, file.id, bytes_served=50)
    activity.record_download(session, other.id, bytes_served=999)
    result = activity.file_activity(session, file)
    assert (result.views, result.downloads, result.bytes_served) == (1, 2, 150)
    last = sa.select(sa.func.max(FileDownload.created_at)).where(FileDownload.file_id == file.id)
    assert result.last_access == session.scalar(last)
    stored = session.scalars(sa.select(FileView).where(FileView.file_id == file.id)).one()
    assert (stored.client_ip, len(stored.user_agent or "")) == ("2001:db8::7", 500)


def test_an_event_of_a_file_gone_meanwhile_records_nothing(session: Session) -> None:
    """A download that ran while its file was purged: no row, no foreign-key error."""
    file = files.create_file(session, factories.spec())
    file_id = file.id
    file.is_deleted, file.deleted_at = True, utcnow() - timedelta(days=1)
    session.flush()
    assert files.delete_for_good(session, [file], deleted_before=utcnow()) == 1
    activity.record_download(session, file_id, bytes_served=10)
    activity.record_view(session, file_id)
    for model in (FileView, FileDownload):
        events = sa.select(sa.func.count(model.id)).where(model.file_id == file_id)
        assert session.scalar(events) == 0


def test_a_batch_leaves_out_only_the_events_of_a_file_gone_meanwhile(session: Session) -> None:
    gone, kept = (files.create_file(session, factories.spec()) for _ in range(2))
    gone_id, kept_id = gone.id, kept.id
    gone.is_deleted, gone.deleted_at = True, utcnow() - timedelta(days=1)
    session.flush()
    assert files.delete_for_good(session, [gone], deleted_before=utcnow()) == 1
    batch = [
        activity.Event(gone_id),
        activity.Event(kept_id, Client(ip="192.0.2.9")),
        activity.Event(gone_id, bytes_served=10),
        activity.Event(kept_id, bytes_served=7),
        activity.Event(kept_id, bytes_served=5),
    ]
    activity.record_events(session, batch)
    result = activity.file_activity(session, session.get_one(FileInfo, kept_id))
    assert (result.views, result.downloads, result.bytes_served) == (1, 2, 12)
    for model in (FileView, FileDownload):
        events = sa.select(sa.func.count(model.id)).where(model.file_id == gone_id)
        assert session.scalar(events) == 0


def test_old_events_are_deleted_in_batches(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for age in range(10):
        session.add(FileView(file_id=file.id, created_at=now - timedelta(days=age * 10)))
        session.add(FileDownload(file_id=file.id, created_at=now - timedelta(days=age * 10)))
    session.flush()
    cutoff = now - timedelta(days=45)  # ages 50..90 days: 5 of each
    assert activity.delete_events_before(session, cutoff, limit=3) == 6
    assert activity.delete_events_before(session, cutoff, limit=3) == 4
    assert activity.delete_events_before(session, cutoff, limit=3) == 0
    assert activity.file_activity(session, file).views == 5


def test_statistics_are_fresh_within_one_session(session: Session) -> None:
    """The view's rows have no real identity: a second read must not reuse the first."""
    small = files.create_file(session, factories.spec(category="video"))
    small.file_size = 10
    session.flush()
    before = {row.category_name: row for row in statistics.category_statistics(session)}["video"]
    assert (before.file_count, before.total_size) == (1, 10)
    files.soft_delete_file(session, small.file_uuid)
    big = files.create_file(session, factories.spec(category="video"))
    big.file_size = 5000
    session.flush()
    after = {row.category_name: row for row in statistics.category_statistics(session)}["video"]
    assert (after.file_count, after.total_size) == (1, 5000)
