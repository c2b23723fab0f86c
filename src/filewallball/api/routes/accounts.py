"""Accounts over HTTP (SPEC section 8): ``/me``, ``/users`` (admin) and ``/keys`` (own;
admin: everyone's). Answers never carry a hash or a secret but a new key, once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from filewallball.api.access import Admin, Caller, unauthorized
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.errors import Forbidden, InvalidInput
from filewallball.models import User
from filewallball.models.types import (
    DISPLAY_NAME_LENGTH,
    KEY_NAME_LENGTH,
    MAX_BIGINT,
    USERNAME_LENGTH,
)
from filewallball.operations import keys, users
from filewallball.operations.keys import KeyRecord, NewKey, Principal
from filewallball.operations.users import (
    MAX_PASSWORD_LENGTH,
    SCOPES,
    Role,
    UserChanges,
    UserRecord,
)

router = APIRouter(tags=["accounts"])
Username = Annotated[str, Path(max_length=4 * USERNAME_LENGTH)]
Password = Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH)]
AdminCaller = Annotated[Principal, Admin]


class Me(BaseModel):
    """The caller; the admin token has no username, the admin role and every scope."""

    username: str | None
    display_name: str | None
    role: Role
    scopes: list[str]
    quota_bytes: int | None
    quota_files: int | None
    used_bytes: int
    used_files: int


class UserList(BaseModel):
    items: list[UserRecord]


class KeyList(BaseModel):
    items: list[KeyRecord]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=4 * USERNAME_LENGTH)
    password: Password | None = None
    display_name: str | None = Field(None, max_length=DISPLAY_NAME_LENGTH)
    role: Role = "member"
    quota_bytes: int | None = Field(None, ge=0, le=MAX_BIGINT)
    quota_files: int | None = Field(None, ge=0, le=MAX_BIGINT)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=KEY_NAME_LENGTH)
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES))
    expires_at: AwareDatetime | None = None
    user: str | None = Field(
        None, max_length=4 * USERNAME_LENGTH, description="admin only: another user's key"
    )


def _signed_in(caller: Principal | None) -> Principal:
    if caller is None:
        raise unauthorized("this needs a credential (Authorization: Bearer …)")
    return caller


def _own_user(session: Session, caller: Principal) -> User:
    """The caller's account; the admin token has none."""
    if caller.username is None:
        raise InvalidInput("the admin token has no account of its own: name a user")
    return users.get_user(session, caller.username)


@router.get("/me", response_model=Me, responses=responses(401, 503))
async def me(services: ServicesDep, caller: Caller) -> Me:
    principal = _signed_in(caller)

    def described(session: Session) -> Me:
        scopes = [scope for scope in SCOPES if scope in principal.scopes]
        if principal.username is None:
            used_bytes, used_files = users.unowned_usage(session)
            return Me(
                username=None,
                display_name=None,
                role="admin",
                scopes=scopes,
                quota_bytes=None,
                quota_files=None,
                used_bytes=used_bytes,
                used_files=used_files,
            )
        record = users.user_record(session, _own_user(session, principal))
        return Me(**record.model_dump(include=set(Me.model_fields)), scopes=scopes)

    return await services.read(described)


@router.put("/me/password", status_code=204, responses=responses(400, 401, 403, 422, 503))
async def change_own_password(
    services: ServicesDep, caller: Caller, change: PasswordChange
) -> None:
    """Needs the current password: a stolen key alone cannot take the account over."""
    principal = _signed_in(caller)

    def changed(session: Session) -> None:
        user = _own_user(session, principal)
        if not users.password_matches(user, change.current_password):
            raise Forbidden("the current password is wrong")
        users.set_password(session, user, change.new_password)

    await services.run(changed)


@router.get("/users", response_model=UserList, responses=responses(401, 403, 503))
async def list_users(services: ServicesDep, _caller: AdminCaller) -> UserList:
    return UserList(items=await services.read(users.list_users))


@router.post(
    "/users",
    status_code=201,
    response_model=UserRecord,
    responses=responses(400, 401, 403, 409, 422, 503),
)
async def add_user(services: ServicesDep, _caller: AdminCaller, new: NewUser) -> UserRecord:
    def added(session: Session) -> UserRecord:
        user = users.create_user(session, new.username, **new.model_dump(exclude={"username"}))
        return users.user_record(session, user)

    return await services.run(added)


@router.get(
    "/users/{username}",
    response_model=UserRecord,
    responses=responses(400, 401, 403, 404, 422, 503),
)
async def get_user(services: ServicesDep, _caller: AdminCaller, username: Username) -> UserRecord:
    return await services.read(
        lambda session: users.user_record(session, users.get_user(session, username))
    )


@router.patch(
    "/users/{username}",
    response_model=UserRecord,
    responses=responses(400, 401, 403, 404, 409, 422, 503),
)
async def change_user(
    services: ServicesDep, _caller: AdminCaller, username: Username, changes: UserChanges
) -> UserRecord:
    """Only the fields given change; the last active admin stays one (409)."""
    changed = await services.run(
        lambda session: users.user_record(session, users.change_user(session, username, changes))
    )
    services.principals.clear()  # a new role or state counts at once on this worker
    return changed


@router.delete(
    "/users/{username}",
    response_model=UserRecord,
    responses=responses(400, 401, 403, 404, 409, 422, 503),
)
async def deactivate_user(
    services: ServicesDep, _caller: AdminCaller, username: Username
) -> UserRecord:
    """Deactivates: their keys stop at once, their files stay; ``PATCH {"is_active":
    true}`` brings them back."""
    deactivated = await services.run(
        lambda session: users.user_record(session, users.deactivate_user(session, username))
    )
    services.principals.clear()
    return deactivated


@router.post(
    "/keys",
    status_code=201,
    response_model=NewKey,
    responses=responses(400, 401, 403, 404, 422, 503),
)
async def create_key(services: ServicesDep, caller: Caller, wanted: KeyRequest) -> NewKey:
    """A key of the caller's own (an admin may name another ``user``), with at most the
    caller's own scopes; the answer is the only time the key is shown."""
    principal = _signed_in(caller)

    def made(session: Session) -> NewKey:
        if wanted.user is None:
            owner = _own_user(session, principal)
        elif not principal.is_admin and wanted.user.lower() != principal.username:
            raise Forbidden("only an admin makes keys for another user")
        else:
            owner = users.get_user(session, wanted.user)
        return keys.create_key(
            session,
            owner,
            wanted.name,
            wanted.scopes,
            granted=principal.scopes,
            expires_at=wanted.expires_at,
        )

    return await services.run(made)


@router.get("/keys", response_model=KeyList, responses=responses(401, 503))
async def list_keys(services: ServicesDep, caller: Caller) -> KeyList:
    """The caller's keys (an admin's: everyone's), revoked ones too."""
    principal = _signed_in(caller)

    def listed(session: Session) -> KeyList:
        owner = None if principal.is_admin else _own_user(session, principal)
        return KeyList(items=keys.list_keys(session, owner))

    return await services.read(listed)


@router.delete(
    "/keys/{key_id}", response_model=KeyRecord, responses=responses(400, 401, 404, 422, 503)
)
async def revoke_key(
    services: ServicesDep, caller: Caller, key_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)]
) -> KeyRecord:
    """Stops the key at once on this worker, within a second on the others; another
    user's key is 404 unless the caller is an admin."""
    principal = _signed_in(caller)

    def revoked(session: Session) -> KeyRecord:
        owner = None if principal.is_admin else _own_user(session, principal)
        return keys.revoke_key(session, key_id, owner)

    record = await services.run(revoked)
    services.principals.clear()
    return record
