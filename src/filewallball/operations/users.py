"""Accounts (SPEC section 8): usernames, roles and what each role may do, passwords,
quotas, deactivation, and the rule that keeps one active admin.

Nobody is deleted: deactivating a user stops their keys at once (``keys.holder_of``
checks the user on every use) and keeps their files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.models import FileInfo, User
from filewallball.models.accounts import ROLES
from filewallball.models.types import DISPLAY_NAME_LENGTH, MAX_BIGINT, USERNAME_LENGTH

Role = Literal["admin", "member"]
SCOPES = ("files:read", "files:write", "files:delete", "shares", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "member": frozenset(SCOPES) - {"admin"},
}
USERNAME = re.compile(rf"[a-z0-9._-]{{1,{USERNAME_LENGTH}}}")
MIN_PASSWORD_LENGTH = 8
# A longer one buys no strength, and hashing a huge one costs the server.
MAX_PASSWORD_LENGTH = 1024


class UserRecord(BaseModel):
    """A user as the API (``GET /users``) and the CLI (``users list --json``) show them;
    never their password hash."""

    model_config = ConfigDict(frozen=True)

    username: str
    display_name: str | None
    role: Role
    is_active: bool
    quota_bytes: int | None = Field(description="bytes; null: unlimited")
    quota_files: int | None = Field(description="files; null: unlimited")
    used_bytes: int
    used_files: int
    created_at: datetime
    updated_at: datetime


class UserChanges(BaseModel):
    """What ``PATCH /users/{username}`` and ``users set`` may change; a field left out
    stays as it is, a quota given as null becomes unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    password: str | None = None
    display_name: str | None = Field(None, max_length=DISPLAY_NAME_LENGTH)
    role: Role | None = None
    is_active: bool | None = None
    quota_bytes: int | None = Field(None, ge=0, le=MAX_BIGINT)
    quota_files: int | None = Field(None, ge=0, le=MAX_BIGINT)


def check_username(name: str) -> str:
    """The stored form of ``name`` (lowercased), or InvalidInput saying the rule."""
    lowered = name.lower()
    if not USERNAME.fullmatch(lowered):
        raise InvalidInput(
            f"username {name!r} must be 1-{USERNAME_LENGTH} characters of a-z, 0-9, '.', '_', '-'"
        )
    return lowered


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is unknown; roles: {', '.join(ROLES)}")
    return role


@cache
def _hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's parameters (RFC 9106's second recommendation): memory
    hard, so a stolen table of hashes is slow to attack even on GPUs."""
    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    return _hasher().hash(password)


def password_matches(user: User, password: str) -> bool:
    """False too for a user without a password, and for a password too long to hash."""
    if user.password_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(sa.select(User).where(User.username == username.lower()))


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def create_user(
    session: Session,
    username: str,
    *,
    password: str | None = None,
    display_name: str | None = None,
    role: str = "member",
    quota_bytes: int | None = None,
    quota_files: int | None = None,
) -> User:
    """A new active user; Conflict when the name (in any case) is taken."""
    name = check_username(username)
    if find_user(session, name) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(
        username=name,
        display_name=display_name,
        role=check_role(role),
        password_hash=None if password is None else hash_password(password),
        quota_bytes=_quota(quota_bytes, "quota_bytes"),
        quota_files=_quota(quota_files, "quota_files"),
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(f"user {name!r} already exists") from None
    return user


def change_user(session: Session, username: str, changes: UserChanges) -> User:
    """Apply ``changes``; Conflict when they would leave no active admin."""
    user = get_user(session, username)
    given = changes.model_dump(exclude_unset=True)
    for name in ("role", "is_active"):
        if name in given and given[name] is None:
            raise InvalidInput(f"{name} cannot be null")
    stays_admin = given.get("role", user.role) == "admin" and given.get("is_active", True)
    if user.role == "admin" and user.is_active and not stays_admin:
        _keep_another_admin(session, user)
    if "password" in given:
        password = given.pop("password")
        user.password_hash = None if password is None else hash_password(password)
    for name in ("quota_bytes", "quota_files"):
        if name in given:
            given[name] = _quota(given[name], name)
    if "role" in given:
        check_role(given["role"])
    for name, value in given.items():
        setattr(user, name, value)
    session.flush()
    return user


def deactivate_user(session: Session, username: str) -> User:
    return change_user(session, username, UserChanges(is_active=False))


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.flush()


def _keep_another_admin(session: Session, leaving: User) -> None:
    """Conflict unless another active admin remains. The active admins' rows are locked
    (MariaDB, PostgreSQL; SQLite has one writer) so that two admins demoting each other
    at once cannot both succeed."""
    admins = session.scalars(
        sa.select(User.id)
        .where(User.role == "admin", User.is_active == sa.true())
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not set(admins) - {leaving.id}:
        raise Conflict(f"{leaving.username!r} is the last active admin: make another admin first")


def _quota(value: int | None, name: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_BIGINT:
        raise InvalidInput(f"{name} must be a number from 0 to {MAX_BIGINT}, or none")
    return value


def usage(session: Session, user_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Bytes and files per user: live and trashed files alike, each its full size, as
    quotas count them (SPEC section 8)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(FileInfo.owner_id, sa.func.sum(FileInfo.file_size), sa.func.count())
        .where(FileInfo.owner_id.in_(ids))
        .group_by(FileInfo.owner_id)
    ).all()
    return {int(owner or 0): (int(size), int(count)) for owner, size, count in rows}


def unowned_usage(session: Session) -> tuple[int, int]:
    """Bytes and files of the admin's: uploaded with the admin token or before accounts."""
    size, count = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(FileInfo.file_size), 0), sa.func.count()).where(
            FileInfo.owner_id.is_(None)
        )
    ).one()
    return int(size), int(count)


def user_records(session: Session, users: Iterable[User]) -> list[UserRecord]:
    users = list(users)
    used = usage(session, (user.id for user in users))
    return [
        UserRecord.model_validate(
            {
                **{name: getattr(user, name) for name in _RECORDED},
                "used_bytes": used.get(user.id, (0, 0))[0],
                "used_files": used.get(user.id, (0, 0))[1],
            }
        )
        for user in users
    ]


def user_record(session: Session, user: User) -> UserRecord:
    return user_records(session, [user])[0]


def list_users(session: Session) -> list[UserRecord]:
    return user_records(session, session.scalars(sa.select(User).order_by(User.username)))


_RECORDED = (
    *("username", "display_name", "role", "is_active"),
    *("quota_bytes", "quota_files", "created_at", "updated_at"),
)
