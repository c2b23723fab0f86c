"""Serving content: downloads (Range, ETag, 304) and inline views of safe types.

Starlette's FileResponse does the sending (single and multiple ranges, If-Range, 416).
A whole blob that the store keeps as a local file is handed to the server, which sends
it from the kernel (the ASGI ``http.response.pathsend`` extension); a store without
local files is read through its ``open``. Around it: the file's identity instead of the
disk's (the ETag is the content hash, Last-Modified the upload time, so every copy of a
blob answers the same), conditional requests, a Content-Disposition that survives any
name, and one download or view event once the bytes have gone out."""

from __future__ import annotations

import functools
import os
import pathlib
import re
import stat
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, BinaryIO
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from filewallball.api.access import Reader, client_of
from filewallball.api.dependencies import FileUUID, ServicesDep
from filewallball.api.errors import ApiError, responses
from filewallball.api.numbers import bounded_decimal
from filewallball.api.services import Services
from filewallball.api.visibility import Viewer, visible_file
from filewallball.errors import Gone
from filewallball.operations.activity import Event
from filewallball.operations.records import FileRecord
from filewallball.storage import BlobInfo, BlobStore

router = APIRouter(prefix="/files", tags=["content"])

# Rendered inline by /view; everything else is a download there too.
INLINE_TYPES = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/csv",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "application/pdf",
    }
)
# What the routes answer with, for the OpenAPI (the earlier API's routes are the same).
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The content"},
    206: {"description": "Part of the content (Range)"},
    304: {"description": "Not modified (If-None-Match / If-Modified-Since)"},
}
HEAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The headers of the download (length, ETag), no body"},
    **{code: DOWNLOAD_RESPONSES[code] for code in (206, 304)},
    **responses(400, 401, 404, 410, 416, 503),
}
VIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {media: {} for media in (*sorted(INLINE_TYPES), "application/octet-stream")},
        "description": "Inline for plain text, raster images and PDF; else an attachment",
    },
    206: {"description": "Part of the content (Range)"},
    304: {"description": "Not modified"},
}
VIEW_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
PDF_VIEW_POLICY = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'"


def _etag(file: FileRecord) -> str:
    return f'"{file.file_hash}"'


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII fallback every client reads, and the real name in ``filename*``.
    The fallback keeps the letters under the accents (``résumé`` is ``resume``) and
    drops what could end the header or the quoted string."""
    return f"{kind}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def ascii_fallback(name: str) -> str:
    # Recomposed after the marks go, so that a Hangul syllable is one "_", not its jamo.
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
        for c in unicodedata.normalize("NFC", bare)
    )


def _not_modified(request: Request, served: FileRecord) -> bool:
    if (tags := request.headers.get("if-none-match")) is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in wanted or _etag(served) in wanted
    if (since := request.headers.get("if-modified-since")) is not None:
        try:
            return served.created_at.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


_RANGE = re.compile(r"\s*([0-9]*)\s*-\s*([0-9]*)\s*")
# More ranges than this in one header is a request the server may ignore (RFC 9110
# section 14.2); FileResponse ignores them too.
MAX_RANGES = 100


def usable_range(header: str | None, size: int) -> str | None:
    """The Range header to honour (RFC 9110 section 14), rewritten as the first and last
    byte of each satisfiable range; None to send the whole content. A header that is not
    in bytes, is malformed or asks for more than ``MAX_RANGES`` ranges is ignored. When
    no range is satisfiable, 416 (raised here). Every number is bounded by the size
    before it is converted: any position past the end means the same as the end."""
    if header is None:
        return None
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return None
    kept: list[tuple[int, int]] = []
    for part in parts:
        match = _RANGE.fullmatch(part)
        if match is None or match.groups() == ("", ""):
            return None
        first_digits, last_digits = match.groups()
        first = bounded_decimal(first_digits, size) if first_digits else None
        last = bounded_decimal(last_digits, size) if last_digits else None
        if first is None:  # "-N": the last N bytes
            if last and size:
                kept.append((size - last, size - 1))
        elif last is not None and last < first:
            return None
        elif first < size:
            kept.append((first, size - 1 if last is None else min(last, size - 1)))
    if not kept:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"the range {header[:100]!r} is outside the content's {size} bytes",
            {"Content-Range": f"bytes */{size}"},
        )
    return "bytes=" + ",".join(f"{first}-{last}" for first, last in kept)


# Each chunk read through a store's open() is one trip to a worker thread (and, from an
# object store, a read of its answer): larger than FileResponse's 64 KiB, so that the
# trips, not the bytes, do not set the pace.
OPENED_CHUNK_BYTES = 1024 * 1024


class _CountingFileResponse(FileResponse):
    """A FileResponse that knows how many body bytes it sent (ranges, HEAD, a client
    that went away midway), for the download event; that sees the Range header we
    decided to honour (``usable_range``), or none; and that reads through ``opener``
    (the store's ``open``) when it is given, instead of a local path."""

    sent = 0
    honoured_range: str | None = None
    opener: Callable[[], BinaryIO] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.sent += len(message.get("body", b""))
            elif message["type"] == "http.response.pathsend" and self.stat_result:
                self.sent += self.stat_result.st_size  # the whole file, sent by the server
            await send(message)

        headers = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        if self.honoured_range is not None:
            kept = [(k, v) for k, v in scope["headers"] if k == b"if-range"]
            headers += [(b"range", self.honoured_range.encode()), *kept]
        scope = {**scope, "headers": headers}
        if self.opener is not None:  # no path for the server to send
            extensions = scope.get("extensions") or {}
            scope["extensions"] = {
                k: v for k, v in extensions.items() if k != "http.response.pathsend"
            }
        await super().__call__(scope, receive, counting)

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # FileResponse's one way in to the bytes it sends; test_content covers a store
        # without local files, so a Starlette that stops calling it is noticed.
        if self.opener is None:
            async with super()._open_file() as file:
                yield file
            return
        file = anyio.wrap_file(await anyio.to_thread.run_sync(self.opener))
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()


def _located(store: BlobStore, content_hash: str) -> tuple[BlobInfo | None, pathlib.Path | None]:
    return store.stat(content_hash), store.local_path(content_hash)


def _stat_result(info: BlobInfo) -> os.stat_result:
    """What FileResponse reads of a file's stat: its size and modification time."""
    moment = info.modified_at.timestamp()
    return os.stat_result((stat.S_IFREG | 0o444, 0, 0, 1, 0, 0, info.size, moment, moment, moment))


async def _serve(
    services: Services, request: Request, file_uuid: str, viewer: Viewer, *, view: bool
) -> Response:
    served = await services.read(visible_file, file_uuid, viewer)
    if served.content_status != "ok":
        raise Gone(
            f"the content of file {served.file_uuid} is {served.content_status} "
            "(found by fsck); uploading the same bytes again restores it"
        )
    headers = {
        "ETag": _etag(served),
        "Last-Modified": format_datetime(served.created_at, usegmt=True),
        "Cache-Control": "private, no-cache" if not view else "private, max-age=0",
        "X-Content-Type-Options": "nosniff",
    }
    if _not_modified(request, served):
        return Response(status_code=304, headers=headers)
    store = services.store
    info, local = await services.in_thread(_located, store, served.file_hash)
    if info is None:
        raise Gone(f"the content of file {served.file_uuid} is missing from storage")
    if info.size != served.file_size:
        raise Gone(f"the content of file {served.file_uuid} is damaged in storage")
    inline = view and served.mime_type in INLINE_TYPES
    media_type = served.mime_type if inline or not view else "application/octet-stream"
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    headers["Content-Disposition"] = content_disposition(
        "inline" if inline else "attachment", served.original_filename
    )
    if view:
        headers["Content-Security-Policy"] = (
            PDF_VIEW_POLICY if served.mime_type == "application/pdf" else VIEW_POLICY
        )
    honoured_range = usable_range(request.headers.get("range"), info.size)
    response = _CountingFileResponse(
        local or store.key(served.file_hash),
        media_type=media_type,
        headers=headers,
        stat_result=_stat_result(info),
    )
    response.honoured_range = honoured_range
    if local is None:
        response.opener = functools.partial(store.open, served.file_hash)
        response.chunk_size = OPENED_CHUNK_BYTES
    if request.method == "GET":
        client = client_of(request)

        async def record() -> None:  # once the answer is sent: how much of it was
            if response.status_code >= 300:
                return
            if not view:
                services.metrics.downloads.inc()
                services.metrics.download_bytes.inc(response.sent)
            served_bytes = None if view else response.sent
            services.events.add(Event(served.id, client, served_bytes))

        response.background = BackgroundTask(record)
    return response


@router.get(
    "/{file_uuid}/content",
    response_class=FileResponse,
    responses={**DOWNLOAD_RESPONSES, **responses(400, 401, 404, 410, 416, 503)},
)
async def download(
    services: ServicesDep, request: Request, viewer: Reader, file_uuid: FileUUID
) -> Response:
    """The file's bytes, as an attachment; Range, If-Range and conditional requests."""
    return await _serve(services, request, file_uuid, viewer, view=False)


@router.head(
    "/{file_uuid}/content",
    response_class=FileResponse,
    responses=HEAD_RESPONSES,
)
async def download_head(
    services: ServicesDep, request: Request, viewer: Reader, file_uuid: FileUUID
) -> Response:
    """What a GET would answer, without the body; counts no download."""
    return await _serve(services, request, file_uuid, viewer, view=False)


@router.get(
    "/{file_uuid}/view",
    response_class=FileResponse,
    responses={**VIEW_RESPONSES, **responses(400, 401, 404, 410, 416, 503)},
)
async def view(
    services: ServicesDep, request: Request, viewer: Reader, file_uuid: FileUUID
) -> Response:
    """Show the file in the browser when that is safe; HTML, SVG and scripts never are."""
    return await _serve(services, request, file_uuid, viewer, view=True)
