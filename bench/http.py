"""HTTP benchmark: FileWallBall as a real Granian process, against what this machine allows.

    .venv/bin/python bench/http.py                          # 1 GiB uploads, 10 s load runs
    .venv/bin/python bench/http.py --size-mib 64 --duration 3 --skip e

In one run it starts FileWallBall (Granian on 127.0.0.1, a fresh temporary data directory,
an admin token) and prints:

  (a) the throughput of a --size-mib upload by raw PUT and by multipart POST, as a ratio of
      the local limit: writing as many bytes into the data directory while computing their
      SHA-256, in the server's chunk size, with an fsync at the end (the best of --rounds);
  (b) the server process's peak RSS growth during those uploads (VmRSS every 20 ms);
  (c) the download of that file as a ratio of a bare Starlette FileResponse app serving the
      same blob from its own Granian process;
  (d) metadata GETs per second on MariaDB (a database it drops and recreates) with 32
      concurrent clients, 1 and 2 workers, beside a bare FastAPI JSON app measured the same
      way, and the CPU each request costs the server, the database and the load generator;
  (e) 100 concurrent 1 MiB uploads (distinct contents, half raw, half multipart) on each
      database: failures and p95 latency.

(a)-(c) use SQLite in the data directory unless --database-url names another database.
The upload client is http.client with the body sent by socket.sendfile from the page
cache, so it costs little CPU (it is printed); the load generator is wrk when installed,
else an httpx asyncio loop. Client, servers and database share this machine's cores:
timings depend on what else it is doing, so compare the ratios, not absolute numbers.
"""

# Run as ``python bench/http.py``, this file's folder comes first on sys.path, and this
# module would hide the standard library's ``http`` from everything imported after it.
# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from filewallball.database import create_database_engine
from filewallball.migrations import alembic_config
from filewallball.settings import Settings
from filewallball.uploading import BATCH_BYTES

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
TOKEN = secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONNECTIONS = 32
CONCURRENT_UPLOADS = 100
TICK = os.sysconf("SC_CLK_TCK")
WRK = shutil.which("wrk")
SECTIONS = {
    "a": "upload throughput",
    "b": "RSS growth during uploads",
    "c": "download throughput",
    "d": "metadata GETs per second",
    "e": "concurrent small uploads",
}


# -- processes ------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own group: the workers too
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(
    name: str, app: str, env: dict[str, str], logs: Path, *, ready: str, workers: int = 1
) -> Server:
    """``granian --factory app`` on a free port, as ``filewallball serve`` runs it but
    without the access log, which ``serve`` cannot turn off.
    Returns once ``ready`` answers 200."""
    port = free_port()
    log = logs / f"{name}.log"
    arguments = [
        *("--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port)),
        *("--http", "1", "--no-ws", "--loop", "uvloop", "--log-level", "warning"),
        *("--workers", str(workers), app),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [sys.executable, "-m", "granian", *arguments],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError, httpx.HTTPError):
            if httpx.get(server.url(ready), timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready} within 60 s:\n{log.read_text()[-2000:]}")


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (Granian's workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
    found, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from the state on (field 3), past the parenthesised name."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def database_pids(url: str) -> list[int]:
    """The local MariaDB/MySQL/PostgreSQL server's processes, when it runs here."""
    if make_url(url).host not in ("127.0.0.1", "localhost", None):
        return []
    names = {"mariadbd", "mysqld", "postgres"}
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() in names:
                pids.append(int(entry.name))
    return pids


class RssSampler:
    """The peak VmRSS of a process and its workers, read every ``interval`` seconds in a
    thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pids = family(pid)
        self.interval = interval
        self.baseline = self.read()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> int:
        total = 0
        for pid in self.pids:
            status = Path(f"/proc/{pid}/status").read_text()
            found = re.search(r"VmRSS:\s+(\d+) kB", status)
            total += int(found[1]) * 1024 if found else 0
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, self.read())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


# -- (a), (b) uploads --------------------------------------------------------------------------


@dataclass
class Sent:
    seconds: float
    client_cpu: float
    server_cpu: float
    rss_growth: int
    answer: dict[str, object]


def make_source(path: Path, size: int, block: bytes) -> None:
    with path.open("wb") as file:
        for offset in range(0, size, len(block)):
            file.write(block[: size - offset])


def local_limit(directory: Path, size: int, block: bytes) -> float:
    """Seconds to write ``size`` bytes into ``directory`` in the server's chunks, hashing
    them on the way, and fsync: what any upload costs at least, network aside."""
    path = directory / "local-limit.part"
    view = memoryview(block)
    digest = hashlib.sha256()
    started = time.perf_counter()
    with path.open("xb") as file:
        for offset in range(0, size, BATCH_BYTES):
            start_at = offset % len(block)
            chunk = view[start_at : start_at + min(BATCH_BYTES, size - offset)]
            digest.update(chunk)
            file.write(chunk)
        file.flush()
        os.fsync(file.fileno())
    seconds = time.perf_counter() - started
    path.unlink()
    return seconds


def upload(
    server: Server, source: Path, size: int, name: str, *, multipart: bool, tag: str
) -> Sent:
    """One upload whose body is a unique first MiB, then ``source`` from the page cache by
    sendfile: distinct content every time, and next to no client CPU."""
    prefix = tag.encode().ljust(MiB, b"\0")
    if multipart:
        boundary = secrets.token_hex(16)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="tags"\r\n\r\nbench\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        method, path = "POST", "/api/v1/files"
        content_type = f"multipart/form-data; boundary={boundary}"
    else:
        head, tail = b"", b""
        method, path = "PUT", f"/api/v1/files/{name}?tags=bench"
        content_type = "application/octet-stream"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    server_cpu = cpu_seconds(family(server.pid))
    client_cpu = time.thread_time()
    with RssSampler(server.pid) as rss, source.open("rb") as body:
        started = time.perf_counter()
        connection.putrequest(method, path)
        for header, value in {
            **AUTH,
            "Content-Type": content_type,
            "Content-Length": str(len(head) + size + len(tail)),
        }.items():
            connection.putheader(header, value)
        connection.endheaders()
        assert connection.sock is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # an early refusal
            connection.sock.sendall(head + prefix)
            connection.sock.sendfile(body, offset=MiB, count=size - MiB)
            connection.sock.sendall(tail)
        response = connection.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
    client_cpu = time.thread_time() - client_cpu
    connection.close()
    if response.status != 201:
        raise RuntimeError(f"{method} {path}: {response.status} {answer[:500]!r}")
    return Sent(
        seconds,
        client_cpu,
        cpu_seconds(family(server.pid)) - server_cpu,
        rss.growth,
        json.loads(answer),
    )


@dataclass
class Uploads:
    local: list[float] = field(default_factory=list)
    raw: list[Sent] = field(default_factory=list)
    multipart: list[Sent] = field(default_factory=list)


STEPS = ["local", "raw", "multipart"]


def measure_uploads(
    server: Server, data_dir: Path, source: Path, *, size: int, block: bytes, rounds: int
) -> Uploads:
    """Each round measures the three in another order, and every file written is removed
    once timed (but the last raw upload, which the downloads serve): on this machine a
    write got slower with every GiB kept before it (1.8, 3.5, 4.5 s for three in a row),
    which had favoured whatever ran first."""
    done = Uploads()
    for run in range(rounds):
        for step in STEPS[run % 3 :] + STEPS[: run % 3]:
            if step == "local":
                done.local.append(local_limit(data_dir, size, block))
                continue
            multipart = step == "multipart"
            name, tag = f"{step}-{run}.tar", f"{step} {run}"
            sent = upload(server, source, size, name, multipart=multipart, tag=tag)
            (done.multipart if multipart else done.raw).append(sent)
            if multipart or run < rounds - 1:
                content_hash = str(sent.answer["file_hash"])
                (data_dir / "blobs" / content_hash[:2] / content_hash[2:4] / content_hash).unlink()
    mb = size / 1e6
    print(
        f"  {'upload of ' + format(size // MiB, ',') + ' MiB':<36} {'best MB/s':>10} {'runs s':>16} {'client CPU s':>13} {'server CPU s':>13} {'RSS +MiB':>9}"
    )
    print(
        f"  {'local limit (hash + write + fsync)':<36} {mb / min(done.local):>10.0f} {_runs(done.local):>16}"
    )
    for label, sent in (("raw PUT", done.raw), ("multipart POST", done.multipart)):
        seconds = [s.seconds for s in sent]
        print(
            f"  {label:<36} {mb / min(seconds):>10.0f} {_runs(seconds):>16} "
            f"{max(s.client_cpu for s in sent):>13.2f} {max(s.server_cpu for s in sent):>13.2f} "
            f"{max(s.rss_growth for s in sent) / MiB:>9.1f}"
        )
    return done


def _runs(seconds: list[float]) -> str:
    return " ".join(f"{s:.2f}" for s in seconds)


# -- (c) downloads ----------------------------------------------------------------------------


def download(port: int, path: str) -> tuple[float, int]:
    """Seconds and bytes to read a response body into one reused buffer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    buffer = memoryview(bytearray(MiB))
    received = 0
    started = time.perf_counter()
    connection.request("GET", path, headers=AUTH)
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {response.read()[:500]!r}")
    while count := response.readinto(buffer):
        received += count
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, received


def measure_downloads(
    server: Server, bare: Server, file_uuid: str, size: int, rounds: int
) -> tuple[float, float]:
    """Best seconds of FileWallBall and of the bare app, alternating, after one warm-up each."""
    ours_path = f"/api/v1/files/{file_uuid}/content"
    ours, theirs = [], []
    for run in range(rounds + 1):
        for port, path, times in ((bare.port, "/file", theirs), (server.port, ours_path, ours)):
            seconds, received = download(port, path)
            if received != size:
                raise RuntimeError(f"{path}: {received} bytes, not {size}")
            if run:
                times.append(seconds)
    mb = size / 1e6
    print(
        f"  {'download of ' + format(size // MiB, ',') + ' MiB':<36} {'best MB/s':>10} {'runs s':>16}"
    )
    print(f"  {'bare Starlette FileResponse':<36} {mb / min(theirs):>10.0f} {_runs(theirs):>16}")
    print(f"  {'GET /api/v1/files/{uuid}/content':<36} {mb / min(ours):>10.0f} {_runs(ours):>16}")
    return min(ours), min(theirs)


# -- (d) requests per second ------------------------------------------------------------------


@dataclass
class Load:
    per_second: float
    requests: int
    errors: int
    p99_ms: float | None
    server_cpu_ms: float  # per request
    database_cpu_ms: float
    client_cpu_ms: float


def wrk(
    url: str, duration: float, *, connections: int = CONNECTIONS, script: Path | None = None
) -> tuple[float, int, int, float | None]:
    """Requests/s, requests, errors (non-2xx and socket errors) and p99 ms; ``script`` is
    a wrk Lua script that makes the requests."""
    result = subprocess.run(  # noqa: S603 (our own arguments)
        [
            WRK or "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            *(("-s", str(script)) if script else ()),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found[1])
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return per_second, requests, errors, float(p99[1]) * scale[p99[2]] if p99 else None


def httpx_load(url: str, duration: float) -> tuple[float, int, int, float | None]:
    """wrk's figures from CONNECTIONS asyncio clients, for machines without wrk."""

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + duration
        limits = httpx.Limits(max_connections=CONNECTIONS)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    try:
                        response = await client.get(url)
                        ok = response.status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    latencies.append(time.perf_counter() - started)
                    errors += not ok

            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return latencies, errors

    started = time.perf_counter()
    latencies, errors = asyncio.run(run())
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None
    return len(latencies) / elapsed, len(latencies), errors, p99


def measure_load(server: Server, path: str, duration: float, database: list[int]) -> Load:
    generate = wrk if WRK else httpx_load
    generate(server.url(path), 1)  # warm-up: pool connections, caches
    pids = family(server.pid)
    server_cpu, database_cpu = cpu_seconds(pids), cpu_seconds(database)
    client_cpu = _children_cpu() if generate is wrk else time.process_time()
    per_second, requests, errors, p99 = generate(server.url(path), duration)
    client_cpu = (_children_cpu() if generate is wrk else time.process_time()) - client_cpu
    per_request = 1000 / max(requests, 1)
    return Load(
        per_second,
        requests,
        errors,
        p99,
        (cpu_seconds(pids) - server_cpu) * per_request,
        (cpu_seconds(database) - database_cpu) * per_request,
        client_cpu * per_request,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- (e) concurrent uploads -------------------------------------------------------------------


def concurrent_uploads(server: Server, count: int, size: int) -> tuple[int, float, list[str]]:
    """``count`` uploads of ``size`` distinct random bytes, all started at once, half raw
    and half multipart: failures, p95 seconds (of all, failures included), some errors."""
    # A text start: plain random bytes pass for an MP3 or a BMP about once in 6,000, and
    # the server rightly refuses those as .bin
    bodies = [b"bench bytes\n" + os.urandom(size - 12) for _ in range(count)]

    async def run() -> list[tuple[float, str | None]]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(
            base_url=server.url(""), headers=AUTH, limits=limits, timeout=120
        ) as client:

            async def one(index: int) -> tuple[float, str | None]:
                name = f"concurrent-{index:03d}.tar"
                started = time.perf_counter()
                try:
                    if index % 2:
                        response = await client.put(f"/api/v1/files/{name}", content=bodies[index])
                    else:
                        response = await client.post(
                            "/api/v1/files",
                            files={"file": (name, bodies[index], "application/octet-stream")},
                        )
                except httpx.HTTPError as error:
                    return time.perf_counter() - started, f"{type(error).__name__}: {error}"
                error_text = None
                if response.status_code != 201:
                    error_text = f"{response.status_code} {response.text[:200]}"
                return time.perf_counter() - started, error_text

            return await asyncio.gather(*(one(index) for index in range(count)))

    results = asyncio.run(run())
    seconds = sorted(s for s, _ in results)
    errors = [error for _, error in results if error is not None]
    return len(errors), seconds[int(len(seconds) * 0.95) - 1], errors[:3]


# -- databases ---------------------------------------------------------------------------------


def recreate(url: str, *, create: bool = True) -> None:
    """Drop the database a server URL names; then create it empty, unless told not to."""
    target = make_url(url)
    name = target.database or ""
    admin = sa.create_engine(target._replace(database=None), poolclass=sa.NullPool)
    quote = admin.dialect.identifier_preparer.quote
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote(name)}")
        if create:
            connection.exec_driver_sql(f"CREATE DATABASE {quote(name)}")
    admin.dispose()


def migrate(url: str) -> str:
    """Bring the database to the newest revision; returns its server's name."""
    engine = create_database_engine(Settings(database_url=url))
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
    engine.dispose()
    return "mariadb" if getattr(engine.dialect, "is_mariadb", False) else engine.dialect.name


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    value: str
    target: str
    met: bool | None  # None: not measured or no target

    def line(self) -> str:
        verdict = {True: "ok", False: "MISSED", None: ""}[self.met]
        return f"  {self.measure:<58} {self.value:>14}  {self.target:<16} {verdict}"


@dataclass
class Run:
    args: argparse.Namespace
    work: Path
    cleanups: contextlib.ExitStack
    rows: list[Row] = field(default_factory=list)

    def wanted(self, section: str) -> bool:
        return section not in (self.args.skip or [])

    def env(self, data_dir: Path, url: str) -> dict[str, str]:
        return {
            "FILEWALLBALL_DATA_DIR": str(data_dir),
            "FILEWALLBALL_DATABASE_URL": url,
            "FILEWALLBALL_ADMIN_TOKEN": TOKEN,
        }

    def start(
        self, name: str, app: str, env: dict[str, str], *, ready: str = "/health", workers: int = 1
    ) -> Server:
        server = start(name, app, env, self.work, ready=ready, workers=workers)
        self.cleanups.callback(server.stop)
        return server


def files_section(run: Run) -> None:
    """(a), (b), (c) and (e) on --database-url."""
    args = run.args
    data_dir = run.work / "data"
    url = args.database_url or f"sqlite:///{data_dir / 'filewallball.db'}"
    data_dir.mkdir()
    dialect = migrate(url)
    server = run.start("filewallball", "filewallball.api:create_app", run.env(data_dir, url))
    print(
        f"\n== {dialect}: {args.size_mib:,} MiB uploads (http.client, body by sendfile) "
        f"and downloads, best of {args.rounds}"
    )
    if run.wanted("a") or run.wanted("b") or run.wanted("c"):
        big_file(run, server, data_dir)
    if run.wanted("e"):
        concurrent_row(run, server, dialect)
    server.stop()


def big_file(run: Run, server: Server, data_dir: Path) -> None:
    size = run.args.size_mib * MiB
    block = os.urandom(16 * MiB)
    source = run.work / "source.bin"
    make_source(source, size, block)
    if run.wanted("a") or run.wanted("b"):
        done = measure_uploads(
            server, data_dir, source, size=size, block=block, rounds=run.args.rounds
        )
        stored = done.raw[-1].answer
        local = min(done.local)
        for label, sent in (("raw PUT", done.raw), ("multipart POST", done.multipart)):
            ratio = local / min(s.seconds for s in sent)
            growth = max(s.rss_growth for s in sent) / MiB
            if run.wanted("a"):
                run.rows.append(
                    Row(
                        f"(a) {label} upload, ratio of local limit",
                        f"{ratio:.2f}",
                        ">= 0.7",
                        ratio >= 0.7,
                    )
                )
            if run.wanted("b"):
                run.rows.append(
                    Row(
                        f"(b) peak RSS growth during {label}",
                        f"{growth:.1f} MiB",
                        "< 50 MiB",
                        growth < 50,
                    )
                )
    else:
        stored = upload(server, source, size, "c.tar", multipart=False, tag="c").answer
    source.unlink()
    if run.wanted("c"):
        content_hash = str(stored["file_hash"])
        blob = data_dir / "blobs" / content_hash[:2] / content_hash[2:4] / content_hash
        bare = run.start(
            "bare-file", "bench.http_apps:file_app", {"FWB_BENCH_FILE": str(blob)}, ready="/file"
        )
        ours, theirs = measure_downloads(
            server, bare, str(stored["file_uuid"]), size, run.args.rounds
        )
        bare.stop()
        ratio = theirs / ours
        run.rows.append(
            Row("(c) download, ratio of bare FileResponse", f"{ratio:.2f}", ">= 0.9", ratio >= 0.9)
        )


def concurrent_row(run: Run, server: Server, dialect: str) -> None:
    failures, p95, errors = concurrent_uploads(server, CONCURRENT_UPLOADS, MiB)
    print(
        f"  {CONCURRENT_UPLOADS} concurrent 1 MiB uploads on {dialect}: {failures} failed, p95 {p95:.2f} s"
    )
    for error in errors:
        print(f"    {error}")
    run.rows.append(
        Row(
            f"(e) {CONCURRENT_UPLOADS} concurrent 1 MiB uploads, {dialect}: failures, p95",
            f"{failures}, {p95:.2f} s",
            "0, < 3 s",
            failures == 0 and p95 < 3,
        )
    )


def metadata_section(run: Run) -> None:
    """(d), and (e) on the metadata database."""
    args = run.args
    url = args.metadata_database_url
    recreate(url)
    if not args.keep:
        run.cleanups.callback(recreate, url, create=False)
    dialect = migrate(url)
    data_dir = run.work / "metadata-data"
    data_dir.mkdir()
    env = run.env(data_dir, url)
    database = database_pids(url)
    tool = "wrk -t1" if WRK else "httpx asyncio"
    print(
        f"\n== {dialect}: metadata GET of one public file (category, 2 tags), {CONNECTIONS} "
        f"connections for {args.duration:g} s ({tool}); CPU ms per request"
    )
    print(
        f"  {'app':<36} {'requests/s':>11} {'per worker':>11} {'p99 ms':>8} {'errors':>7} {'server':>7} {'database':>9} {'client':>7}"
    )
    for workers in (1, 2):
        bare = run.start(
            f"bare-json-{workers}",
            "bench.http_apps:json_app",
            {},
            ready="/api/v1/files/x",
            workers=workers,
        )
        server = run.start(
            f"filewallball-{workers}", "filewallball.api:create_app", env, workers=workers
        )
        if workers == 1:
            answer = httpx.put(
                server.url("/api/v1/files/notes.txt?tags=bench,metadata&category=documents"),
                content=b"what the metadata GET reads\n",
                headers=AUTH,
            )
            answer.raise_for_status()
            file_uuid = answer.json()["file_uuid"]
            httpx.get(server.url(f"/api/v1/files/{file_uuid}/content")).raise_for_status()
        path = f"/api/v1/files/{file_uuid}"
        for label, target, pids in (
            (f"bare FastAPI JSON, {workers} worker(s)", bare, []),
            (f"FileWallBall, {workers} worker(s)", server, database),
        ):
            load = measure_load(target, path, args.duration, pids)
            print(
                f"  {label:<36} {load.per_second:>11,.0f} {load.per_second / workers:>11,.0f} "
                f"{load.p99_ms or 0:>8.1f} {load.errors:>7} {load.server_cpu_ms:>7.2f} "
                f"{load.database_cpu_ms if pids else 0:>9.2f} {load.client_cpu_ms:>7.2f}"
            )
            if target is server:
                run.rows.append(
                    Row(
                        f"(d) metadata GET, {dialect}, {workers} worker(s): req/s per worker",
                        f"{load.per_second / workers:,.0f}",
                        ">= 1,000",
                        load.per_second / workers >= 1000 and load.errors == 0,
                    )
                )
            else:
                run.rows.append(
                    Row(
                        f"    bare FastAPI JSON, {workers} worker(s): req/s per worker",
                        f"{load.per_second / workers:,.0f}",
                        "",
                        None,
                    )
                )
        bare.stop()
        if workers == 1 and run.wanted("e"):
            concurrent_row(run, server, dialect)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the big upload")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each upload and download")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each load run")
    parser.add_argument(
        "--database-url", help="database of (a)-(c) and (e); default SQLite in the data directory"
    )
    parser.add_argument(
        "--metadata-database-url",
        default="mysql+pymysql://root@127.0.0.1:3306/fwb_bench_http",
        help="database of (d) and (e), dropped and created by the run",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=sorted(SECTIONS),
        help="leave a section out (repeatable): "
        + ", ".join(f"{key} {name}" for key, name in SECTIONS.items()),
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directories and the (d) database"
    )
    args = parser.parse_args()
    if args.size_mib < 2:
        parser.error("--size-mib must be at least 2")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fwb_bench_http_"))
    with contextlib.ExitStack() as cleanups:
        if args.keep:
            print(f"keeping {work}")
        else:
            cleanups.callback(shutil.rmtree, work, ignore_errors=True)
        run = Run(args, work, cleanups)
        try:
            if {"a", "b", "c", "e"} - set(args.skip or []):
                files_section(run)
            if run.wanted("d") or run.wanted("e"):
                metadata_section(run)
        finally:
            _report(run.rows, started, load_before)


def _report(rows: list[Row], started: float, load_before: float) -> None:
    if not rows:
        return
    print(
        f"\n== results ({os.cpu_count()} CPUs shared by the clients, the servers and the database)"
    )
    print(f"  {'measure':<58} {'value':>14}  {'target':<16}")
    for row in rows:
        print(row.line())
    print(
        f"  {time.perf_counter() - started:.0f} s; load average {load_before:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end. Timings depend on what else the machine is "
        "doing: compare the ratios, not absolute numbers."
    )


if __name__ == "__main__":
    main()
