"""Prometheus metrics, in a registry of the app's own (two apps in one process, as in
the tests, do not share counters).

Under ``filewallball serve`` every worker process writes its counters, histograms and
gauges to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode,
set up by ``serve`` for each run), and a scrape, answered by any worker, sums them: the
counters of the whole server only grow, whichever worker answers. Gauges of one process
(the database pool) keep one series per worker, labelled ``pid``; the stored files and
the free space are the same for every worker and are read when scraped.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filewallball.database import PoolStatus
from filewallball.processes import is_running

# prometheus_client chooses between in-process values and shared files when it is first
# imported, by this variable: ``serve`` sets it before any worker starts.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # also in cli/serve.py, which must not import this
POOL_SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class Stored:
    """What the store holds, from the counts the database keeps (``file_counts``), and
    the free space of the disk under it; None for what could not be read."""

    files: int | None
    bytes: int | None
    contents: int | None
    free_bytes: int | None


class Metrics:
    def __init__(self, pool_status: Callable[[], PoolStatus]) -> None:
        self.shared_dir = os.environ.get(MULTIPROCESS_DIR)
        if self.shared_dir and values.ValueClass is values.MutexValue:
            raise RuntimeError(
                f"prometheus_client was imported before {MULTIPROCESS_DIR} was set: "
                "the workers' counters would not be summed"
            )
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
            "filewallball_uploads_in_progress",
            "Uploads being received",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.downloads = Counter("filewallball_downloads", "Downloads served", registry=r)
        self.download_bytes = Counter(
            "filewallball_download_bytes", "Bytes of content served", registry=r
        )
        self.pool_status = pool_status
        # SQLite's engine keeps no pool of a fixed size: nothing to show.
        self._pool = {
            name: Gauge(
                f"filewallball_db_pool_{name}",
                f"Database pool of the worker: {name} (sampled every {POOL_SAMPLE_SECONDS} s)",
                registry=r,
                multiprocess_mode="liveall",
            )
            for name in ("size", "checked_out", "overflow")
            if pool_status().size is not None
        }
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

    @property
    def samples_pool_in_background(self) -> bool:
        """Whether the pool must be sampled between scrapes: under ``serve``, where the
        worker answering a scrape reads the other workers' gauges from their files.
        Alone, a process samples its own pool when it is scraped."""
        return self.shared_dir is not None and bool(self._pool)

    def sample_pool(self) -> None:
        status = self.pool_status()
        for name, gauge in self._pool.items():
            value = getattr(status, name)
            if value is not None:
                gauge.set(value)

    def exposition(self, stored: Stored) -> bytes:
        """The text format of a scrape: every worker's metrics (this process's alone
        outside ``serve``) and what the store holds."""
        self.sample_pool()
        if self.shared_dir is None:
            return generate_latest(_Chained(self.registry, _StoredCollector(stored)))
        forget_dead_workers(Path(self.shared_dir))
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(_Chained(summed, _StoredCollector(stored)))


def forget_dead_workers(shared_dir: Path) -> None:
    """Drop the per-process gauges of workers that are gone (their counters stay in the
    sums). Granian tells nobody when it replaces a worker, so a scrape looks."""
    for path in shared_dir.glob("gauge_live*_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        if not is_running(pid):
            with contextlib.suppress(FileNotFoundError):  # another scrape was first
                multiprocess.mark_process_dead(pid, str(shared_dir))  # type: ignore[no-untyped-call]


class _Chained(Collector):
    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


class _StoredCollector(Collector):
    def __init__(self, stored: Stored) -> None:
        self.stored = stored

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, help_text, value in (
            ("filewallball_stored_files", "Live files", self.stored.files),
            ("filewallball_stored_bytes", "Bytes of live files", self.stored.bytes),
            (
                "filewallball_stored_contents",
                "Distinct contents of live files",
                self.stored.contents,
            ),
            (
                "filewallball_storage_free_bytes",
                "Free space of the blob store's disk",
                self.stored.free_bytes,
            ),
        ):
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=value)


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
