"""Uploads: multipart ``POST /files`` and raw ``PUT /files/{filename}`` (``curl -T``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.status import HTTP_201_CREATED

from filewallball.api.access import Admin, client_of
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.api.multipart import receive_multipart
from filewallball.api.receiving import file_out, parse_declared_size, receiving, split_tags
from filewallball.api.schemas import FileOut
from filewallball.api.services import Services
from filewallball.errors import InvalidInput

router = APIRouter(prefix="/files", tags=["uploads"])
UPLOAD_ERRORS = responses(400, 401, 404, 413, 415, 422, 503, 507)
UNLIMITED = 2**63 - 1  # the upload's own limits apply while it streams (uploading.Upload)

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
                    },
                }
            }
        },
    }
}
_RAW_BODY: dict[str, Any] = {
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
    """The multipart upload itself; the earlier API's ``POST /upload`` uses it too."""
    async with receiving(services, client_of(request)) as upload:

        async def start_file(filename: str, fields: dict[str, str]) -> None:
            await upload.start(
                filename,
                tags=split_tags(fields.get("tags")),
                category=fields.get("category") or None,
                is_public=parse_bool(fields.get("is_public"), "is_public") is not False,
            )

        fields = await receive_multipart(
            request.headers.get("content-type", ""), request.stream(), start_file, upload.write
        )
        return await upload.finish(
            file_out,
            tags=split_tags(fields["tags"]) if "tags" in fields else None,
            category=fields.get("category") or None,
            is_public=parse_bool(fields.get("is_public"), "is_public"),
        )


@router.post(
    "",
    status_code=HTTP_201_CREATED,
    response_model=FileOut,
    dependencies=[Admin],
    responses=UPLOAD_ERRORS,
    openapi_extra=_MULTIPART_BODY,
    max_body_size=UNLIMITED,
)
async def upload_form(services: ServicesDep, request: Request) -> FileOut:
    """Upload one file as ``multipart/form-data``: the ``file`` part, and optionally
    ``tags`` (comma-separated), ``category`` and ``is_public``."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidInput("send the file as multipart/form-data, or PUT it raw")
    return await receive_form_upload(services, request)


@router.put(
    # One template for /files/<segment>, whatever the method (OpenAPI allows no two
    # templates of the same shape): for PUT the segment is the new file's name.
    "/{file_uuid}",
    status_code=HTTP_201_CREATED,
    response_model=FileOut,
    dependencies=[Admin],
    responses=UPLOAD_ERRORS,
    openapi_extra=_RAW_BODY,
    max_body_size=UNLIMITED,
)
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
    tags: Annotated[str | None, Query(description="comma-separated", max_length=4096)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    is_public: bool = True,
) -> FileOut:
    """Upload the request body as a file named ``filename`` (``curl -T photo.jpg URL/``)."""
    async with receiving(services, client_of(request)) as upload:
        await upload.start(
            filename,
            tags=split_tags(tags),
            category=category,
            is_public=is_public,
            declared_size=parse_declared_size(request.headers.get("content-length")),
        )
        async for chunk in request.stream():
            await upload.write(chunk)
        return await upload.finish(file_out)
