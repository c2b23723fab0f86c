"""The request's path, as the routes see it."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Request

from filewallball.api.errors import ApiError


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
