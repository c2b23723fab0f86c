"""The FastAPI application: routes under ``/api/v1``, the service's own routes, the
routes of the earlier FileWallBall API, and the root upload."""

from __future__ import annotations

import ctypes
import logging
import platform
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filewallball import __version__, maintenance
from filewallball.api.docs import install_docs
from filewallball.api.errors import PlainErrorsAsJson, install_error_handlers
from filewallball.api.guard import RequestGuard
from filewallball.api.lingering import LingeringClose
from filewallball.api.metrics import POOL_SAMPLE_SECONDS, Metrics, MetricsMiddleware
from filewallball.api.paths import Utf8QueryString, path_is_utf8
from filewallball.api.proxies import TrustedProxies
from filewallball.api.routes import (
    API_PREFIX,
    accounts,
    catalog,
    compat,
    content,
    files,
    folders,
    root,
    service,
    stats,
    uploads,
)
from filewallball.api.services import Services
from filewallball.database import CHECKPOINT_SECONDS, AsyncDatabase
from filewallball.settings import Settings, get_settings
from filewallball.storage import open_store

log = logging.getLogger("filewallball.api")

# Every body but an upload's is a little JSON; the upload routes lift this limit and
# enforce their own (the extension's policy and max_upload_bytes) as bytes arrive.
MAX_BODY_BYTES = 1024 * 1024
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# What a page of a FILEWALLBALL_CORS_ORIGINS origin may read of an answer (SPEC section
# 10): the tus headers and the uploaded file's UUID.
CORS_EXPOSED_HEADERS = [
    "Location",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Expires",
    "Upload-File-UUID",
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reuse_freed_buffers()
        database = AsyncDatabase.from_settings(settings)
        store = open_store(settings)
        if removed := store.remove_temporary():
            log.warning("removed %d partial upload(s) left by a crash", removed)
        services = Services(settings, database, store, Metrics(database.pool_status))
        holder = maintenance.worker_name()

        async def sample_pool() -> None:
            services.metrics.sample_pool()

        if services.metrics.samples_pool_in_background:
            services.every(POOL_SAMPLE_SECONDS, sample_pool, "sample the pool", at_start=True)
        services.every(
            maintenance.FOLD_SECONDS,
            lambda: services.housekeep(maintenance.fold_file_counts),
            "fold the file counts",
        )
        services.every(
            maintenance.JOBS_CHECK_SECONDS,
            lambda: services.housekeep(maintenance.run_due_jobs, store, holder),
            "housekeeping jobs",
            at_start=True,
        )
        services.every(CHECKPOINT_SECONDS, database.checkpoint, "checkpoint the SQLite log")
        app.state.services = services
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="FileWallBall",
        version=__version__,
        summary="Self-hosted file storage: bytes safe on disk, metadata in a database.",
        lifespan=lifespan,
        dependencies=[Depends(path_is_utf8)],
        docs_url=None,  # install_docs: served from the package
        redoc_url=None,  # ReDoc would load itself and its fonts from CDNs
    )
    install_error_handlers(app)
    for module in (uploads, files, folders, content, catalog, stats, accounts):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(service.router)
    app.include_router(compat.router)
    app.include_router(root.router)
    app.include_router(root.upload_router)  # last: it takes any other name at the root
    install_docs(app)
    # Inside our middleware, so that its 413 gets the JSON shape and the headers.
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY_BYTES)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=False,
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.add_middleware(MetricsMiddleware, metrics=lambda: _metrics_of(app), prefixes=(API_PREFIX,))
    app.add_middleware(PlainErrorsAsJson)
    app.add_middleware(Utf8QueryString)
    if settings.trusted_proxies:
        app.add_middleware(TrustedProxies, networks=settings.trusted_proxies)
    # Before routing and everything else: only the headers every answer carries are
    # added outside it.
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(LingeringClose)  # outside the rest: sees every answer
    return app


def reuse_freed_buffers() -> bool:
    """Have glibc keep freed buffers of up to a few MiB for reuse, instead of handing
    them back to the kernel and asking for fresh pages (page faults, zeroed pages) for
    the next one. Every chunk of a request body is such a buffer, allocated and freed
    several times over by the server and the event loop, so a large upload otherwise
    spends much of its CPU time faulting in fresh pages (bench/ measures it). Returns
    whether it applied (not on other C libraries, which have their own ways)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024)
        and libc.mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024)
    )


def _metrics_of(app: FastAPI) -> Metrics | None:
    services: Services | None = getattr(app.state, "services", None)
    return services.metrics if services else None


class SecurityHeaders:
    """Headers every answer carries, errors included; routes may set stricter ones."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, sending)
