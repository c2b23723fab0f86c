"""Who is asking, and what they may do: the admin token (the superuser), an API key
(its user and effective scopes), or anyone; and from which address.

With no admin token configured, FileWallBall serves only its own machine (``serve``
refuses other addresses), and every caller there is the admin; accounts are inert.

A key is looked up at most once a second per worker (SPEC section 8: a revoked key, or
one of a deactivated user, stops within that second); its ``last_used_at`` is written in
batches, like views.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from filewallball.api.errors import BEARER_CHALLENGE, ApiError
from filewallball.api.services import Services, get_services
from filewallball.api.visibility import ANYONE, Viewer
from filewallball.models import utcnow
from filewallball.operations.clients import Client
from filewallball.operations.keys import Principal, holder_of, looks_like_key

_bearer = HTTPBearer(
    auto_error=False, description="FILEWALLBALL_ADMIN_TOKEN or an API key (fwb_...)"
)
KEY_CACHE_SECONDS = 1.0
MAX_CACHED_KEYS = 10_000


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, BEARER_CHALLENGE)


async def caller_of(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The principal of the request, None when anonymous. A credential that is given
    but wrong, expired or revoked is refused outright (401), so a mistake is noticed
    instead of silently reading as anonymous. Kept on ``request.state`` for
    ``client_of``, so that uploads and events know their user."""
    principal = await _resolve(services, credentials)
    request.state.principal = principal
    return principal


async def _resolve(
    services: Services, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    token = services.settings.admin_token
    if token is None:
        return Principal.superuser()
    if credentials is None:
        return None
    given = credentials.credentials
    if secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        return Principal.superuser()
    if not looks_like_key(given):
        raise unauthorized("the token is neither the admin token nor an API key")
    principal = await _key_holder(services, given)
    if principal.key_id is not None:
        services.key_uses.add((principal.key_id, utcnow()))
    return principal


async def _key_holder(services: Services, key: str) -> Principal:
    """The key's principal, from the database at most a second ago; Unauthorized (401)
    when the key does not work."""
    cache, now = services.principals, time.monotonic()
    digest = hashlib.sha256(key.encode()).hexdigest()
    cached = cache.get(digest)
    if cached is not None and cached[1] > now:
        return cached[0]
    principal = await services.read(holder_of, key)
    if len(cache) >= MAX_CACHED_KEYS:
        for stale in [name for name, (_, until) in cache.items() if until <= now]:
            del cache[stale]
        if len(cache) >= MAX_CACHED_KEYS:
            cache.clear()
    cache[digest] = (principal, now + KEY_CACHE_SECONDS)
    return principal


Caller = Annotated[Principal | None, Depends(caller_of)]


async def viewer_of(caller: Caller) -> Viewer:
    """What the caller reads beyond the public files: with ``files:read``, an admin
    every file, a member their own; without it, nothing more than anyone."""
    if caller is None or "files:read" not in caller.scopes:
        return ANYONE
    if caller.role == "admin":
        return Viewer(sees_all=True)
    return Viewer(user_id=caller.user_id)


Reader = Annotated[Viewer, Depends(viewer_of)]


async def is_admin(viewer: Reader) -> bool:
    """True for a caller who sees every file: the admin token, or an admin's key that
    may read files."""
    return viewer.sees_all


IsAdmin = Annotated[bool, Depends(is_admin)]


def needs(scope: str) -> Any:
    """A route dependency: 401 without a credential, 403 ``insufficient_scope`` naming
    ``scope`` when the credential lacks it."""

    async def check(caller: Caller) -> Principal:
        if caller is None:
            raise unauthorized(f"this needs a credential with {scope} (Authorization: Bearer …)")
        caller.require(scope)
        return caller

    return Depends(check)


Admin = needs("admin")
Writer = needs("files:write")
Deleter = needs("files:delete")


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
    agent, its upload session and its user (when ``caller_of`` found one)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        session_id=_session_id(request.headers.get("x-upload-session")),
        user_id=principal.user_id if principal else None,
    )


def _session_id(given: str | None) -> str:
    """The client's upload session id when it is a UUID, else a new one."""
    try:
        return str(uuid.UUID(given)) if given else str(uuid.uuid4())
    except ValueError:
        return str(uuid.uuid4())
