"""Numbers in requests (Range, Content-Length) are bounded before they are converted:
an absurd one is ignored or refused with a 4xx as RFC 9110 says, never a 500."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from filewallball.api.errors import ApiError
from filewallball.api.numbers import bounded_decimal
from filewallball.api.receiving import parse_declared_size
from filewallball.api.routes.content import usable_range
from filewallball.errors import InvalidInput
from filewallball.models.types import MAX_BIGINT

HUGE = "9" * 5000  # int() refuses more than 4,300 digits


@pytest.mark.parametrize(
    ("text", "ceiling", "value"),
    [
        ("0", 10, 0),
        ("7", 10, 7),
        ("10", 10, 10),
        ("11", 10, 10),
        ("00000000000000000000000000000000000000000000000000000003", 10, 3),
        (HUGE, 10, 10),
        (HUGE, 2**63, 2**63),
        ("", 10, None),
        ("-1", 10, None),
        ("+1", 10, None),
        ("1 ", 10, None),
        ("1_000", 10, None),
        ("\u00b2", 10, None),  # isdigit() says yes, int() says no
        ("\u0663", 10, None),  # ARABIC-INDIC DIGIT THREE: int() would read it
    ],
)
def test_a_decimal_is_ascii_digits_bounded_by_its_ceiling(
    text: str, ceiling: int, value: int | None
) -> None:
    assert bounded_decimal(text, ceiling) == value


@pytest.mark.parametrize(
    ("header", "honoured"),
    [
        (None, None),
        ("bytes=0-3", "bytes=0-3"),
        ("bytes=2-", "bytes=2-9"),
        ("bytes=-4", "bytes=6-9"),
        ("bytes= 0 - 3 , 5-5", "bytes=0-3,5-5"),
        ("bytes=0-999", "bytes=0-9"),
        (f"bytes=0-{HUGE}", "bytes=0-9"),  # past the end means to the end
        (f"bytes=-{HUGE}", "bytes=0-9"),  # more than all of it is all of it
        (f"bytes=0-1,{HUGE}-", "bytes=0-1"),  # the unsatisfiable range is dropped
        ("bytes=0-1,10-", "bytes=0-1"),
        ("bytes=3-1", None),  # invalid: ignored, the whole content is sent
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=-", None),
        ("bytes=\u00b2-", None),
        ("bytes=0-1,,2-3", None),
        ("bytes", None),
        ("bytes=" + ",".join(["0-0"] * 101), None),  # too many ranges: ignored
    ],
)
def test_a_range_is_honoured_with_exact_bounds_or_ignored(
    header: str | None, honoured: str | None
) -> None:
    assert usable_range(header, 10) == honoured


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), (f"bytes={HUGE}-", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_a_range_with_nothing_satisfiable_is_416(header: str, size: int) -> None:
    with pytest.raises(ApiError) as refused:
        usable_range(header, size)
    assert refused.value.status == 416
    assert refused.value.headers == {"Content-Range": f"bytes */{size}"}


def test_a_declared_size_is_a_number_and_an_absurd_one_is_above_every_limit() -> None:
    assert parse_declared_size(None) is None
    assert parse_declared_size("1234") == 1234
    assert parse_declared_size(HUGE) == MAX_BIGINT + 1
    for bad in ("12a", "-1", "\u00b2", "", "0x10"):
        with pytest.raises(InvalidInput, match="not a number"):
            parse_declared_size(bad)


def test_absurd_numbers_in_requests_are_answered_never_500(admin: TestClient) -> None:
    content = f"{secrets.token_hex(16)}\n".encode()
    created = admin.put(f"/api/v1/files/n-{secrets.token_hex(4)}.txt", content=content)
    url = created.json()["content_url"]

    def get(range_: str) -> tuple[int, bytes]:
        answer = admin.get(url, headers={"Range": range_})
        return answer.status_code, answer.content

    assert get(f"bytes={HUGE}-")[0] == 416
    assert get(f"bytes=0-{HUGE}") == (206, content)
    assert get(f"bytes=-{HUGE}") == (206, content)
    assert get(f"bytes=1-2,{HUGE}-") == (206, content[1:3])
    assert get(f"bytes={HUGE}-1") == (200, content)

    too_large = admin.put("/api/v1/files/huge.txt", content=b"x", headers={"Content-Length": HUGE})
    assert too_large.status_code == 413, too_large.text
    assert too_large.json()["error"]["code"] == "too_large"
