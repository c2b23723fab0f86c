"""The service's own state: ``/health`` and ``/metrics``."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, replace
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from filewallball import __version__
from filewallball.api.access import IsAdmin, MetricsReader
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.api.metrics import Stored
from filewallball.api.services import TRANSIENT
from filewallball.operations.integrity import last_report
from filewallball.operations.statistics import totals
from filewallball.storage import BlobStore

router = APIRouter(tags=["service"])
LOW_SPACE_BYTES = 256 * 1024 * 1024


class Health(BaseModel):
    """Anonymous callers see whether the database answers (``database.reachable``) and
    the storage takes writes (``storage.writable``); the admin sees everything: round
    trip, pool, free space, the last ``filewallball fsck`` run's summary."""

    status: str
    version: str
    database: dict[str, Any]
    storage: dict[str, Any]
    fsck: dict[str, Any] | None = None


def _storage_health(store: BlobStore) -> dict[str, Any]:
    try:
        with store.stage() as probe:
            probe.write(b"health")
            probe.finish()
        writable, error = True, None
    except OSError as failure:
        writable, error = False, failure.strerror or type(failure).__name__
    space = store.space()
    return {
        "writable": writable,
        "free_bytes": space.free_bytes if space else None,
        "total_bytes": space.total_bytes if space else None,
        "low_space": space is not None and space.free_bytes < LOW_SPACE_BYTES,
        "error": error,
    }


@router.get(
    "/health",
    response_model=Health,
    responses={
        **responses(401),
        503: {"model": Health, "description": "Degraded: database or storage failing"},
    },
)
async def health(services: ServicesDep, admin: IsAdmin) -> JSONResponse:
    """Database reachable, storage writable; for the admin also round trip, pool, free
    space and the last fsck. 503 when degraded, so that load balancers and orchestrators
    notice."""
    database = await services.database.health()
    storage = await services.in_thread(_storage_health, services.store)
    healthy = database.reachable and storage["writable"]
    status = "healthy" if healthy else "degraded"
    if admin:
        fsck = None
        if database.reachable:
            try:
                fsck = await services.read(last_report)
            except Exception:  # health must answer even when this one read fails
                fsck = None
        body = Health(
            status=status,
            version=__version__,
            database=asdict(database),
            storage=storage,
            fsck=fsck,
        )
    else:
        body = Health(
            status=status,
            version=__version__,
            database={"reachable": database.reachable},
            storage={"writable": storage["writable"]},
        )
    answer = body.model_dump(mode="json", exclude_none=not admin)
    return JSONResponse(answer, status_code=200 if healthy else 503)


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[MetricsReader],
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **responses(401),
    },
)
async def metrics(services: ServicesDep) -> Response:
    """The counts of every worker, and what the store holds (from the counts the database
    keeps: no scan of the files, whatever their number)."""
    stored = Stored(None, None, None, None)
    try:
        counted = await services.read(totals)
        stored = Stored(counted.files, counted.bytes, counted.distinct_contents, None)
    except TRANSIENT:  # the process's own metrics still answer
        pass
    with contextlib.suppress(OSError):
        space = await services.in_thread(services.store.space)
        if space is not None:
            stored = replace(stored, free_bytes=space.free_bytes)
    exposition = services.metrics.exposition(stored)
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
