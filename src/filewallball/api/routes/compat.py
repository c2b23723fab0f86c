"""The routes of the earlier FileWallBall API, with its shapes, over the same operations
and the same access rules as ``/api/v1``. Nothing here is new behaviour: a thin
adapter, so that its clients and scripts keep working."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import FileResponse

from filewallball.api.access import Caller, Deleter, Reader, Writer
from filewallball.api.dependencies import FileUUID, ServicesDep
from filewallball.api.errors import responses
from filewallball.api.routes.content import DOWNLOAD_RESPONSES, VIEW_RESPONSES
from filewallball.api.routes.content import download as native_download
from filewallball.api.routes.content import view as native_view
from filewallball.api.routes.uploads import UNLIMITED, receive_form_upload
from filewallball.api.visibility import (
    check_changeable,
    check_listing,
    searchable_by,
    visible_detail,
    visible_to,
)
from filewallball.operations.files import soft_delete_file
from filewallball.operations.keys import Principal
from filewallball.operations.records import FileRecord
from filewallball.operations.search import MAX_PAGE_SIZE, FileQuery, numbered_page

router = APIRouter(tags=["earlier API"])
SORTS = {"uploaded_at": "created_at", "filename": "original_filename", "size": "file_size"}


def _urls(file_id: str) -> dict[str, str]:
    return {"download_url": f"/download/{file_id}", "view_url": f"/view/{file_id}"}


class UploadedFile(BaseModel):
    file_id: str
    filename: str
    file_size: int
    upload_time: datetime
    download_url: str
    view_url: str
    message: str


class FileInfoOut(BaseModel):
    file_id: str
    filename: str
    file_size: int
    mime_type: str
    upload_time: datetime
    file_hash: str
    download_count: int
    download_url: str
    view_url: str


class ListedFile(BaseModel):
    file_id: str
    filename: str
    file_size: int
    mime_type: str
    upload_time: datetime
    download_url: str
    view_url: str

    @classmethod
    def of(cls, file: FileRecord) -> ListedFile:
        return cls(
            file_id=file.file_uuid,
            filename=file.original_filename,
            file_size=file.file_size,
            mime_type=file.mime_type,
            upload_time=file.created_at,
            **_urls(file.file_uuid),
        )


class Pagination(BaseModel):
    total: int
    page: int
    limit: int
    total_pages: int
    has_next: bool
    has_prev: bool


class FileList(BaseModel):
    files: list[ListedFile]
    pagination: Pagination


class Deleted(BaseModel):
    message: str
    file_id: str


@router.post(
    "/upload",
    response_model=UploadedFile,
    max_body_size=UNLIMITED,
    dependencies=[Writer],
    responses=responses(400, 401, 403, 404, 413, 415, 422, 503, 507),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload(services: ServicesDep, request: Request) -> UploadedFile:
    """Upload one file (multipart ``file``); answers 200, as the earlier API did."""
    stored = await receive_form_upload(services, request)
    return UploadedFile(
        file_id=stored.file_uuid,
        filename=stored.original_filename,
        file_size=stored.file_size,
        upload_time=stored.created_at,
        message="File uploaded successfully",
        **_urls(stored.file_uuid),
    )


@router.get("/files", response_model=FileList, responses=responses(400, 401, 422, 503))
async def list_files(
    *,
    services: ServicesDep,
    caller: Caller,
    viewer: Reader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    sort_by: Literal["uploaded_at", "filename", "size"] = "uploaded_at",
    order: Literal["asc", "desc"] = "desc",
) -> FileList:
    query = searchable_by(viewer, FileQuery(sort=SORTS[sort_by], order=order, limit=limit))

    def listed(session: Session) -> FileList:
        check_listing(session, caller)
        items, total = numbered_page(session, query, page, **visible_to(viewer))
        pages = (total + limit - 1) // limit
        return FileList(
            files=[ListedFile.of(file) for file in items],
            pagination=Pagination(
                total=total,
                page=page,
                limit=limit,
                total_pages=pages,
                has_next=page < pages,
                has_prev=page > 1,
            ),
        )

    return await services.read(listed)


@router.get("/files/{file_id}", response_model=FileInfoOut, responses=responses(400, 401, 404, 503))
async def file_info(services: ServicesDep, viewer: Reader, file_id: FileUUID) -> FileInfoOut:
    def described(session: Session) -> FileInfoOut:
        file, activity = visible_detail(session, file_id, viewer)
        return FileInfoOut(
            file_id=file.file_uuid,
            filename=file.original_filename,
            file_size=file.file_size,
            mime_type=file.mime_type,
            upload_time=file.created_at,
            file_hash=file.file_hash,
            download_count=activity.downloads,
            **_urls(file.file_uuid),
        )

    return await services.read(described)


@router.delete(
    "/files/{file_id}",
    response_model=Deleted,
    responses=responses(400, 401, 403, 404, 503),
)
async def delete(
    services: ServicesDep, caller: Annotated[Principal, Deleter], file_id: FileUUID
) -> Deleted:
    def delete(session: Session) -> str:
        check_changeable(session, file_id, caller)
        return soft_delete_file(session, file_id).file_uuid

    deleted = await services.run(delete)
    return Deleted(message="File deleted successfully", file_id=deleted)


@router.get(
    "/download/{file_id}",
    response_class=FileResponse,
    responses={**DOWNLOAD_RESPONSES, **responses(400, 401, 404, 410, 416, 503)},
)
async def download(
    services: ServicesDep, request: Request, viewer: Reader, file_id: FileUUID
) -> Response:
    return await native_download(services, request, viewer, file_id)


@router.get(
    "/view/{file_id}",
    response_class=FileResponse,
    responses={**VIEW_RESPONSES, **responses(400, 401, 404, 410, 416, 503)},
)
async def view(
    services: ServicesDep, request: Request, viewer: Reader, file_id: FileUUID
) -> Response:
    return await native_view(services, request, viewer, file_id)
