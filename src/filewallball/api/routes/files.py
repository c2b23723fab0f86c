"""Files: list and search, metadata, changes, soft delete and restore, tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from filewallball.api.access import Caller, Deleter, Reader, Writer
from filewallball.api.dependencies import FileUUID, ServicesDep
from filewallball.api.errors import ApiError, responses
from filewallball.api.schemas import FileDetail, FileOut, FilePage, ModelJSON
from filewallball.api.visibility import (
    check_changeable,
    check_listing,
    searchable_by,
    visible_detail,
    visible_to,
)
from filewallball.models import FileInfo
from filewallball.models.types import (
    CATEGORY_NAME_LENGTH,
    FILENAME_LENGTH,
    FOLDER_LENGTH,
    TAG_NAME_LENGTH,
)
from filewallball.operations.activity import Activity
from filewallball.operations.files import (
    UNCHANGED,
    get_file,
    restore_file,
    soft_delete_file,
    update_file,
)
from filewallball.operations.keys import Principal
from filewallball.operations.records import file_record
from filewallball.operations.search import FileQuery, Page, search_files
from filewallball.operations.tags import add_tags, normalise_tags, remove_tags

router = APIRouter(prefix="/files", tags=["files"])
TagName = Annotated[str, Path(max_length=4 * TAG_NAME_LENGTH)]
Editor = Annotated[Principal, Writer]
Remover = Annotated[Principal, Deleter]
CHANGE_ERRORS = responses(400, 401, 403, 404, 422, 503)


@router.get("", response_model=FilePage, responses=responses(400, 401, 422, 503))
async def list_files(
    services: ServicesDep, caller: Caller, viewer: Reader, query: Annotated[FileQuery, Query()]
) -> ModelJSON:
    """Search with every filter combined; pages continue with ``cursor``. A member finds
    public files and their own; only the admin finds deleted ones."""
    query = searchable_by(viewer, query)

    def listed(session: Session) -> Page:
        check_listing(session, caller)
        return search_files(session, query, **visible_to(viewer))

    found = await services.read(listed)
    return ModelJSON(FilePage.of(found))


@router.get("/{file_uuid}", response_model=FileDetail, responses=responses(400, 401, 404, 503))
async def file_metadata(services: ServicesDep, viewer: Reader, file_uuid: FileUUID) -> ModelJSON:
    """Metadata with tags, category and activity counts."""
    file, activity = await services.read(visible_detail, file_uuid, viewer)
    return ModelJSON(FileDetail.with_activity(file, activity))


@router.get(
    "/{file_uuid}/activity",
    response_model=Activity,
    responses=responses(400, 401, 404, 503),
)
async def activity(services: ServicesDep, viewer: Reader, file_uuid: FileUUID) -> Activity:
    """Views, downloads, bytes served and the last access."""

    def counted(session: Session) -> Activity:
        return visible_detail(session, file_uuid, viewer)[1]

    return await services.read(counted)


class FileChanges(BaseModel):
    """Only the fields given change; ``"category": null`` removes the category."""

    model_config = ConfigDict(extra="forbid")

    original_filename: str | None = Field(None, min_length=1, max_length=FILENAME_LENGTH)
    category: str | None = Field(None, max_length=CATEGORY_NAME_LENGTH)
    is_public: bool | None = None
    folder: str | None = Field(
        None, max_length=4 * FOLDER_LENGTH, description="Move it there; empty: the top"
    )
    tags: list[Annotated[str, Field(max_length=4 * TAG_NAME_LENGTH)]] | None = Field(
        None, max_length=100, description="The file's complete set of tags"
    )


@router.patch(
    "/{file_uuid}",
    response_model=FileOut,
    responses=responses(400, 401, 403, 404, 422, 503),
)
async def change_file(
    services: ServicesDep, caller: Editor, file_uuid: FileUUID, changes: FileChanges
) -> FileOut:
    """Rename (the extension stays), (un)categorise, publish or hide, move, retag."""
    given = changes.model_fields_set
    for field in ("original_filename", "is_public", "folder", "tags"):
        if field in given and getattr(changes, field) is None:
            raise ApiError(422, "validation_error", f"{field} cannot be null")

    def change(session: Session) -> FileOut:
        check_changeable(session, file_uuid, caller)
        values: dict[str, Any] = {
            field: getattr(changes, field) if field in given else UNCHANGED
            for field in ("original_filename", "category", "is_public", "folder")
        }
        file = update_file(session, file_uuid, **values)
        if changes.tags is not None:
            wanted = set(normalise_tags(changes.tags))
            current = {tag.tag_name for tag in file.tags}
            remove_tags(session, file, current - wanted)
            add_tags(session, file, sorted(wanted - current))
        return FileOut.of(file_record(session, file_uuid))

    return await services.run(change)


@router.delete("/{file_uuid}", response_model=FileOut, responses=CHANGE_ERRORS)
async def delete_file(services: ServicesDep, caller: Remover, file_uuid: FileUUID) -> FileOut:
    """Soft delete: hidden everywhere until restored, removed for good by ``purge``."""
    return await services.run(_changed, caller, file_uuid, soft_delete_file)


@router.post("/{file_uuid}/restore", response_model=FileOut, responses=CHANGE_ERRORS)
async def restore(services: ServicesDep, caller: Remover, file_uuid: FileUUID) -> FileOut:
    return await services.run(_changed, caller, file_uuid, restore_file)


@router.put("/{file_uuid}/tags/{tag}", response_model=FileOut, responses=CHANGE_ERRORS)
async def tag_file(
    services: ServicesDep, caller: Editor, file_uuid: FileUUID, tag: TagName
) -> FileOut:
    return await services.run(_retagged, caller, file_uuid, add_tags, tag)


@router.delete("/{file_uuid}/tags/{tag}", response_model=FileOut, responses=CHANGE_ERRORS)
async def untag_file(
    services: ServicesDep, caller: Editor, file_uuid: FileUUID, tag: TagName
) -> FileOut:
    return await services.run(_retagged, caller, file_uuid, remove_tags, tag)


def _changed(
    session: Session,
    caller: Principal,
    file_uuid: str,
    change: Callable[[Session, str], object],
) -> FileOut:
    """Soft delete or restore, and the file as it is now, deleted or not."""
    check_changeable(session, file_uuid, caller)
    change(session, file_uuid)
    return FileOut.of(file_record(session, file_uuid, include_deleted=True))


def _retagged(
    session: Session,
    caller: Principal,
    file_uuid: str,
    change: Callable[[Session, FileInfo, list[str]], object],
    tag: str,
) -> FileOut:
    check_changeable(session, file_uuid, caller)
    change(session, get_file(session, file_uuid), [tag])
    return FileOut.of(file_record(session, file_uuid))
