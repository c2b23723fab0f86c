"""Folders: the subfolders of a folder, and moving a folder with everything under it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from filewallball.api.access import Reader, Writer
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.models.types import FOLDER_LENGTH
from filewallball.operations.folders import FolderSummary, list_folders, move_folder
from filewallball.operations.keys import Principal

router = APIRouter(prefix="/folders", tags=["folders"])
FolderText = Annotated[str, Field(max_length=4 * FOLDER_LENGTH)]


class FolderList(BaseModel):
    parent: str
    items: list[FolderSummary]


@router.get("", response_model=FolderList, responses=responses(400, 401, 422, 503))
async def folders(
    services: ServicesDep,
    viewer: Reader,
    parent: Annotated[str, Query(max_length=4 * FOLDER_LENGTH)] = "",
) -> FolderList:
    """The direct subfolders of ``parent`` (empty, the default: the top), by name. Each
    item's ``files`` and ``bytes`` count the live files in that subfolder and everything
    under it that the caller may see (a member: the public ones and their own); files
    directly in ``parent`` are in no item. A folder exists while a live file is in it
    or below it."""
    found = await services.read(
        list_folders, parent, public_only=not viewer.sees_all, owner_id=viewer.user_id
    )
    return FolderList(parent=parent, items=found)


class FolderMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: FolderText = Field(alias="from", description="The folder to move")
    target: FolderText = Field(
        alias="to", description="Its new path; empty: its contents go to the top"
    )


class FolderMoved(BaseModel):
    moved: int = Field(description="Files moved, deleted ones included")


@router.post(
    "/move",
    response_model=FolderMoved,
    responses=responses(400, 401, 403, 404, 422, 503),
)
async def move(
    services: ServicesDep, caller: Annotated[Principal, Writer], body: FolderMove
) -> FolderMoved:
    """Rename or move folder ``from`` and everything under it to ``to`` (``a/b`` to
    ``c`` puts ``a/b/x`` at ``c/x``), deleted files too, in one statement: all or
    nothing. Refused when ``to`` is ``from`` or below it; 404 when no file is in
    ``from`` or below it. Folders merge: files already under ``to`` stay there. A
    member moves their own files only."""
    owner_id = None if caller.role == "admin" else caller.user_id
    moved = await services.run(move_folder, body.source, body.target, owner_id=owner_id)
    return FolderMoved(moved=moved)
