"""``filewallball serve``: the HTTP service on Granian.

Granian (a Rust HTTP server) was chosen over uvicorn by measurement (``bench/servers.py``):
it sends a file's bytes from the kernel (``http.response.pathsend``), closes connections
whose headers never finish or that sit idle, and bounds the connections of each worker.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from filewallball.cli.init import check_schema, prepare, settings_source
from filewallball.errors import FileWallBallError
from filewallball.processes import is_running
from filewallball.settings import Settings, get_settings
from filewallball.storage import open_store

if TYPE_CHECKING:
    from granian.server import MPServer

# prometheus_client's: read when it is first imported, so set before any worker imports
# the app (not imported here, which would be too early for workers forked from here).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PREFIX = "filewallball-metrics-"  # then the server's pid


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Bring the schema up to date before serving.",
)
def serve(host: str, port: int, workers: int, migrate: bool) -> None:
    """Serve the HTTP API (docs at /docs) until interrupted."""
    settings = get_settings()
    if settings.admin_token is None and not is_loopback(host):
        raise click.UsageError(
            f"refusing to listen on {host}: FILEWALLBALL_ADMIN_TOKEN is not set, and "
            "without it every caller is the admin. Set a token, or listen on 127.0.0.1."
        )
    if migrate:
        prepare(settings).report()
    else:
        click.echo(f"settings         {settings_source(settings)}")
        check_schema(settings)
    try:
        open_store(settings)  # a bucket that is not there: said here once, not by each worker
    except FileWallBallError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"serving          http://{host}:{port} (docs: /docs)", err=True)
    # The workers' metrics, summed by whichever answers a scrape: private to this run,
    # empty when it starts (no counts of an earlier run) and removed when it ends.
    remove_abandoned_metrics()
    prefix = f"{METRICS_PREFIX}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as shared:
        os.environ[MULTIPROCESS_DIR] = shared
        try:
            server(settings, host, port, workers).serve()
        finally:
            del os.environ[MULTIPROCESS_DIR]


def remove_abandoned_metrics() -> None:
    """The metrics directories of servers killed before they could remove them."""
    for directory in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid = directory.name.removeprefix(METRICS_PREFIX).partition("-")[0]
        if pid.isdigit() and directory.stat().st_uid == os.getuid() and not is_running(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


def server(settings: Settings, host: str, port: int, workers: int) -> MPServer:
    """The workers import the app themselves and read the same settings from the
    environment. Granian reads no X-Forwarded-For: the app believes only trusted proxies.
    Granian is imported here, so that the other commands never load it (nor uvloop)."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import MPServer  # worker processes (granian.Granian on a GIL build)

    return MPServer(
        "filewallball.api:create_app",
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        loop=Loops.uvloop,
        # Held by each connection for its whole life: one past it waits to be accepted.
        backpressure=settings.max_connections,
        # Hyper's header-read timer also runs while a kept-alive connection waits for
        # its next request, so it is the idle timeout too.
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.header_timeout_seconds * 1000)
        ),
        log_level=LogLevels.info,
        log_access=True,
    )
