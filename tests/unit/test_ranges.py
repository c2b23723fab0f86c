"""Which part of a file a Range header asks for (RFC 9110 section 14): any header is
honoured exactly, ignored, or answered 416, never an exception of another kind."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filewallball.api.errors import ApiError
from filewallball.api.routes.content import MAX_RANGES, usable_range
from tests.unit.outcomes import answer_or_refusal

HONOURED = re.compile(r"bytes=(\d+-\d+)(,\d+-\d+)*")
sizes = st.integers(min_value=0, max_value=2**63)
positive_sizes = st.integers(min_value=1, max_value=2**63)
spec_text = st.text(st.sampled_from("0123456789-, =\t"), max_size=40)
headers = st.one_of(
    st.text(max_size=60),
    spec_text.map("bytes=".__add__),
    st.builds("{}={}".format, st.sampled_from(["bytes", "BYTES", " bytes ", "items"]), spec_text),
)


def _bounds(honoured: str) -> list[tuple[int, int]]:
    return [
        (int(first), int(last))
        for first, last in (spec.split("-") for spec in honoured.removeprefix("bytes=").split(","))
    ]


def _ranges(size: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    """Byte ranges that lie within a content of ``size`` bytes."""
    first = st.integers(min_value=0, max_value=size - 1)
    return st.lists(
        first.flatmap(lambda a: st.tuples(st.just(a), st.integers(a, size - 1))),
        min_size=1,
        max_size=8,
    )


@given(header=headers, size=sizes)
def test_any_header_is_honoured_within_the_content_ignored_or_416(header: str, size: int) -> None:
    honoured = answer_or_refusal(lambda: usable_range(header, size), ApiError)
    if isinstance(honoured, ApiError):
        assert honoured.status == 416
        assert honoured.headers == {"Content-Range": f"bytes */{size}"}
    elif honoured is not None:
        assert HONOURED.fullmatch(honoured), honoured
        assert all(0 <= first <= last < size for first, last in _bounds(honoured))


@given(data=st.data(), size=positive_sizes)
def test_ranges_within_the_content_are_honoured_as_they_are(data: st.DataObject, size: int) -> None:
    ranges = data.draw(_ranges(size))
    header = "bytes=" + ",".join(f"{first}-{last}" for first, last in ranges)
    assert usable_range(header, size) == header


def test_as_many_ranges_as_allowed_are_honoured_and_one_more_is_ignored() -> None:
    allowed = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES))
    assert usable_range(allowed, MAX_RANGES) == allowed
    assert usable_range(f"{allowed},0-0", MAX_RANGES) is None


@given(header=headers, size=sizes)
def test_what_is_honoured_is_honoured_again_unchanged(header: str, size: int) -> None:
    try:
        honoured = usable_range(header, size)
    except ApiError:
        return
    if honoured is not None:
        assert usable_range(honoured, size) == honoured


@given(first=st.integers(min_value=0), size=positive_sizes)
def test_an_open_range_runs_to_the_last_byte(first: int, size: int) -> None:
    if first >= size:
        with pytest.raises(ApiError):
            usable_range(f"bytes={first}-", size)
    else:
        assert usable_range(f"bytes={first}-", size) == f"bytes={first}-{size - 1}"


@given(count=st.integers(min_value=1), size=positive_sizes)
def test_a_suffix_is_the_last_bytes_or_all_of_them(count: int, size: int) -> None:
    assert usable_range(f"bytes=-{count}", size) == f"bytes={max(size - count, 0)}-{size - 1}"


@given(digits=st.integers(min_value=4300, max_value=20_000), size=sizes)
def test_numbers_too_long_for_int_mean_past_the_end(digits: int, size: int) -> None:
    """int() refuses more than 4,300 digits: the position is bounded before it is read."""
    huge = "9" * digits
    if size:
        assert usable_range(f"bytes=0-{huge}", size) == f"bytes=0-{size - 1}"
    with pytest.raises(ApiError):
        usable_range(f"bytes={huge}-", size)
