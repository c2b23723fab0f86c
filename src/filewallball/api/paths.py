"""The request's path and query string, as the routes see them."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from filewallball.api.errors import ApiError

_NOT_ASCII = re.compile(rb"[\x80-\xff]")


async def path_is_utf8(request: Request) -> None:
    """Refuse a path whose percent-encoded bytes are not UTF-8 (400). The ASGI server
    decodes them with replacement, so ``PUT /files/caf%E9.txt`` would arrive as
    ``"caf\\ufffd.txt"`` and be stored so, where the same name in a form is refused.
    Only a path that shows a replacement character is looked at again."""
    if "\ufffd" not in request.scope["path"]:
        return
    raw = request.scope.get("raw_path")
    try:
        if raw is not None:
            unquote_to_bytes(raw).decode()
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_input", "the URL's path is not valid UTF-8") from None


class Utf8QueryString:
    """Reads raw UTF-8 in a query string (``?q=café`` as curl and browsers send what was
    typed) as UTF-8. Starlette reads the query's raw bytes as Latin-1 and only its
    percent-escapes as UTF-8, so ``q`` would be ``"cafÃ©"``: the bytes are escaped first,
    which is what the client should have sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        if not query.isascii():
            escaped = _NOT_ASCII.sub(lambda byte: b"%%%02X" % byte[0][0], query)
            scope = {**scope, "query_string": escaped}
        await self.app(scope, receive, send)
