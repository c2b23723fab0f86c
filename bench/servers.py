"""ASGI servers for FileWallBall, side by side: uvicorn, Granian and Hypercorn.

    .venv/bin/python bench/servers.py                     # 3 rounds and the probes, ~8 minutes
    .venv/bin/python bench/servers.py --rounds 5 --duration 8 --size-mib 1024
    .venv/bin/python bench/servers.py --rounds 0          # the probes only

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

# Run as ``python bench/servers.py``, this file's folder comes first on sys.path, where
# http.py would hide the standard library's ``http``; the repository root goes there
# instead, for ``bench.http``.
# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

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
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
from bench.http import WRK, Server, cpu_seconds, family, free_port, migrate, wrk

MiB = 1024 * 1024
APP = "filewallball.api:create_app"
UPLOAD_CONNECTIONS = 16
DOWNLOAD_CONNECTIONS = 32
SLOW_SOCKETS = 200
TOKEN = secrets.token_urlsafe(24)
CURL = shutil.which("curl") or "curl"
_MIGRATING = threading.Lock()

# Each server as ``filewallball serve`` would run it, without an access log (uvicorn's
# costs it CPU the others do not spend).
COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn": lambda port: [
        *("-m", "uvicorn", "--factory", APP, "--host", "127.0.0.1", "--port", str(port)),
        *("--http", "httptools", "--loop", "uvloop", "--no-access-log", "--no-server-header"),
        *("--no-proxy-headers", "--log-level", "warning"),
    ],
    "granian": lambda port: [
        *("-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "1"),
        *("--no-ws", "--log-level", "warning", APP),
    ],
    "hypercorn": lambda port: [
        *("-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "--worker-class", "uvloop"),
        *("--workers", "1", "--log-level", "warning", f"{APP}()"),
    ],
}
UPLOAD_SCRIPT = """
local counter = 0
local block = string.rep("FileWallBall bench line of text\\n", 2048)
request = function()
  counter = counter + 1
  local head = "upload " .. counter .. "\\n"
  local body = head .. block:sub(#head + 1)
  return wrk.format("PUT", "/api/v1/files/small-" .. counter .. ".txt", nil, body)
end
"""


# -- servers ---------------------------------------------------------------------------------


def start(name: str, work: Path, *, token: bool = False) -> tuple[Server, Path]:
    """``name`` serving a fresh data directory; returns once /health answers."""
    data_dir = work / f"{name}-{secrets.token_hex(4)}"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'filewallball.db'}"
    with _MIGRATING:  # alembic's context is global to the process
        migrate(url)
    env = {**os.environ, "FILEWALLBALL_DATA_DIR": str(data_dir), "FILEWALLBALL_DATABASE_URL": url}
    env.pop("FILEWALLBALL_ADMIN_TOKEN", None)
    if token:
        env["FILEWALLBALL_ADMIN_TOKEN"] = TOKEN
    port = free_port()
    log = data_dir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [sys.executable, *COMMANDS[name](port)],
            cwd=work,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url("/health"), timeout=2).status_code == 200:
                return server, data_dir
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer within 60 s:\n{log.read_text()[-2000:]}")


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


@contextlib.contextmanager
def peak_rss(pids: list[int], peak: list[int]) -> Iterator[None]:
    """Appends the peak RSS of ``pids`` (summed) while the block runs, sampled every 20 ms."""
    done = threading.Event()
    highest = [rss_bytes(pids)]

    def sample() -> None:
        while not done.wait(0.02):
            highest[0] = max(highest[0], rss_bytes(pids))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        done.set()
        sampler.join()
        peak.append(max(highest[0], rss_bytes(pids)))


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


def curl(*arguments: str) -> list[str]:
    result = subprocess.run(  # noqa: S603 (our own arguments)
        [CURL, "-s", "-S", *arguments], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def load(
    server: Server,
    pids: list[int],
    path: str,
    duration: float,
    *,
    connections: int,
    script: Path | None,
) -> tuple[float, float, int]:
    """Requests/s, server CPU ms per request, errors."""
    before = cpu_seconds(pids)
    per_second, requests, errors, _p99 = wrk(
        server.url(path), duration, connections=connections, script=script
    )
    return per_second, (cpu_seconds(pids) - before) * 1000 / max(requests, 1), errors


def measure(name: str, work: Path, source: Path, duration: float) -> Figures:
    server, _data_dir = start(name, work)
    try:
        pids = family(server.pid)
        rss_start = rss_bytes(pids)
        peaks: list[int] = []
        answer = work / "answer.json"
        with peak_rss(pids, peaks):
            status, up_speed = curl(
                *("-o", str(answer), "-w", "%{http_code} %{speed_upload}", "-T", str(source)),
                server.url("/api/v1/files/big.tar"),
            )
        if status != "201":
            raise RuntimeError(f"{name}: the big upload answered {status}")
        file_uuid = json.loads(answer.read_text())["file_uuid"]
        with peak_rss(pids, peaks):
            status, down_speed, size = curl(
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{speed_download} %{size_download}",
                server.url(f"/api/v1/files/{file_uuid}/content"),
            )
        if status != "200" or int(size) != source.stat().st_size:
            raise RuntimeError(f"{name}: the big download answered {status}, {size} bytes")
        script = work / "upload.lua"
        script.write_text(UPLOAD_SCRIPT)
        put = load(server, pids, "/", duration, connections=UPLOAD_CONNECTIONS, script=script)
        small = httpx.put(server.url("/api/v1/files/small.txt"), content=b"small text\n" * 5958)
        small.raise_for_status()
        content = f"/api/v1/files/{small.json()['file_uuid']}/content"
        wrk(server.url(content), 1, connections=DOWNLOAD_CONNECTIONS)  # warm-up
        get = load(server, pids, content, duration, connections=DOWNLOAD_CONNECTIONS, script=None)
        return Figures(
            *put,
            *get,
            float(up_speed) / 1e6,
            float(down_speed) / 1e6,
            rss_start / MiB,
            max(peaks) / MiB,
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
            cells.append(
                f"{form.format(statistics.median(values))} ({form.format(min(values))}-{form.format(max(values))})"
            )
            if name != "uvicorn" and "errors" not in key:
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
    if WRK is None:
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
            block = os.urandom(16 * MiB)
            with source.open("wb") as out:
                out.write(b"bench bytes\n")
                for offset in range(12, args.size_mib * MiB, len(block)):
                    out.write(block[: args.size_mib * MiB - offset])
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
                f"  {os.cpu_count()} cores shared by wrk, curl, the server and whatever else runs "
                f"here (load average {os.getloadavg()[0]:.1f} now): only same-round ratios mean much."
            )
        if not args.no_probes:
            run_probes(names, work, args.probe_seconds, args.refused_mib * MiB)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
