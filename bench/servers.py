"""ASGI servers for FileWallBall, side by side: uvicorn, Granian and Hypercorn.

    .venv/bin/python -m bench.servers                     # 3 rounds and the probes, ~8 minutes
    .venv/bin/python -m bench.servers --rounds 5 --duration 8 --size-mib 1024
    .venv/bin/python -m bench.servers --rounds 0          # the probes only

Each round starts the real app (``filewallball.api:create_app``) on each server in turn, the
order rotated, one worker, on 127.0.0.1 with a fresh data directory and SQLite database in
loopback mode (no token), and measures:

  - 64 KiB PUT uploads per second: wrk, a Lua script making every body unique, 16
    connections, and the server's CPU per upload;
  - 64 KiB GET downloads per second of one file: wrk, 32 connections;
  - a --size-mib upload (curl -T) and its download (curl -o /dev/null), in MB/s;
  - the server's RSS (all its processes) once started and at its peak during the big
    transfers.

It prints each figure's median and spread, and the per-round ratios to uvicorn. The
clients, the servers and everything else running on this machine share its cores, and
absolute figures moved by 2x between runs here: only the same-round ratios mean much.

Then the probes, what each server does to slow and abusive connections, in the
configuration ``serve`` would use (with a token, so that an anonymous upload is refused):
a socket that sends part of a request's headers and nothing more, and one that stays idle
after an answer (when is each closed?); 200 such slow sockets while a normal request is
made; an anonymous upload of --refused-mib from a client that writes the whole body before
it reads (does it see the 401, how much did the server read, did it close?).

uvicorn and Hypercorn are not dependencies of FileWallBall (Granian is): ``pip install
uvicorn hypercorn`` into the environment first (a server that is missing is left out).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import load
from bench.databases import migrate
from bench.processes import PeakRss, Server, cpu_seconds, family, granian, rss_bytes

MiB = 1024 * 1024
APP = "filewallball.api:create_app"
UPLOAD_CONNECTIONS = 16
DOWNLOAD_CONNECTIONS = 32
SLOW_SOCKETS = 200
TOKEN = secrets.token_urlsafe(24)
_MIGRATING = threading.Lock()

# Each server as ``filewallball serve`` would run it, without an access log (uvicorn's
# costs it CPU the others do not spend).
COMMANDS: dict[str, list[str]] = {
    "uvicorn": [
        *(sys.executable, "-m", "uvicorn", "--factory", APP),
        *("--host", "127.0.0.1", "--port", "{port}"),
        *("--http", "httptools", "--loop", "uvloop", "--no-access-log", "--no-server-header"),
        *("--no-proxy-headers", "--log-level", "warning"),
    ],
    "granian": granian(APP),
    "hypercorn": [
        *(sys.executable, "-m", "hypercorn", "--bind", "127.0.0.1:{port}"),
        *("--worker-class", "uvloop"),
        *("--workers", "1", "--log-level", "warning", f"{APP}()"),
    ],
}
SMALL_UPLOADS = load.Request("/api/v1/files/small-", unique_bytes=64 * 1024)


# -- servers ---------------------------------------------------------------------------------


def start(name: str, work: Path, *, token: bool = False) -> tuple[Server, Path]:
    """``name`` serving a fresh data directory; returns once /health answers."""
    data_dir = work / f"{name}-{secrets.token_hex(4)}"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'filewallball.db'}"
    with _MIGRATING:  # alembic's context is global to the process
        migrate(url)
    env = {"FILEWALLBALL_DATA_DIR": str(data_dir), "FILEWALLBALL_DATABASE_URL": url}
    env["FILEWALLBALL_ADMIN_TOKEN"] = TOKEN if token else ""
    server = Server(name, COMMANDS[name], data_dir / "server.log", env, cwd=work)
    return server.start(), data_dir


# -- one round of one server -----------------------------------------------------------------


@dataclass
class Figures:
    put_per_second: float
    put_cpu_ms: float
    put_errors: int
    get_per_second: float
    get_cpu_ms: float
    get_errors: int
    upload_mb_s: float
    download_mb_s: float
    rss_start_mib: float
    rss_peak_mib: float


def measured(
    server: Server, pids: list[int], request: load.Request, duration: float, *, connections: int
) -> tuple[float, float, int]:
    """Requests/s, server CPU ms per request, errors."""
    before = cpu_seconds(pids)
    found = load.run(server.port, request, duration, connections=connections)
    return (
        found.per_second,
        (cpu_seconds(pids) - before) * 1000 / max(found.requests, 1),
        found.errors,
    )


def measure(name: str, work: Path, source: Path, duration: float) -> Figures:
    server, _data_dir = start(name, work)
    try:
        pids = family(server.pid)
        rss_start = rss_bytes(pids)
        answer = work / "answer.json"
        with PeakRss(server.pid) as upload_rss:
            status, up_speed = load.curl(
                *("-o", str(answer), "-w", "%{http_code} %{speed_upload}", "-T", str(source)),
                server.url("/api/v1/files/big.tar"),
            )
        if status != "201":
            raise RuntimeError(f"{name}: the big upload answered {status}")
        file_uuid = json.loads(answer.read_text())["file_uuid"]
        with PeakRss(server.pid) as download_rss:
            status, down_speed, size = load.curl(
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{speed_download} %{size_download}",
                server.url(f"/api/v1/files/{file_uuid}/content"),
            )
        if status != "200" or int(size) != source.stat().st_size:
            raise RuntimeError(f"{name}: the big download answered {status}, {size} bytes")
        put = measured(server, pids, SMALL_UPLOADS, duration, connections=UPLOAD_CONNECTIONS)
        small = httpx.put(server.url("/api/v1/files/small.txt"), content=b"small text\n" * 5958)
        small.raise_for_status()
        content = load.Request(f"/api/v1/files/{small.json()['file_uuid']}/content")
        load.run(server.port, content, 1, connections=DOWNLOAD_CONNECTIONS)  # warm-up
        get = measured(server, pids, content, duration, connections=DOWNLOAD_CONNECTIONS)
        return Figures(
            *put,
            *get,
            float(up_speed) / 1e6,
            float(down_speed) / 1e6,
            rss_start / MiB,
            max(upload_rss.peak, download_rss.peak) / MiB,
        )
    finally:
        server.stop()


# -- report ----------------------------------------------------------------------------------


FIGURES = {
    "put_per_second": ("64 KiB PUT uploads/s (16 conn.)", "{:,.0f}"),
    "put_cpu_ms": ("  server CPU ms per upload", "{:.2f}"),
    "put_errors": ("  errors", "{:.0f}"),
    "get_per_second": ("64 KiB GET downloads/s (32 conn.)", "{:,.0f}"),
    "get_cpu_ms": ("  server CPU ms per download", "{:.2f}"),
    "get_errors": ("  errors", "{:.0f}"),
    "upload_mb_s": ("big upload MB/s (curl -T)", "{:,.0f}"),
    "download_mb_s": ("big download MB/s (curl -o /dev/null)", "{:,.0f}"),
    "rss_start_mib": ("RSS once started, MiB", "{:.0f}"),
    "rss_peak_mib": ("RSS peak during big transfers, MiB", "{:.0f}"),
}


def report(rounds: list[dict[str, Figures]], names: list[str]) -> None:
    print(f"\n== medians over {len(rounds)} rounds (min-max); per-round ratios to uvicorn")
    print(f"  {'figure':<38}" + "".join(f" {n:>22}" for n in names) + "   ratios to uvicorn")
    for key, (label, form) in FIGURES.items():
        cells, ratios = [], []
        for name in names:
            values = [getattr(r[name], key) for r in rounds]
            low, middle, high = (form.format(f(values)) for f in (min, statistics.median, max))
            cells.append(f"{middle} ({low}-{high})")
            if name != "uvicorn" and "uvicorn" in names and "errors" not in key:
                per_round = [
                    getattr(r[name], key) / getattr(r["uvicorn"], key)
                    for r in rounds
                    if getattr(r["uvicorn"], key)
                ]
                if per_round:
                    ratios.append(
                        f"{name} {statistics.median(per_round):.2f} "
                        f"[{' '.join(f'{x:.2f}' for x in per_round)}]"
                    )
        print(f"  {label:<38}" + "".join(f" {c:>22}" for c in cells) + "   " + "; ".join(ratios))


# -- probes ----------------------------------------------------------------------------------


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def seconds_until_closed(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes ``sock`` (None: still open after ``limit``)."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def probe_partial_headers(port: int, limit: float) -> float | None:
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        return seconds_until_closed(sock, limit)


def probe_idle_keep_alive(port: int, limit: float) -> float | None:
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        time.sleep(0.2)  # the rest of the answer
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.recv(65536)
        sock.setblocking(True)
        return seconds_until_closed(sock, limit)


def probe_slow_sockets(port: int) -> str:
    """A normal request while SLOW_SOCKETS sockets sit with half-sent headers."""
    slow = []
    try:
        for _ in range(SLOW_SOCKETS):
            sock = connect(port)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        started = time.monotonic()
        try:
            status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code
        except httpx.HTTPError as error:
            return f"{type(error).__name__} after {time.monotonic() - started:.1f} s"
        return f"{status} in {time.monotonic() - started:.2f} s"
    finally:
        for sock in slow:
            sock.close()


def probe_refused_body(port: int, size: int) -> str:
    """An anonymous upload that writes its whole body before reading: what it sees, how
    much it wrote, how long until the server closed."""
    chunk = b"x" * (256 * 1024)
    with connect(port) as sock:
        sock.sendall(
            b"PUT /api/v1/files/refused.txt HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {size}\r\n\r\n".encode()
        )
        sent = 0
        started = time.monotonic()
        sock.settimeout(10)
        try:
            while sent < size:
                sent += sock.send(chunk[: size - sent])
            how = "wrote it all"
        except (BrokenPipeError, ConnectionResetError):
            how = "write failed"
        except TimeoutError:
            how = "write stalled 10 s"
        try:
            answer = sock.recv(65536)
            while b"\r\n\r\n" not in answer and (more := sock.recv(65536)):
                answer += more
            status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "nothing (closed)"
            close = b"connection: close" in answer.lower()
        except ConnectionResetError:
            status, close = "reset", False
        except TimeoutError:
            status, close = "no answer in 10 s", False
        closed = seconds_until_closed(sock, 10)
        after = "still open 10 s later" if closed is None else f"closed {closed:.1f} s later"
        return (
            f"{how} ({sent / MiB:.0f} MiB in {time.monotonic() - started:.1f} s); read "
            f"{status!r}{', Connection: close' if close else ''}; {after}"
        )


@dataclass
class Probes:
    partial_headers: str = ""
    idle_keep_alive: str = ""
    slow_sockets: str = ""
    refused_body: str = ""
    notes: list[str] = field(default_factory=list)


def probe(name: str, work: Path, limit: float, refused_size: int) -> Probes:
    server, _ = start(name, work, token=True)
    found = Probes()
    try:

        def seconds(value: float | None) -> str:
            return f"open after {limit:.0f} s" if value is None else f"closed after {value:.1f} s"

        threads = [
            threading.Thread(
                target=lambda: setattr(
                    found, "partial_headers", seconds(probe_partial_headers(server.port, limit))
                )
            ),
            threading.Thread(
                target=lambda: setattr(
                    found, "idle_keep_alive", seconds(probe_idle_keep_alive(server.port, limit))
                )
            ),
        ]
        for thread in threads:
            thread.start()
        found.slow_sockets = probe_slow_sockets(server.port)
        found.refused_body = probe_refused_body(server.port, refused_size)
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    return found


def run_probes(names: list[str], work: Path, limit: float, refused_size: int) -> None:
    print(f"\n== probes (each server as serve runs it, a token set; waits up to {limit:.0f} s)")
    results: dict[str, Probes] = {}
    threads = [
        threading.Thread(
            target=lambda n=name: results.__setitem__(n, probe(n, work, limit, refused_size))
        )
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in names:
        found = results.get(name)
        if found is None:
            print(f"  {name}: failed (see the output above)")
            continue
        print(f"  {name}")
        print(f"    headers never finished:      {found.partial_headers}")
        print(f"    idle after an answer:        {found.idle_keep_alive}")
        print(f"    GET with {SLOW_SOCKETS} slow sockets open: {found.slow_sockets}")
        print(f"    anonymous {refused_size // MiB} MiB upload:     {found.refused_body}")


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the measurements")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of each wrk run")
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the big transfers")
    parser.add_argument("--refused-mib", type=int, default=64, help="the refused upload's size")
    parser.add_argument("--probe-seconds", type=float, default=40.0, help="how long probes wait")
    parser.add_argument("--no-probes", action="store_true")
    args = parser.parse_args()
    if load.WRK is None:
        parser.error("wrk is needed (apt-get install wrk)")
    names = [n for n in COMMANDS if importlib.util.find_spec(n) is not None]
    print(
        f"servers: {', '.join(names)} (missing: {', '.join(set(COMMANDS) - set(names)) or 'none'})"
    )
    work = Path(tempfile.mkdtemp(prefix="fwb_bench_servers_"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        rounds: list[dict[str, Figures]] = []
        if args.rounds:
            source = work / "source.bin"
            load.big_file(source, args.size_mib * MiB)
            with source.open("r+b") as out:
                out.write(b"bench bytes\n")
        for number in range(args.rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            print(f"round {number + 1}: {', '.join(order)}", flush=True)
            rounds.append({name: measure(name, work, source, args.duration) for name in order})
            print(
                "  "
                + "; ".join(
                    f"{n} {f.put_per_second:.0f} PUT/s {f.get_per_second:.0f} GET/s "
                    f"{f.upload_mb_s:.0f}/{f.download_mb_s:.0f} MB/s up/down"
                    for n, f in rounds[-1].items()
                ),
                flush=True,
            )
        if rounds:
            report(rounds, names)
            print(
                f"  {os.cpu_count()} cores shared by wrk, curl, the server and whatever else "
                f"runs here (load average {os.getloadavg()[0]:.1f} now): only same-round "
                "ratios mean much."
            )
        if not args.no_probes:
            run_probes(names, work, args.probe_seconds, args.refused_mib * MiB)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
