"""Timestamps read back exactly as written, in UTC, on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from filewallball.models import FileCategory
from tests import factories

SEOUL = timezone(timedelta(hours=9))


def _round_trip(session: Session, moment: datetime) -> datetime:
    category = factories.category(created_at=moment)
    session.add(category)
    session.flush()
    session.expire_all()
    # A Core select, so the value comes from the database and not from the identity map.
    return session.execute(
        sa.select(FileCategory.created_at).where(FileCategory.id == category.id)
    ).scalar_one()


def test_microseconds_survive(session: Session) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    back = _round_trip(session, moment)
    assert back == moment
    assert back.microsecond == 123456
    assert back.tzinfo is UTC


def test_other_zones_are_stored_as_the_same_instant_in_utc(session: Session) -> None:
    moment = datetime(2026, 7, 1, 9, 0, 0, 1, tzinfo=SEOUL)
    back = _round_trip(session, moment)
    assert back == moment
    assert (back.hour, back.tzinfo) == (0, UTC)


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(factories.category(created_at=datetime(2026, 1, 1, 12, 0)))  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_comparisons_use_utc(session: Session) -> None:
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    category = factories.category(created_at=moment)
    session.add(category)
    session.flush()
    same_instant_elsewhere = moment.astimezone(SEOUL)
    found = session.scalars(
        sa.select(FileCategory.id).where(
            FileCategory.id == category.id, FileCategory.created_at == same_instant_elsewhere
        )
    ).all()
    assert found == [category.id]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2999, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, SEOUL, timezone(timedelta(hours=-5, minutes=-30))]),
    )
)
def test_any_aware_datetime_round_trips(session: Session, moment: datetime) -> None:
    assert _round_trip(session, moment) == moment
