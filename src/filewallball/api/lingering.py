"""Closing a connection whose request body was refused, without losing the answer.

When the app refuses a request before it has read the body to its end (401 for an
anonymous upload, 413 for one too large), the rest of the body is of no use, and the
server must not read it all (gigabytes, if the client says so) to reuse the
connection. But closing at once, with unread bytes in the socket, makes the kernel
reset the connection, and a client that sends its whole body before it reads (most
do) may then see the reset instead of the answer. So, as nginx's lingering close
does, the answer says ``Connection: close`` and is sent at once; then up to
``LINGER_BYTES`` or ``LINGER_SECONDS`` of the body are read and dropped (a client that
reads the answer in that time stops sending) before the response ends and the server
closes the connection. The answer goes without its Content-Length, in chunks: a
response ends when its declared length is sent, and the server stops reading the
request then, so only a chunked one can stay open while the body is drained."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LINGER_BYTES = 1024 * 1024
LINGER_SECONDS = 2.0


class LingeringClose:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"]) if scope["type"] == "http" else {}
        if not (b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"):
            await self.app(scope, receive, send)
            return
        # A client that waits for "100 Continue" has sent nothing yet: nothing to drain.
        waits_for_continue = headers.get(b"expect", b"").lower() == b"100-continue"
        read_any = body_done = refused = held = False

        async def receiving() -> Message:
            nonlocal read_any, body_done
            message = await receive()
            read_any = True
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def sending(message: Message) -> None:
            nonlocal refused, held
            if message["type"] == "http.response.start":
                refused = message["status"] >= 400 and not body_done
                if refused:
                    kept = [
                        (name, value)
                        for name, value in message.get("headers", [])
                        if name.lower() not in (b"connection", b"content-length")
                    ]
                    message["headers"] = [*kept, (b"connection", b"close")]
            elif refused and message["type"] == "http.response.body":
                # The end is held back: the server closes the connection once it is sent.
                held = held or not message.get("more_body", False)
                message = {**message, "more_body": True}
            await send(message)

        await self.app(scope, receiving, sending)
        if held:
            if not body_done and (read_any or not waits_for_continue):
                await _drain(receive)
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _drain(receive: Receive) -> None:
    """Read and drop the body until its end, LINGER_BYTES or LINGER_SECONDS."""
    read = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while read < LINGER_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                read += len(message.get("body", b""))
