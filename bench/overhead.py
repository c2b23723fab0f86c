"""Overhead benchmark: FileWallBall as a real Granian process, against what this machine
allows and against bare apps on the same server.

    .venv/bin/python -m bench.overhead                          # 1 GiB uploads, 10 s load runs
    .venv/bin/python -m bench.overhead --size-mib 64 --duration 3 --skip e

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

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench import load
from bench.databases import migrate, recreate
from bench.processes import PeakRss, Server, cpu_seconds, family, granian, pids_named
from filewallball.uploading import BATCH_BYTES

MiB = 1024 * 1024
TOKEN = secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONNECTIONS = 32
CONCURRENT_UPLOADS = 100
SECTIONS = {
    "a": "upload throughput",
    "b": "RSS growth during uploads",
    "c": "download throughput",
    "d": "metadata GETs per second",
    "e": "concurrent small uploads",
}


# -- (a), (b) uploads --------------------------------------------------------------------------


@dataclass
class Sent:
    seconds: float
    client_cpu: float
    server_cpu: float
    rss_growth: int
    answer: dict[str, object]


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
    with PeakRss(server.pid) as rss, source.open("rb") as body:
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
        f"  {'upload of ' + format(size // MiB, ',') + ' MiB':<36} {'best MB/s':>10} "
        f"{'runs s':>16} {'client CPU s':>13} {'server CPU s':>13} {'RSS +MiB':>9}"
    )
    print(
        f"  {'local limit (hash + write + fsync)':<36} {mb / min(done.local):>10.0f} "
        f"{_runs(done.local):>16}"
    )
    for label, sents in (("raw PUT", done.raw), ("multipart POST", done.multipart)):
        seconds = [s.seconds for s in sents]
        print(
            f"  {label:<36} {mb / min(seconds):>10.0f} {_runs(seconds):>16} "
            f"{max(s.client_cpu for s in sents):>13.2f} {max(s.server_cpu for s in sents):>13.2f} "
            f"{max(s.rss_growth for s in sents) / MiB:>9.1f}"
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
    ours: list[float] = []
    theirs: list[float] = []
    for run in range(rounds + 1):
        for port, path, times in ((bare.port, "/file", theirs), (server.port, ours_path, ours)):
            seconds, received = download(port, path)
            if received != size:
                raise RuntimeError(f"{path}: {received} bytes, not {size}")
            if run:
                times.append(seconds)
    mb = size / 1e6
    print(
        f"  {'download of ' + format(size // MiB, ',') + ' MiB':<36} {'best MB/s':>10} "
        f"{'runs s':>16}"
    )
    print(f"  {'bare Starlette FileResponse':<36} {mb / min(theirs):>10.0f} {_runs(theirs):>16}")
    print(f"  {'GET /api/v1/files/{uuid}/content':<36} {mb / min(ours):>10.0f} {_runs(ours):>16}")
    return min(ours), min(theirs)


# -- (d) requests per second ------------------------------------------------------------------


@dataclass
class Costs:
    found: load.Load
    server_cpu_ms: float  # per request
    database_cpu_ms: float
    client_cpu_ms: float


def measure_load(server: Server, path: str, duration: float, database: list[int]) -> Costs:
    request = load.Request(path)
    load.run(server.port, request, 1, connections=CONNECTIONS)  # warm-up: pools, caches
    pids = family(server.pid)
    server_cpu, database_cpu = cpu_seconds(pids), cpu_seconds(database)
    client_cpu = load.client_cpu_seconds()
    found = load.run(server.port, request, duration, connections=CONNECTIONS)
    per_request = 1000 / max(found.requests, 1)
    return Costs(
        found,
        (cpu_seconds(pids) - server_cpu) * per_request,
        (cpu_seconds(database) - database_cpu) * per_request,
        (load.client_cpu_seconds() - client_cpu) * per_request,
    )


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
        server = Server(
            name, granian(app, workers=workers), self.work / f"{name}.log", env, ready=ready
        )
        self.cleanups.callback(server.stop)
        return server.start()


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
    load.big_file(source, size, block)
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
            "bare-file", "bench.bare_apps:file_app", {"FWB_BENCH_FILE": str(blob)}, ready="/file"
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
        f"  {CONCURRENT_UPLOADS} concurrent 1 MiB uploads on {dialect}: {failures} failed, "
        f"p95 {p95:.2f} s"
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
    local = make_url(url).host in ("127.0.0.1", "localhost", None)
    database = pids_named("mariadbd", "mysqld", "postgres") if local else []
    tool = "wrk -t1" if load.WRK else "httpx asyncio"
    print(
        f"\n== {dialect}: metadata GET of one public file (category, 2 tags), {CONNECTIONS} "
        f"connections for {args.duration:g} s ({tool}); CPU ms per request"
    )
    print(
        f"  {'app':<36} {'requests/s':>11} {'per worker':>11} {'p99 ms':>8} {'errors':>7} "
        f"{'server':>7} {'database':>9} {'client':>7}"
    )
    for workers in (1, 2):
        bare = run.start(
            f"bare-json-{workers}",
            "bench.bare_apps:json_app",
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
            costs = measure_load(target, path, args.duration, pids)
            found = costs.found
            print(
                f"  {label:<36} {found.per_second:>11,.0f} {found.per_second / workers:>11,.0f} "
                f"{found.p99_ms or 0:>8.1f} {found.errors:>7} {costs.server_cpu_ms:>7.2f} "
                f"{costs.database_cpu_ms if pids else 0:>9.2f} {costs.client_cpu_ms:>7.2f}"
            )
            if target is server:
                run.rows.append(
                    Row(
                        f"(d) metadata GET, {dialect}, {workers} worker(s): req/s per worker",
                        f"{found.per_second / workers:,.0f}",
                        ">= 1,000",
                        found.per_second / workers >= 1000 and found.errors == 0,
                    )
                )
            else:
                run.rows.append(
                    Row(
                        f"    bare FastAPI JSON, {workers} worker(s): req/s per worker",
                        f"{found.per_second / workers:,.0f}",
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
