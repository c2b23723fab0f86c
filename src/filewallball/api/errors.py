"""Every error answer has one shape, ``{"error": {"code": ..., "message": ...}}``, and
never carries a traceback, SQL or a server path."""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filewallball.errors import (
    Conflict,
    CorruptData,
    FileWallBallError,
    Forbidden,
    Gone,
    InsufficientScope,
    InvalidInput,
    InvalidValue,
    NotFound,
    StorageFull,
    TooLarge,
    Unauthorized,
    UnsupportedType,
)

log = logging.getLogger("filewallball.api")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An answer decided at the edge (authentication, a malformed request)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


_BY_TYPE: list[tuple[type[FileWallBallError], int, str]] = [
    (InvalidValue, 422, "validation_error"),  # before InvalidInput, its base
    (InvalidInput, 400, "invalid_input"),
    (Unauthorized, 401, "unauthorized"),
    (InsufficientScope, 403, "insufficient_scope"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Gone, 410, "gone"),
    (TooLarge, 413, "too_large"),
    (UnsupportedType, 415, "unsupported_type"),
    (StorageFull, 507, "storage_full"),
    (CorruptData, 500, "corrupt_data"),
]
# What a route may take; a 405 or an OPTIONS answer lists those its path takes.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_type",
    416: "range_not_satisfiable",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


# RFC 9110 requires a challenge on every 401.
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _for_domain_error(error: FileWallBallError) -> JSONResponse:
    for kind, status, code in _BY_TYPE:
        if isinstance(error, kind):
            if status >= 500:
                log.error("%s: %s", code, error)
            headers = BEARER_CHALLENGE if status == 401 else None
            return error_response(status, code, str(error), headers)
    return error_response(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FileWallBallError)
    async def _domain(_request: Request, error: FileWallBallError) -> JSONResponse:
        return _for_domain_error(error)

    @app.exception_handler(ApiError)
    async def _api(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_describe(problem) for problem in error.errors())
        return error_response(422, "validation_error", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(error.status_code, f"http_{error.status_code}")
        headers = dict(error.headers) if error.headers else {}
        message = str(error.detail)
        if error.status_code == 405:
            headers["Allow"] = allow = ", ".join(allowed_methods(request, headers.get("Allow")))
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            message = f"{request.method} is not allowed here; this path takes {allow}"
        return error_response(error.status_code, code, message, headers or None)

    @app.exception_handler(DataError)
    async def _refused_value(_request: Request, error: DataError) -> JSONResponse:
        # A value the database cannot hold (NUL in text, a number out of range) that no
        # check caught first: the caller's input, so 400, and logged so the check gets
        # written.
        log.warning("database refused a value: %s", str(error.orig).splitlines()[0])
        return error_response(
            400, "invalid_input", "a value in the request cannot be stored or searched"
        )

    @app.exception_handler(UnicodeEncodeError)
    async def _not_unicode(_request: Request, _error: UnicodeEncodeError) -> JSONResponse:
        # JSON allows "\ud800"; no database stores a lone surrogate.
        return error_response(
            400, "invalid_input", "the request contains text that is not valid Unicode"
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(_request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, DBAPIError) and not error.connection_invalidated:
            log.error("database error: %s", str(error.orig).splitlines()[0])
        else:
            log.warning("database unavailable: %s", type(error).__name__)
        return error_response(
            503,
            "database_unavailable",
            "the database is unavailable or overloaded; try again shortly",
            {"Retry-After": "5"},
        )

    @app.exception_handler(OSError)
    async def _os(_request: Request, error: OSError) -> JSONResponse:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error_response(507, "storage_full", "no space left to store the file")
        log.exception("storage error")
        return error_response(500, "storage_error", "the file storage failed")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", "internal error")


class PlainErrorsAsJson:
    """Error answers that Starlette's own middleware writes as plain text (the body-size
    limit's 413, for one) get the API's JSON shape too, so that clients parse one
    format whatever answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = b""

        async def sending(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start" and message["status"] >= 400:
                headers = Headers(raw=message.get("headers", []))
                if headers.get("content-type", "").startswith("text/plain"):
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                await _send_as_json(send, held, body.decode("utf-8", "replace"))
                return
            await send(message)

        await self.app(scope, receive, sending)


async def _send_as_json(send: Send, start: Message, text: str) -> None:
    status = start["status"]
    code = _HTTP_CODES.get(status, f"http_{status}")
    response = error_response(status, code, text.strip() or code.replace("_", " "))
    kept = [
        (name, value)
        for name, value in start.get("headers", [])
        if name.lower() not in (b"content-type", b"content-length")
    ]
    await send({**start, "headers": [*kept, *response.raw_headers]})
    await send({"type": "http.response.body", "body": response.body})


def allowed_methods(request: Request, raised: str | None) -> list[str]:
    """Every method the request's path takes, OPTIONS included. Starlette's 405 names
    only the methods of the first route whose path matched (``raised``): another route
    of the same path, or a method another router serves there, would be left out. A
    mount takes any method, so only the one it raised counts for it."""
    found = {"OPTIONS", *(m.strip() for m in (raised or "").split(",") if m.strip())}
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    scope = request.scope
    # Inside a mount, root_path has the mount's path too: the app's own is kept apart.
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    for method in _METHODS:
        probe: Scope = {
            "type": "http",
            "method": method,
            "path": scope["path"],
            "root_path": root_path,
        }
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            found.add(method)
    return sorted(found)


def _describe(problem: Any) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
    return f"{where}: {problem.get('msg', 'invalid')}" if where else str(problem.get("msg"))


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route can give, for the OpenAPI document."""
    described = {
        400: "Invalid input",
        401: "Credential missing, wrong, expired or revoked",
        403: "The credential lacks a scope (insufficient_scope) or the right (forbidden)",
        404: "No such file (or not visible to you)",
        405: "The path takes no such method (Allow lists those it takes)",
        409: "Conflicts with existing data",
        410: "The file's content is lost",
        413: "Too large",
        415: "Type not accepted",
        416: "Range not satisfiable",
        422: "Malformed request",
        503: "Database unavailable",
        507: "Storage full",
    }
    return {
        status: {"model": ErrorBody, "description": described.get(status, "Error")}
        for status in statuses
    }
