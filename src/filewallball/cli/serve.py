"""``filewallball serve``: the HTTP service on uvicorn."""

from __future__ import annotations

import ipaddress

import click
import uvicorn

from filewallball.cli.init import prepare
from filewallball.settings import get_settings

__all__ = ["serve"]


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
    click.echo(f"serving          http://{host}:{port} (docs: /docs)", err=True)
    uvicorn.run(
        "filewallball.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Not left to "auto", which falls back to h11 without a word when httptools is
        # missing: receiving a 1 GiB body then costs 2.6-2.9 s of CPU instead of 1.4-1.6.
        http="httptools",
        proxy_headers=False,  # X-Forwarded-For is read from trusted proxies only (settings)
        server_header=False,
        log_level="info",
    )
