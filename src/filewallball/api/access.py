"""Who is asking: the admin (bearer token) or anyone; and from which address.

With no admin token configured, FileWallBall serves only its own machine (``serve``
refuses other addresses), and every caller there is the admin.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from filewallball.api.errors import BEARER_CHALLENGE, ApiError
from filewallball.api.services import Services, get_services
from filewallball.operations.clients import Client

_bearer = HTTPBearer(auto_error=False, description="FILEWALLBALL_ADMIN_TOKEN")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, BEARER_CHALLENGE)


async def is_admin(
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """True for the admin; a token that is given but wrong is refused outright (401),
    so a mistyped token is noticed instead of silently reading as anonymous."""
    token = services.settings.admin_token
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
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """``/metrics`` counts private files too: with a token set, it needs
    ``FILEWALLBALL_METRICS_TOKEN`` (for a scraper that should not be the admin) or the
    admin token. In loopback mode it is open, like everything else."""
    settings = services.settings
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
    """The caller: its address (a trusted proxy's client, see ``api.proxies``), its user
    agent and its upload session."""
    return Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        session_id=_session_id(request.headers.get("x-upload-session")),
    )


def _session_id(given: str | None) -> str:
    """The client's upload session id when it is a UUID, else a new one."""
    try:
        return str(uuid.UUID(given)) if given else str(uuid.uuid4())
    except ValueError:
        return str(uuid.uuid4())
