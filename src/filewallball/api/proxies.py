"""The caller behind a reverse proxy.

A proxy in ``FILEWALLBALL_TRUSTED_PROXIES`` (addresses or CIDR networks) says who its
client was in ``X-Forwarded-For`` and which scheme it was asked for in
``X-Forwarded-Proto``; what anyone else says there is ignored. Granian's own proxy-header
wrapper does the parsing: the right-most forwarded address that is not a trusted proxy
is the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network

from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.types import ASGIApp, Receive, Scope, Send


class TrustedProxies:
    """Replaces the peer in the ASGI scope with the client a trusted proxy forwarded.

    It sits inside the request guard, which decides on the real peer (loopback mode
    refuses proxied requests), and outside everything that records the caller."""

    def __init__(self, app: ASGIApp, *, networks: Sequence[IPv4Network | IPv6Network]) -> None:
        self._app = wrap_asgi_with_proxy_headers(app, [str(network) for network in networks])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
