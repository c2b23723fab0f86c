"""``file_statistics`` is a database view with correct aggregates, and stays read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.models import Base, FileStatistics, ReadOnlyViewError
from tests import factories

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def stats(session: Session) -> dict[str | None, FileStatistics]:
    photos, empty = factories.category(name="stat-photos"), factories.category(name="stat-empty")
    session.add(empty)
    for size, minutes in ((10, 1), (20, 2), (30, 3)):
        session.add(
            factories.file(
                category=photos, file_size=size, created_at=T0 + timedelta(minutes=minutes)
            )
        )
    # soft-deleted files count nowhere, even when newer and bigger
    session.add(
        factories.file(
            category=photos, file_size=1000, is_deleted=True, created_at=T0 + timedelta(days=1)
        )
    )
    session.add(factories.file(file_size=5, created_at=T0))
    session.add(factories.file(file_size=8, created_at=T0 + timedelta(seconds=1, microseconds=7)))
    session.add(factories.file(file_size=999, is_deleted=True, created_at=T0 + timedelta(days=2)))
    session.flush()
    session.expire_all()
    rows = session.scalars(sa.select(FileStatistics)).all()
    return {row.category_name: row for row in rows}


def test_counts_sums_averages_and_last_upload(stats: dict[str | None, FileStatistics]) -> None:
    photos = stats["stat-photos"]
    assert (photos.file_count, photos.total_size) == (3, 60)
    assert photos.avg_file_size == pytest.approx(20.0)
    assert isinstance(photos.avg_file_size, float)
    assert photos.last_upload == T0 + timedelta(minutes=3)


def test_uncategorised_files_have_their_own_row(stats: dict[str | None, FileStatistics]) -> None:
    loose = stats[None]
    assert loose.category_id is None
    assert (loose.file_count, loose.total_size) == (2, 13)
    assert loose.avg_file_size == pytest.approx(6.5)
    assert loose.last_upload == T0 + timedelta(seconds=1, microseconds=7)


def test_empty_categories_are_listed_with_zeros(stats: dict[str | None, FileStatistics]) -> None:
    empty = stats["stat-empty"]
    assert (empty.file_count, empty.total_size, empty.avg_file_size, empty.last_upload) == (
        0,
        0,
        None,
        None,
    )
    assert isinstance(empty.category_id, int)


def test_the_view_is_read_only(session: Session) -> None:
    session.add(FileStatistics(category_id=None, category_name="x", file_count=0, total_size=0))
    with pytest.raises(ReadOnlyViewError):
        session.flush()


def test_the_view_is_a_real_database_view(connection: sa.Connection) -> None:
    inspector = sa.inspect(connection)
    assert "file_statistics" in inspector.get_view_names()
    assert "file_statistics" not in inspector.get_table_names()


def test_create_all_never_makes_a_table_for_the_view() -> None:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    inspector = sa.inspect(engine)
    assert "file_statistics" not in inspector.get_table_names() + inspector.get_view_names()
    assert "files" in inspector.get_table_names()
