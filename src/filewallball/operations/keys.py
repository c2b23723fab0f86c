"""API keys (SPEC section 8): ``fwb_<prefix>_<secret>``, scoped, optionally expiring,
revocable, shown once.

The prefix (8 characters of ``[a-z0-9]``, unique) finds the row; the secret (43 base62
characters from ``secrets``, about 256 bits) is stored only as its SHA-256. A key's
effective scopes are its own ∩ what its user's role allows *now*, so a demoted admin's
keys lose ``admin`` at once, and a key of a deactivated user stops at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session, joinedload

from filewallball.errors import InsufficientScope, InvalidInput, NotFound, Unauthorized
from filewallball.models import ApiKey, User, utcnow
from filewallball.models.types import KEY_NAME_LENGTH, KEY_PREFIX_LENGTH
from filewallball.operations.users import ROLE_SCOPES, SCOPES

KEY_START = "fwb_"
SECRET_LENGTH = 43
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_FORMAT = re.compile(
    rf"{KEY_START}([a-z0-9]{{{KEY_PREFIX_LENGTH}}})_([A-Za-z0-9]{{{SECRET_LENGTH}}})"
)


@dataclass(frozen=True)
class Principal:
    """Who a credential speaks for and what it may do. The admin token (and every caller
    in loopback mode) is the superuser: no user, role admin, every scope."""

    user_id: int | None
    username: str | None
    role: str
    scopes: frozenset[str]
    key_id: int | None = None

    @classmethod
    def superuser(cls) -> Principal:
        return cls(None, None, "admin", frozenset(SCOPES))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def require(self, scope: str, what: str = "this") -> None:
        if scope not in self.scopes:
            raise InsufficientScope(scope, what)


class KeyRecord(BaseModel):
    """A key as ``GET /keys`` and ``keys list`` show it: never its secret or hash."""

    model_config = ConfigDict(frozen=True)

    id: int
    user: str
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class NewKey(BaseModel):
    """The answer to a key's creation, the only one that carries the key itself."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    key: str


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in their canonical order, or InvalidInput naming an unknown one."""
    given = set(scopes)
    if not given:
        raise InvalidInput(f"a key needs at least one scope: {', '.join(SCOPES)}")
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise InvalidInput(f"unknown scope {unknown[0]!r}; scopes: {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in given]


def hash_secret(secret: str) -> str:
    """SHA-256, not a password KDF: the secret is 256 random bits, so no guess list or
    brute force gets anywhere whatever the hash costs, and a fast hash lets every
    request check its key in microseconds."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session,
    user: User,
    name: str,
    scopes: Iterable[str],
    *,
    granted: frozenset[str],
    expires_at: datetime | None = None,
) -> NewKey:
    """A new key of ``user``. ``granted`` is what the creating credential may do: no key
    can mint a stronger one (InsufficientScope names the first scope missing), and a
    key cannot have what its user's role does not allow."""
    label = name.strip()
    if not 1 <= len(label) <= KEY_NAME_LENGTH:
        raise InvalidInput(f"a key's name must have 1-{KEY_NAME_LENGTH} characters")
    wanted = check_scopes(scopes)
    for scope in wanted:
        if scope not in granted:
            raise InsufficientScope(scope, f"a key with {scope}")
    beyond_role = [scope for scope in wanted if scope not in ROLE_SCOPES[user.role]]
    if beyond_role:
        raise InvalidInput(f"a {user.role}'s key cannot have {beyond_role[0]}")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("a key's expires_at must be in the future")
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    key = ApiKey(
        user=user,
        name=label,
        prefix=_free_prefix(session),
        secret_hash=hash_secret(secret),
        scopes=" ".join(wanted),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return NewKey(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=wanted,
        expires_at=key.expires_at,
        key=f"{KEY_START}{key.prefix}_{secret}",
    )


def _free_prefix(session: Session) -> str:
    """A prefix no key has: 36**8 of them make a repeat rare, never impossible."""
    while True:
        prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(KEY_PREFIX_LENGTH))
        if session.scalar(sa.select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            return prefix


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_START)


def holder_of(session: Session, token: str) -> Principal:
    """The principal of an API key, or Unauthorized saying why it is refused: unknown,
    revoked, expired, or its user deactivated."""
    found = KEY_FORMAT.fullmatch(token)
    key = None
    if found:
        key = session.scalar(
            sa.select(ApiKey).options(joinedload(ApiKey.user)).where(ApiKey.prefix == found[1])
        )
    # Compared even when the prefix is unknown: the time taken does not say which prefixes exist.
    expected = key.secret_hash if key else "0" * 64
    secret = found[2] if found else ""
    if not hmac.compare_digest(hash_secret(secret), expected) or key is None:
        raise Unauthorized("the API key is unknown")
    if key.revoked_at is not None:
        raise Unauthorized("the API key was revoked")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise Unauthorized("the API key has expired")
    if not key.user.is_active:
        raise Unauthorized(f"the account {key.user.username!r} is deactivated")
    return Principal(
        user_id=key.user_id,
        username=key.user.username,
        role=key.user.role,
        scopes=effective_scopes(key),
        key_id=key.id,
    )


def effective_scopes(key: ApiKey) -> frozenset[str]:
    return frozenset(key.scopes.split()) & ROLE_SCOPES[key.user.role]


def list_keys(session: Session, user: User | None = None) -> list[KeyRecord]:
    """The keys of ``user``, or everyone's; revoked ones too (the record of who had what)."""
    query = sa.select(ApiKey).options(joinedload(ApiKey.user)).order_by(ApiKey.id)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return [_record(key) for key in session.scalars(query)]


def revoke_key(session: Session, key_id: int, user: User | None = None) -> KeyRecord:
    """Revoke the key (of ``user`` when given; another's is NotFound, as if missing).
    Revoking a revoked key changes nothing."""
    key = session.get(ApiKey, key_id)
    if key is None or (user is not None and key.user_id != user.id):
        raise NotFound(f"no key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return _record(key)


def record_key_uses(session: Session, uses: Sequence[tuple[int, datetime]]) -> None:
    """Move each key's ``last_used_at`` to its latest use in ``uses`` (never back): one
    UPDATE per key per batch, instead of a write per request."""
    latest: dict[int, datetime] = {}
    for key_id, at in uses:
        latest[key_id] = max(at, latest.get(key_id, at))
    for key_id, at in sorted(latest.items()):
        session.execute(
            sa.update(ApiKey)
            .where(
                ApiKey.id == key_id,
                sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at),
            )
            .values(last_used_at=at)
        )


def _record(key: ApiKey) -> KeyRecord:
    return KeyRecord(
        id=key.id,
        user=key.user.username,
        name=key.name,
        prefix=key.prefix,
        scopes=key.scopes.split(),
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        created_at=key.created_at,
    )
