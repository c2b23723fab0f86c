"""The bare apps ``bench/overhead.py`` measures FileWallBall against, each run in its own
Granian process (``granian --interface asgi --factory bench.bare_apps:json_app``): what
FastAPI and Starlette cost on this machine with no database, no checks and no middleware. They get
the same malloc tuning as FileWallBall's server, which is the process's, not the app's."""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route

from filewallball.api.app import reuse_freed_buffers

FILE_VARIABLE = "FWB_BENCH_FILE"  # the file file_app serves


def json_app() -> FastAPI:
    """A JSON answer on the same path as FileWallBall's metadata."""
    reuse_freed_buffers()
    app = FastAPI()

    @app.get("/api/v1/files/{file_uuid}")
    async def metadata(file_uuid: str) -> dict[str, str]:
        return {"file_uuid": file_uuid, "hello": "world"}

    return app


def file_app() -> Starlette:
    """The file named by $FWB_BENCH_FILE at ``/file``, by Starlette's FileResponse."""
    path = os.environ[FILE_VARIABLE]
    reuse_freed_buffers()

    async def serve(_request: Request) -> FileResponse:
        return FileResponse(path, media_type="application/octet-stream")

    return Starlette(routes=[Route("/file", serve)])
