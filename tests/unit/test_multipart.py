"""The streaming form parser: whatever the chunking, a well-formed body gives back its
fields and the file's bytes exactly, and any body at all is parsed or refused with
InvalidInput, never another exception."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from filewallball.api.multipart import FORM_FIELDS, receive_multipart
from filewallball.errors import InvalidInput
from tests.unit.outcomes import answer_or_refusal

BOUNDARY = "unitBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"

# Text a Content-Disposition can carry in a quoted string without escapes.
filenames = (
    st.text(st.characters(exclude_categories=["Cs", "Cc"], exclude_characters='"\\'), min_size=1)
    .map(str.strip)
    .filter(bool)
)
values = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
fields = st.dictionaries(st.sampled_from(sorted(FORM_FIELDS)), values)


@dataclass
class Received:
    fields: dict[str, str]
    started: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    written: bytearray = field(default_factory=bytearray)


def _part(disposition: str, body: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n"
    return head.encode() + body + b"\r\n"


def _form(before: dict[str, str], filename: str, content: bytes, after: dict[str, str]) -> bytes:
    return b"".join(
        [
            *(_part(f'name="{name}"', value.encode()) for name, value in before.items()),
            _part(f'name="file"; filename="{filename}"', content),
            *(_part(f'name="{name}"', value.encode()) for name, value in after.items()),
            f"--{BOUNDARY}--\r\n".encode(),
        ]
    )


def _chunked(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({0, len(body), *(cut % (len(body) + 1) for cut in cuts)})
    return [body[start:end] for start, end in itertools.pairwise(points)]


def _receive(chunks: list[bytes], content_type: str = CONTENT_TYPE) -> Received:
    received = Received({})

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def start_file(filename: str, fields_so_far: dict[str, str]) -> None:
        received.started.append((filename, fields_so_far))

    async def write(piece: bytes) -> None:
        received.written += piece

    async def main() -> None:
        received.fields = await receive_multipart(content_type, stream(), start_file, write)

    asyncio.run(main())
    return received


@given(
    before=fields,
    filename=filenames,
    content=st.binary(max_size=4096),
    after=fields,
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_a_form_comes_back_whole_however_it_is_cut(
    before: dict[str, str], filename: str, content: bytes, after: dict[str, str], cuts: list[int]
) -> None:
    assume(not before.keys() & after.keys())
    assume(BOUNDARY.encode() not in content)
    body = _form(before, filename, content, after)

    received = _receive(_chunked(body, cuts))

    assert received.started == [(filename, before)]  # the fields sent before the file
    assert bytes(received.written) == content
    assert received.fields == {**before, **after}


@given(body=st.binary(max_size=2048), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_any_body_is_parsed_or_refused_by_name(body: bytes, cuts: list[int]) -> None:
    received = answer_or_refusal(lambda: _receive(_chunked(body, cuts)), InvalidInput)
    if isinstance(received, InvalidInput):
        assert str(received)
    else:
        assert received.started  # a body with no file part is refused


@given(
    prefix=st.sampled_from([b"", f"--{BOUNDARY}\r\n".encode()]),
    junk=st.binary(max_size=512),
)
def test_a_body_that_starts_like_a_form_is_parsed_or_refused_by_name(
    prefix: bytes, junk: bytes
) -> None:
    body = prefix + b'Content-Disposition: form-data; name="file"; filename="a"' + junk
    received = answer_or_refusal(lambda: _receive([body]), InvalidInput)
    if isinstance(received, InvalidInput):
        assert str(received)
    else:
        assert received.started == [("a", {})]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_form({}, "a.txt", b"x", {})[:-8], "truncated"),
        (f"--{BOUNDARY}--\r\n".encode(), "no 'file' part"),
        (_form({"tags": "a"}, "a.txt", b"x", {"tags": "b"}), "given twice"),
        (_part('name="colour"', b"red") + _form({}, "a.txt", b"x", {}), "unknown form field"),
        (_part('name="upload"; filename="a.txt"', b"x") + f"--{BOUNDARY}--".encode(), "'file'"),
        (_part('name="file"; filename="a.txt"', b"x") + _form({}, "b.txt", b"y", {}), "second"),
        (_part('name="tags"', b"\xff") + _form({}, "a.txt", b"x", {}), "not valid UTF-8"),
        (_part('name="tags"', b"t" * 9000) + _form({}, "a.txt", b"x", {}), "over 8192 bytes"),
    ],
    ids=[
        "truncated",
        "no-file",
        "field-twice",
        "unknown-field",
        "file-misnamed",
        "two-files",
        "field-not-utf8",
        "field-too-long",
    ],
)
def test_malformed_forms_are_refused_by_name(body: bytes, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        _receive([body])


def test_a_form_without_a_boundary_is_refused_before_reading() -> None:
    with pytest.raises(InvalidInput, match="boundary"):
        _receive([], "multipart/form-data")
