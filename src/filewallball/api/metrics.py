"""Prometheus metrics, in a registry of the app's own (two apps in one process, as in
the tests, do not share counters)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filewallball.database import PoolStatus


class Metrics:
    def __init__(self, pool_status: Callable[[], PoolStatus]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "filewallball_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "filewallball_http_request_duration_seconds",
            "Time to the end of the response",
            ["method", "route"],
            registry=r,
        )
        self.errors = Counter(
            "filewallball_http_errors", "Error answers by status", ["status"], registry=r
        )
        self.uploads = Counter("filewallball_uploads", "Finished uploads", ["outcome"], registry=r)
        self.upload_bytes = Counter(
            "filewallball_upload_bytes", "Bytes of completed uploads", registry=r
        )
        self.uploads_in_progress = Gauge(
            "filewallball_uploads_in_progress", "Uploads being received", registry=r
        )
        self.downloads = Counter("filewallball_downloads", "Downloads served", registry=r)
        self.download_bytes = Counter(
            "filewallball_download_bytes", "Bytes of content served", registry=r
        )
        r.register(_PoolCollector(pool_status))
        self._per_route: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def count_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request answered. The labelled children are looked up once per label set:
        ``labels()`` checks and locks on every call."""
        key = (method, route, status)
        children = self._per_route.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._per_route[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if status >= 400:
            self.errors.labels(str(status)).inc()


class _PoolCollector(Collector):
    def __init__(self, pool_status: Callable[[], PoolStatus]) -> None:
        self.pool_status = pool_status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self.pool_status()
        for name, value in (
            ("size", status.size),
            ("checked_out", status.checked_out),
            ("overflow", status.overflow),
        ):
            if value is not None:
                yield GaugeMetricFamily(
                    f"filewallball_db_pool_{name}", f"Database pool: {name}", value=value
                )


class MetricsMiddleware:
    """Counts and times every request by its route template (``/api/v1/files/{file_uuid}``),
    never by its raw path, so the label set stays small."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Callable[[], Metrics | None],
        prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics()
        if scope["type"] != "http" or metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            metrics.count_request(scope["method"], self._route_of(scope), status, elapsed)

    def _route_of(self, scope: Scope) -> str:
        """The template of the route that answered. FastAPI's included routers give the
        path below their prefix; the prefix is put back."""
        route = scope.get("route")
        if route is None or not hasattr(route, "path"):
            return "unmatched"
        path: str = scope["path"]
        for prefix in self.prefixes:
            if path.startswith(prefix + "/"):
                return prefix + str(route.path)
        return str(route.path)
