"""Who is asking: the admin (bearer token) or anyone; and from which address.

With no admin token configured, FileWallBall serves only its own machine (``serve``
refuses other addresses), and every caller there is the admin.
"""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from filewallball.api.errors import ApiError
from filewallball.api.services import services_of
from filewallball.operations.clients import Client

__all__ = ["Admin", "IsAdmin", "MetricsReader", "client_of", "require_admin", "unauthorized"]

_bearer = HTTPBearer(auto_error=False, description="FILEWALLBALL_ADMIN_TOKEN")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def unauthorized(message: str) -> ApiError:
    """A 401 with the Bearer challenge (RFC 9110 requires one on every 401)."""
    return ApiError(401, "unauthorized", message, _CHALLENGE)


async def is_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """True for the admin; a token that is given but wrong is refused outright (401),
    so a mistyped token is noticed instead of silently reading as anonymous."""
    token = services_of(request).settings.admin_token
    if token is None:
        return True
    if credentials is None:
        return False
    expected = token.get_secret_value().encode()
    if not secrets.compare_digest(credentials.credentials.encode(), expected):
        raise unauthorized("the admin token is wrong")
    return True


IsAdmin = Annotated[bool, Depends(is_admin)]


async def require_admin(admin: IsAdmin) -> None:
    if not admin:
        raise unauthorized("this needs the admin token (Authorization: Bearer …)")


Admin = Depends(require_admin)


async def require_metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """``/metrics`` counts private files too: with a token set, it needs
    ``FILEWALLBALL_METRICS_TOKEN`` (for a scraper that should not be the admin) or the
    admin token. In loopback mode it is open, like everything else."""
    settings = services_of(request).settings
    if settings.admin_token is None:
        return
    if credentials is None:
        raise unauthorized("the metrics need the metrics token or the admin token")
    given = credentials.credentials.encode()
    tokens = (settings.metrics_token, settings.admin_token)
    # Both compared, whatever the first gives: the time taken says nothing of which matched.
    matches = [secrets.compare_digest(given, t.get_secret_value().encode()) for t in tokens if t]
    if not any(matches):
        raise unauthorized("the token is neither the metrics token nor the admin token")


MetricsReader = Depends(require_metrics_reader)


def client_of(request: Request) -> Client:
    """The caller's address: the peer's, or the one a trusted proxy says it forwarded."""
    peer = request.client.host if request.client else None
    address = peer
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer and _trusted(request, peer):
        # The right-most address not belonging to a trusted proxy is the client.
        for hop in reversed([part.strip() for part in forwarded.split(",")]):
            address = hop
            if not _trusted(request, hop):
                break
    return Client(
        ip=address,
        user_agent=request.headers.get("user-agent"),
        session_id=_session_id(request.headers.get("x-upload-session")),
    )


def _session_id(given: str | None) -> str:
    """The client's upload session id when it is a UUID, else a new one."""
    try:
        return str(uuid.UUID(given)) if given else str(uuid.uuid4())
    except ValueError:
        return str(uuid.uuid4())


def _trusted(request: Request, address: str) -> bool:
    proxies = services_of(request).settings.trusted_proxies
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)
