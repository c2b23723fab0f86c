"""Uploads: multipart ``POST /files``, raw ``PUT /files/{filename}`` (``curl -T``) and raw
``PUT /files`` with the name in ``Content-Disposition`` or ``?filename=`` (``curl -T FILE
URL`` with no slash at the end: curl then sends no name)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.status import HTTP_201_CREATED

from filewallball.api.access import Writer, client_of
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.api.multipart import receive_multipart
from filewallball.api.receiving import file_out, parse_declared_size, receiving, split_tags
from filewallball.api.schemas import FileOut
from filewallball.api.services import Services
from filewallball.errors import InvalidInput
from filewallball.models.types import (
    CATEGORY_NAME_LENGTH,
    FILENAME_LENGTH,
    FOLDER_LENGTH,
    MAX_BIGINT,
)

router = APIRouter(prefix="/files", tags=["uploads"])
UPLOAD_ERRORS = responses(400, 401, 403, 404, 413, 415, 422, 503, 507)
UNLIMITED = MAX_BIGINT  # the upload's own limits apply while it streams (uploading.Upload)

FOLDER_HELP = "The folder to store the file in: names joined by /; empty (the default) for the top"
REPLACE_HELP = "Move the live files of the same name in the same folder to the trash"
_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "tags": {"type": "string", "description": "comma-separated"},
                        "category": {"type": "string"},
                        "is_public": {"type": "boolean", "default": True},
                        "folder": {"type": "string", "description": FOLDER_HELP},
                        "replace": {
                            "type": "boolean",
                            "default": False,
                            "description": REPLACE_HELP,
                        },
                    },
                }
            }
        },
    }
}
RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def parse_bool(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise InvalidInput(f"{name} must be true or false, not {value[:40]!r}")


async def receive_form_upload(services: Services, request: Request) -> FileOut:
    """The multipart upload itself; the earlier API's ``POST /upload`` uses it too. The
    folder and ``replace`` may be form fields or query parameters (the field wins)."""
    query = request.query_params
    async with receiving(services, client_of(request)) as upload:

        async def start_file(filename: str, fields: dict[str, str]) -> None:
            await upload.start(
                filename,
                tags=split_tags(fields.get("tags")),
                category=fields.get("category") or None,
                is_public=parse_bool(fields.get("is_public"), "is_public") is not False,
                folder=fields.get("folder", query.get("folder", "")),
                replace=parse_bool(fields.get("replace", query.get("replace")), "replace") is True,
            )

        fields = await receive_multipart(
            request.headers.get("content-type", ""), request.stream(), start_file, upload.write
        )
        return await upload.finish(
            file_out,
            tags=split_tags(fields["tags"]) if "tags" in fields else None,
            category=fields.get("category") or None,
            is_public=parse_bool(fields.get("is_public"), "is_public"),
            folder=fields.get("folder"),
            replace=parse_bool(fields.get("replace"), "replace"),
        )


@router.post(
    "",
    status_code=HTTP_201_CREATED,
    response_model=FileOut,
    dependencies=[Writer],
    responses=UPLOAD_ERRORS,
    openapi_extra=_MULTIPART_BODY,
    max_body_size=UNLIMITED,
)
async def upload_form(services: ServicesDep, request: Request) -> FileOut:
    """Upload one file as ``multipart/form-data``: the ``file`` part, and optionally
    ``tags`` (comma-separated), ``category``, ``is_public``, ``folder`` and ``replace``
    (``folder`` and ``replace`` may be query parameters instead)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidInput("send the file as multipart/form-data, or PUT it raw")
    return await receive_form_upload(services, request)


@dataclass(frozen=True)
class RawUploadOptions:
    """What a raw upload's query says besides its name."""

    tags: list[str]
    category: str | None
    is_public: bool
    folder: str
    replace: bool


def raw_upload_options(
    tags: Annotated[str | None, Query(description="comma-separated", max_length=4096)] = None,
    category: Annotated[str | None, Query(max_length=CATEGORY_NAME_LENGTH)] = None,
    is_public: bool = True,
    folder: Annotated[str, Query(description=FOLDER_HELP, max_length=4 * FOLDER_LENGTH)] = "",
    replace: Annotated[bool, Query(description=REPLACE_HELP)] = False,
) -> RawUploadOptions:
    return RawUploadOptions(split_tags(tags), category, is_public, folder, replace)


RawOptions = Annotated[RawUploadOptions, Depends(raw_upload_options)]


async def receive_raw_upload(
    services: Services, request: Request, filename: str, options: RawUploadOptions
) -> FileOut:
    """The request body as a file named ``filename``; every raw upload route uses it."""
    async with receiving(services, client_of(request)) as upload:
        await upload.start(
            filename,
            tags=options.tags,
            category=options.category,
            is_public=options.is_public,
            folder=options.folder,
            replace=options.replace,
            declared_size=parse_declared_size(request.headers.get("content-length")),
        )
        async for chunk in request.stream():
            await upload.write(chunk)
        return await upload.finish(file_out)


# What the routes of /files that take a raw body declare.
_RAW_UPLOAD: dict[str, Any] = {
    "status_code": HTTP_201_CREATED,
    "response_model": FileOut,
    "dependencies": [Writer],
    "responses": UPLOAD_ERRORS,
    "openapi_extra": RAW_BODY,
    "max_body_size": UNLIMITED,
}


# One template for /files/<segment>, whatever the method (OpenAPI allows no two
# templates of the same shape): for PUT the segment is the new file's name.
@router.put("/{file_uuid}", **_RAW_UPLOAD)
async def upload_raw(
    *,
    services: ServicesDep,
    request: Request,
    filename: Annotated[
        str,
        Path(
            alias="file_uuid",
            description="On PUT, the new file's name, extension included "
            "(the other methods of this path take a file's UUID)",
        ),
    ],
    options: RawOptions,
) -> FileOut:
    """Upload the request body as a file named ``filename`` (``curl -T photo.jpg URL/``)."""
    return await receive_raw_upload(services, request, filename, options)


@router.put("", **_RAW_UPLOAD)
async def upload_unnamed(
    *,
    services: ServicesDep,
    request: Request,
    filename: Annotated[
        str | None,
        Query(
            max_length=FILENAME_LENGTH,
            description="The name, when Content-Disposition gives none",
        ),
    ] = None,
    options: RawOptions,
) -> FileOut:
    """Upload the request body (``curl -T photo.jpg URL``, no slash at the end). Its name
    is the ``filename`` of ``Content-Disposition``, else ``filename``, else
    ``upload-<8 hex digits>``."""
    disposition = request.headers.get("content-disposition")
    named = (disposition and filename_in_disposition(disposition)) or filename
    return await receive_raw_upload(services, request, named or unnamed_upload_name(), options)


def unnamed_upload_name() -> str:
    return f"upload-{secrets.token_hex(4)}"


def filename_in_disposition(value: str) -> str | None:
    """The ``filename`` of a Content-Disposition header (RFC 6266): the RFC 8187
    ``filename*`` when given (in any charset Python knows), else ``filename``, whose raw
    bytes must be UTF-8, as a form's file name must."""
    header = Message()
    header["Content-Disposition"] = value
    given = [v for k, v in header.get_params([], "content-disposition")[1:] if k == "filename"]
    chosen = next((v for v in given if isinstance(v, tuple)), given[0] if given else None)
    try:
        if isinstance(chosen, tuple):
            return collapse_rfc2231_value(chosen, errors="strict")
        # Starlette reads header bytes as Latin-1: undone, to read them as UTF-8.
        return chosen.encode("latin-1").decode() if chosen is not None else None
    except UnicodeError:
        raise InvalidInput("the filename of Content-Disposition is not valid UTF-8") from None
