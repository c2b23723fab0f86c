"""Streaming ``multipart/form-data`` for uploads: the file part goes straight into the
blob store as it arrives; nothing is spooled to a temporary file first (Starlette's
form parser would write every byte twice).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from filewallball.errors import InvalidInput

if TYPE_CHECKING:  # only the type checker sees this name
    from python_multipart.multipart import MultipartCallbacks

FORM_FIELDS = frozenset({"tags", "category", "is_public", "folder", "replace"})
MAX_FIELD_BYTES = 8 * 1024
MAX_HEADER_BYTES = 8 * 1024


@dataclass
class _Events:
    """What the parser's callbacks saw in one chunk, handled (awaited) afterwards."""

    # a file part begins (its filename: str), a piece of it (bytes), a field (name, value)
    items: list[str | bytes | tuple[str, str]] = field(default_factory=list)
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""
    field_name: str | None = None
    field_value: bytearray = field(default_factory=bytearray)
    in_file: bool = False
    ended: bool = False


async def receive_multipart(
    content_type: str,
    stream: AsyncIterator[bytes],
    start_file: Callable[[str, dict[str, str]], Awaitable[None]],
    write: Callable[[bytes], Awaitable[None]],
) -> dict[str, str]:
    """Parse the body; ``start_file(filename, fields_so_far)`` is awaited when the file
    part begins and ``write`` with each piece of it. Returns every form field."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart body without a boundary in its Content-Type")
    events = _Events()
    fields: dict[str, str] = {}
    files = 0
    try:
        parser = MultipartParser(boundary, _callbacks(events), max_header_size=MAX_HEADER_BYTES)
        async for chunk in stream:
            parser.write(chunk)
            for item in events.items:
                if isinstance(item, bytes):
                    await write(item)
                elif isinstance(item, str):
                    files += 1
                    if files > 1:
                        raise InvalidInput("one file per upload: the body has a second file part")
                    await start_file(item, dict(fields))
                else:
                    name, text = item
                    if name in fields:
                        raise InvalidInput(f"form field {name!r} is given twice")
                    fields[name] = text
            events.items.clear()
        parser.finalize()
    except FormParserError as error:  # malformed body, over-long boundary, ...
        raise InvalidInput(f"malformed multipart body: {error}") from None
    if not events.ended:
        raise InvalidInput("the multipart body ends before its closing boundary (truncated?)")
    if files == 0:
        raise InvalidInput("the multipart body has no 'file' part")
    return fields


def _callbacks(events: _Events) -> MultipartCallbacks:
    def on_header_field(data: bytes, start: int, end: int) -> None:
        events.header_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        events.header_value += data[start:end]

    def on_header_end() -> None:
        if events.header_name.lower() == b"content-disposition":
            events.disposition = events.header_value
        events.header_name = events.header_value = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(events.disposition)
        events.disposition = b""
        name = _text(options.get(b"name"), "form part name")
        if b"filename" in options:
            if name != "file":
                raise InvalidInput(f"the file part must be named 'file', not {name!r}")
            events.in_file = True
            events.items.append(_text(options[b"filename"], "filename"))
        else:
            if name not in FORM_FIELDS:
                known = ", ".join(sorted(FORM_FIELDS | {"file"}))
                raise InvalidInput(f"unknown form field {name!r}; expected {known}")
            events.in_file, events.field_name = False, name
            events.field_value = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if events.in_file:
            events.items.append(data[start:end])
            return
        events.field_value += data[start:end]
        if len(events.field_value) > MAX_FIELD_BYTES:
            raise InvalidInput(f"form field {events.field_name!r} is over {MAX_FIELD_BYTES} bytes")

    def on_part_end() -> None:
        if not events.in_file and events.field_name is not None:
            value = _text(bytes(events.field_value), f"form field {events.field_name!r}")
            events.items.append((events.field_name, value))
        events.in_file, events.field_name = False, None

    def on_end() -> None:
        events.ended = True

    return {
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }


def _text(raw: bytes | None, what: str) -> str:
    if raw is None:
        raise InvalidInput(f"{what} is missing")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} is not valid UTF-8") from None
