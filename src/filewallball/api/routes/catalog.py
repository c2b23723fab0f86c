"""Tags, categories, extension policies and settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from filewallball.api.access import Admin, Caller, IsAdmin
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.api.schemas import CategoryOut, SettingValue, TagCount
from filewallball.api.visibility import check_listing
from filewallball.models.types import (
    CATEGORY_NAME_LENGTH,
    DESCRIPTION_LENGTH,
    MAX_BIGINT,
    MIME_TYPE_LENGTH,
    SETTING_KEY_LENGTH,
)
from filewallball.operations.categories import create_category, list_categories, update_category
from filewallball.operations.extensions import ExtensionPolicy, list_policies, set_policy
from filewallball.operations.files import UNCHANGED
from filewallball.operations.system_settings import (
    JSONValue,
    list_settings,
    read_setting,
    set_setting,
)
from filewallball.operations.tags import popular_tags

router = APIRouter()
CategoryName = Annotated[str, Path(max_length=CATEGORY_NAME_LENGTH)]
SettingKey = Annotated[str, Path(max_length=SETTING_KEY_LENGTH)]


@router.get(
    "/tags", response_model=list[TagCount], tags=["tags"], responses=responses(401, 422, 503)
)
async def tags(
    services: ServicesDep,
    caller: Caller,
    admin: IsAdmin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TagCount]:
    """Active tags, most used first, with how many live files carry each (public files
    only, but for the admin)."""

    def counted(session: Session) -> list[TagCount]:
        check_listing(session, caller)
        found = popular_tags(session, limit=limit, public_only=not admin)
        return [TagCount.of(tag, files) for tag, files in found]

    return await services.read(counted)


@router.get("/categories", response_model=list[CategoryOut], tags=["categories"])
async def categories(services: ServicesDep, include_inactive: bool = False) -> list[CategoryOut]:
    def listed(session: Session) -> list[CategoryOut]:
        found = list_categories(session, include_inactive=include_inactive)
        return [CategoryOut.model_validate(category) for category in found]

    return await services.read(listed)


class NewCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=CATEGORY_NAME_LENGTH)
    description: str | None = Field(None, max_length=DESCRIPTION_LENGTH)


class CategoryChanges(BaseModel):
    """Only the fields given change; ``"is_active": false`` deactivates."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=CATEGORY_NAME_LENGTH)
    description: str | None = Field(None, max_length=DESCRIPTION_LENGTH)
    is_active: bool | None = None


@router.post(
    "/categories",
    status_code=201,
    response_model=CategoryOut,
    tags=["categories"],
    dependencies=[Admin],
    responses=responses(400, 401, 403, 409, 422, 503),
)
async def new_category(services: ServicesDep, category: NewCategory) -> CategoryOut:
    return await services.run(
        lambda session: CategoryOut.model_validate(
            create_category(session, category.name, category.description)
        )
    )


@router.patch(
    "/categories/{name}",
    response_model=CategoryOut,
    tags=["categories"],
    dependencies=[Admin],
    responses=responses(400, 401, 403, 404, 409, 422, 503),
)
async def change_category(
    services: ServicesDep, name: CategoryName, changes: CategoryChanges
) -> CategoryOut:
    given = changes.model_fields_set
    values: dict[str, Any] = {
        "new_name": changes.name if "name" in given and changes.name else UNCHANGED,
        "description": changes.description if "description" in given else UNCHANGED,
        "is_active": changes.is_active
        if "is_active" in given and changes.is_active is not None
        else UNCHANGED,
    }
    return await services.run(
        lambda session: CategoryOut.model_validate(update_category(session, name, **values))
    )


@router.get("/extensions", response_model=list[ExtensionPolicy], tags=["extensions"])
async def extensions(services: ServicesDep) -> list[ExtensionPolicy]:
    """The upload policy of every extension: allowed or not, its MIME type, its size limit."""
    return await services.read(
        lambda session: [
            ExtensionPolicy.model_validate(policy) for policy in list_policies(session)
        ]
    )


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mime_type: str = Field(max_length=MIME_TYPE_LENGTH)
    is_allowed: bool = True
    max_file_size: int | None = Field(None, ge=0, le=MAX_BIGINT)  # None: no cap of its own
    description: str | None = Field(None, max_length=DESCRIPTION_LENGTH)


@router.put(
    "/extensions/{extension}",
    response_model=ExtensionPolicy,
    tags=["extensions"],
    dependencies=[Admin],
    responses=responses(400, 401, 403, 409, 422, 503),
)
async def put_extension(
    services: ServicesDep, extension: Annotated[str, Path(max_length=32)], policy: Policy
) -> ExtensionPolicy:
    """Create or replace the upload policy of an extension."""
    return await services.run(
        lambda session: ExtensionPolicy.model_validate(
            set_policy(
                session,
                extension,
                mime_type=policy.mime_type,
                is_allowed=policy.is_allowed,
                max_file_size=policy.max_file_size,
                description=policy.description,
            )
        )
    )


@router.get(
    "/settings", response_model=dict[str, Any], tags=["settings"], responses=responses(401, 503)
)
async def settings(services: ServicesDep, admin: IsAdmin) -> dict[str, JSONValue]:
    """Public settings by key; every setting with the admin token."""
    return await services.read(lambda session: list_settings(session, include_private=admin))


@router.get(
    "/settings/{key}",
    response_model=SettingValue,
    tags=["settings"],
    dependencies=[Admin],
    responses=responses(400, 401, 403, 404, 503),
)
async def setting(services: ServicesDep, key: SettingKey) -> SettingValue:
    return await services.read(lambda session: SettingValue(value=read_setting(session, key)))


@router.put(
    "/settings/{key}",
    response_model=SettingValue,
    tags=["settings"],
    dependencies=[Admin],
    responses=responses(400, 401, 403, 422, 503),
)
async def put_setting(services: ServicesDep, key: SettingKey, body: SettingValue) -> SettingValue:
    """Set a setting; the settings FileWallBall reads are checked against their rules."""

    def write(session: Session) -> SettingValue:
        set_setting(session, key, body.value)
        return SettingValue(value=read_setting(session, key))

    return await services.run(write)
