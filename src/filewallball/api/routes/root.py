"""The root upload of transfer.sh: ``curl -T photo.jpg http://host/`` (curl sends ``PUT
/photo.jpg``) answers the file's absolute URL as one line of text, which downloads it
(``/download/{file_id}/photo.jpg``: its last segment is the name, for ``curl -O`` and
for the reader).

The root is shared with the service's own paths, present and to come; those names are
never uploads (``RESERVED_NAMES``), and a root path is only ever matched for ``PUT``, so
that GET of an unknown name stays a 404 instead of a 405.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from fastapi.routing import APIRoute
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Match
from starlette.status import HTTP_201_CREATED
from starlette.types import Scope

from filewallball.api.access import Reader, Writer
from filewallball.api.dependencies import FileUUID, ServicesDep
from filewallball.api.errors import responses
from filewallball.api.routes import content
from filewallball.api.routes.uploads import (
    RAW_BODY,
    UNLIMITED,
    UPLOAD_ERRORS,
    RawOptions,
    receive_raw_upload,
)
from filewallball.api.schemas import FileOut

# Every first path segment the service uses or has set aside (the web interface's
# pages, its share links); test_root_upload checks that the routes use no other.
RESERVED_NAMES = frozenset(
    {
        "api",
        "docs",
        "download",
        "files",
        "health",
        "login",
        "logout",
        "metrics",
        "openapi.json",
        "s",
        "u",
        "ui",
        "upload",
        "view",
    }
)
NAMED_DOWNLOAD = "/download/{file_id}/{filename}"


class RootUploadRoute(APIRoute):
    """``PUT /{filename}`` for any name but the reserved ones. Other methods do not
    match at all (a route that matched the path would make every unknown GET a 405),
    except OPTIONS, which is answered with the methods the path takes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.NONE or child_scope["path_params"]["filename"] in RESERVED_NAMES:
            return Match.NONE, {}
        if match is Match.PARTIAL and scope["method"] != "OPTIONS":
            return Match.NONE, {}
        return match, child_scope


router = APIRouter(tags=["root upload"])
upload_router = APIRouter(route_class=RootUploadRoute, tags=["root upload"])


def file_url(public_url: str | None, request: Request, file: FileOut) -> str:
    """The absolute URL that downloads ``file``: under ``FILEWALLBALL_PUBLIC_URL`` when
    it is set, else under the request's own (its Host vetted by the request guard)."""
    base = public_url or str(request.base_url)
    name = quote(file.original_filename, safe="")
    return f"{base.rstrip('/')}/download/{file.file_uuid}/{name}"


def wants_json(accept: str | None) -> bool:
    media = {part.partition(";")[0].strip().lower() for part in (accept or "").split(",")}
    return "application/json" in media


@upload_router.put(
    "/{filename}",
    status_code=HTTP_201_CREATED,
    dependencies=[Writer],
    responses={
        201: {
            "model": FileOut,
            "content": {"text/plain": {"schema": {"type": "string", "format": "uri"}}},
            "description": "The file's absolute URL, one line; its JSON when Accept asks "
            "for application/json",
        },
        **UPLOAD_ERRORS,
        **responses(405),
    },
    openapi_extra=RAW_BODY,
    max_body_size=UNLIMITED,
)
async def upload_at_root(
    *,
    services: ServicesDep,
    request: Request,
    filename: Annotated[str, Path(description="The new file's name")],
    options: RawOptions,
) -> Response:
    """Upload the request body as ``filename`` (``curl -T photo.jpg http://host/``), like
    ``PUT /api/v1/files/{filename}``; answers the URL that downloads it."""
    stored = await receive_raw_upload(services, request, filename, options)
    url = file_url(services.settings.public_url, request, stored)
    headers = {"Location": url}
    if wants_json(request.headers.get("accept")):
        return Response(
            stored.model_dump_json(), HTTP_201_CREATED, headers, media_type="application/json"
        )
    return PlainTextResponse(f"{url}\n", HTTP_201_CREATED, headers)


@router.get(
    NAMED_DOWNLOAD,
    response_class=FileResponse,
    responses={**content.DOWNLOAD_RESPONSES, **responses(400, 401, 404, 410, 416, 503)},
)
async def download_named(
    services: ServicesDep, request: Request, viewer: Reader, file_id: FileUUID, filename: str
) -> Response:
    """The file's bytes, as ``/api/v1/files/{file_id}/content`` serves them; ``filename``
    is not looked at (the UUID says which file)."""
    return await content.download(services, request, viewer, file_id)


@router.head(
    NAMED_DOWNLOAD,
    response_class=FileResponse,
    responses=content.HEAD_RESPONSES,
)
async def download_named_head(
    services: ServicesDep, request: Request, viewer: Reader, file_id: FileUUID, filename: str
) -> Response:
    """What a GET would answer, without the body; counts no download."""
    return await content.download_head(services, request, viewer, file_id)
