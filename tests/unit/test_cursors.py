"""Keyset cursors: the position a page ends at (its sort value and id) comes back from
the opaque text exactly, for the search it was made for; any other text is refused by
name. The encoding is private to the search module; these properties are its contract."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filewallball.errors import InvalidInput
from filewallball.models.types import MAX_BIGINT
from filewallball.operations.search import FileQuery, SortKey
from filewallball.operations.search import _decode_cursor as decode
from filewallball.operations.search import _encode_cursor as encode
from tests.unit.outcomes import answer_or_refusal

URL_SAFE = set(string.ascii_letters + string.digits + "-_")
ids = st.integers(min_value=1, max_value=2**63 - 1)
orders = st.sampled_from(["asc", "desc"])
zones = st.builds(
    timezone, st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timedelta(minutes=m))
)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive; zones apply)
    max_value=datetime(9998, 12, 31),  # noqa: DTZ001
    timezones=zones,
)
VALUES: dict[SortKey, st.SearchStrategy[object]] = {
    "created_at": moments,
    "file_size": st.integers(min_value=0, max_value=MAX_BIGINT),
    "original_filename": st.text(max_size=255),
}
positions = st.sampled_from(list(VALUES)).flatmap(
    lambda sort: st.tuples(st.just(sort), orders, VALUES[sort], ids)
)


@given(position=positions)
def test_a_cursor_gives_back_the_position_it_was_made_from(
    position: tuple[SortKey, str, object, int],
) -> None:
    sort, order, value, last_id = position
    query = FileQuery(sort=sort, order=order)
    cursor = encode(query, value, last_id)

    assert decode(cursor, query) == (value, last_id)
    assert FileQuery(sort=sort, order=order, cursor=cursor).cursor == cursor  # fits the field
    assert set(cursor) <= URL_SAFE  # in a query string as it is


@given(position=positions)
def test_a_moment_comes_back_in_utc(position: tuple[SortKey, str, object, int]) -> None:
    sort, order, value, last_id = position
    query = FileQuery(sort=sort, order=order)
    decoded, _ = decode(encode(query, value, last_id), query)
    if isinstance(decoded, datetime):
        assert decoded.tzinfo == UTC


@given(position=positions, other=st.sampled_from(list(VALUES)), other_order=orders)
def test_a_cursor_of_another_sort_is_refused(
    position: tuple[SortKey, str, object, int], other: SortKey, other_order: str
) -> None:
    sort, order, value, last_id = position
    if (other, other_order) == (sort, order):
        return
    cursor = encode(FileQuery(sort=sort, order=order), value, last_id)
    with pytest.raises(InvalidInput, match="cursor"):
        decode(cursor, FileQuery(sort=other, order=other_order))


@given(text=st.text(max_size=200), sort=st.sampled_from(list(VALUES)), order=orders)
def test_any_text_is_a_position_or_refused_by_name(text: str, sort: SortKey, order: str) -> None:
    query = FileQuery(sort=sort, order=order)
    decoded = answer_or_refusal(lambda: decode(text, query), InvalidInput)
    if isinstance(decoded, InvalidInput):
        assert "cursor" in str(decoded)
        return
    value, last_id = decoded
    assert 0 < last_id <= MAX_BIGINT
    assert encode(query, value, last_id)


@pytest.mark.parametrize(
    ("sort", "value", "last_id"),
    [
        ("created_at", "2030-01-01T00:00:00", 1),  # naive: no zone to read it in
        ("created_at", "yesterday", 1),
        ("file_size", -1, 1),
        ("file_size", MAX_BIGINT + 1, 1),
        ("file_size", 1.5, 1),
        ("file_size", True, 1),
        ("original_filename", 7, 1),
        ("original_filename", "a", 0),
        ("original_filename", "a", MAX_BIGINT + 1),
        ("original_filename", "a", "1"),
    ],
)
def test_forged_positions_are_refused(sort: SortKey, value: object, last_id: object) -> None:
    query = FileQuery(sort=sort)
    forged = encode(query, value, last_id)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="cursor"):
        decode(forged, query)
