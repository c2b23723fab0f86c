"""Which requests reach the application at all (SPEC section 10).

- The ``Host`` must be one the service answers to (``FILEWALLBALL_ALLOWED_HOSTS``), else
  400 ``invalid_host``: a web page that rebinds its own name to 127.0.0.1 then cannot
  read from the service, since its requests carry its name.
- In loopback mode (no admin token, every caller is the admin) a request must come
  straight from this machine, else 403 ``not_local``: a reverse proxy in front would make
  every one of its visitors the admin.
- A state-changing request whose credentials the browser adds by itself (loopback mode;
  a session cookie, later) must come from the service's own pages or an origin in
  ``FILEWALLBALL_CORS_ORIGINS``, else 403 ``cross_site``: any page the operator opens
  could otherwise post a form to it.

``RequestGuard`` runs before routing, so nothing the application answers (a trailing
slash redirect, for one) is built from a Host that was not vetted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from filewallball.api.errors import error_response
from filewallball.api.numbers import bounded_decimal
from filewallball.settings import Settings

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "Via")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_PORT = 65535
# RFC 3986's host: an IP literal in brackets, or a name (lower case here) without
# percent-encoding or sub-delimiters, which no real host name has.
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::([0-9]*))?")


@dataclass(frozen=True)
class Origin:
    """``scheme://host:port`` (RFC 6454), the port always given."""

    scheme: str
    host: str
    port: int


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host header's host (lower case, no trailing dot, IPv6 in its shortest form) and
    port; None when it is not a host."""
    match = _HOST.fullmatch(value.strip().lower())
    if match is None:
        return None
    name, port_digits = match.groups()
    if name.startswith("["):
        try:
            name = f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
        except ValueError:
            return None
    name = name.rstrip(".")
    port = bounded_decimal(port_digits, MAX_PORT + 1) if port_digits else None
    if not name or port == MAX_PORT + 1:
        return None
    return name, port


def parse_origin(value: str) -> Origin | None:
    """An ``Origin`` header's (or a configured origin's) value; None for ``null``, an
    opaque origin, or anything else that is not ``http(s)://host[:port]``."""
    scheme, separator, rest = value.strip().lower().partition("://")
    if not separator or scheme not in DEFAULT_PORTS or (host := parse_host(rest)) is None:
        return None
    name, port = host
    return Origin(scheme, name, DEFAULT_PORTS[scheme] if port is None else port)


def cross_site(method: str, headers: Headers, own: Collection[Origin]) -> str | None:
    """Why a request that carries ambient credentials must be refused as a cross-site
    request forgery (the header that gives it away), or None when it may proceed. Only
    state-changing methods are checked. ``Sec-Fetch-Site`` is trusted when present;
    ``Origin`` is checked on its own too, since browsers omit ``Sec-Fetch-*`` over plain
    HTTP to a LAN address. ``Origin: null`` is what the service's own forms send (it
    answers with ``Referrer-Policy: no-referrer``): it passes with ``Sec-Fetch-Site:
    same-origin`` only. ``own``: the service's origins and the trusted ones."""
    if method in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {site[:40]}"
    for origin in headers.getlist("origin"):
        if origin.strip() == "null" and site is not None and site.strip().lower() == "same-origin":
            continue
        parsed = parse_origin(origin)
        if parsed is None or parsed not in own:
            return f"Origin: {origin[:100]}"
    return None


class HostPatterns:
    """``*``, ``*.example.com`` (any name below example.com, not example.com itself) and
    exact hosts, matched against ``parse_host``'s form of a Host."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.any = False
        self.exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in patterns:
            if pattern == "*":
                self.any = True
            elif pattern.startswith("*."):
                suffixes.append(pattern[1:])
            elif (host := parse_host(pattern)) is not None:
                self.exact.add(host[0])
        self.suffixes = tuple(suffixes)

    def allow(self, host: str) -> bool:
        return self.any or host in self.exact or host.endswith(self.suffixes)


class RequestGuard:
    """The checks of the module's docstring, in that order, before anything else sees
    the request. Refusals are JSON errors naming the problem."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.loopback = settings.loopback_mode
        default = LOOPBACK_HOSTS if self.loopback else ("*",)
        patterns = list(settings.allowed_hosts if settings.allowed_hosts is not None else default)
        # Origins besides the request's own that may send state-changing requests.
        self.trusted = {o for o in map(parse_origin, settings.cors_origins) if o is not None}
        if settings.public_url:
            parts = urlsplit(settings.public_url)
            public = parse_origin(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")
            if public is not None:
                patterns.append(public.host)
                self.trusted.add(public)
        self.hosts = HostPatterns(patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, code, message = refusal
        await error_response(status, code, message)(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str, str] | None:
        host = self._host(headers)
        if isinstance(host, str):
            return 400, "invalid_host", host
        if self.loopback and (proxied := _not_local(scope, headers)):
            message = f"with no admin token set, only this machine is served, directly: {proxied}"
            return 403, "not_local", message
        if self._ambient(headers):
            scheme = scope.get("scheme", "http")
            own = Origin(scheme, host[0], host[1] or DEFAULT_PORTS.get(scheme, 80))
            if forged := cross_site(scope["method"], headers, {own, *self.trusted}):
                message = f"a request from another site cannot change anything here ({forged})"
                return 403, "cross_site", message
        return None

    def _host(self, headers: Headers) -> tuple[str, int | None] | str:
        """The request's host and port, or what is wrong with its Host header."""
        values = headers.getlist("host")
        if values == [""]:  # how Granian passes on an HTTP/1.0 request without one
            values = []
        if len(values) != 1:
            return f"the request has {'no' if not values else 'more than one'} Host header"
        host = parse_host(values[0])
        if host is None:
            return f"the Host header {values[0][:100]!r} is not a host name"
        if not self.hosts.allow(host[0]):
            return (
                f"this service does not answer to the host {host[0][:100]!r} "
                "(see FILEWALLBALL_ALLOWED_HOSTS)"
            )
        return host

    def _ambient(self, headers: Headers) -> bool:
        """Whether the request's credentials are ones a browser adds by itself: being on
        this machine in loopback mode, unless a bearer token is sent (no page can make a
        browser send one to another origin). A session cookie joins here."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return self.loopback and not (scheme.lower() == "bearer" and token.strip())


def _not_local(scope: Scope, headers: Headers) -> str | None:
    for name in PROXY_HEADERS:
        if name in headers:
            return f"this request came through a proxy (it carries {name})"
    peer = scope.get("client")
    address = peer[0] if peer else None
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return f"this request came from {address or 'an unknown address'!s}"
    mapped = getattr(ip, "ipv4_mapped", None)
    if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
        return f"this request came from {ip}"
    return None
