"""Peer benchmark: FileWallBall beside copyparty, the file server our users would pick instead.

    .venv/bin/python -m bench.peers                        # 5 rounds of 10 s runs, about an hour
    .venv/bin/python -m bench.peers --rounds 2 --duration 5 --size-mib 256
    .venv/bin/python -m bench.peers --only upload --database sqlite --workers 1

It installs copyparty (PyPI) into a virtual environment of its own under
~/.cache/filewallball-bench/, then in each round starts, one at a time and the order rotated
from round to round, on 127.0.0.1:

  copyparty plain     ``-v DIR:f:A,bench`` (PUT writes the file, no index, no fsync)
  copyparty indexed   the same with ``:c,e2dsa,dedup,hardlinkonly`` (SHA-512 index, dedup)
  FileWallBall        ``filewallball serve`` on SQLite, MariaDB and PostgreSQL

each with 1 and 2 worker processes (copyparty ``-j``), with a fresh data directory (blobs,
copyparty's upload folder and its index), and measures:

  upload      64 KiB PUTs of unique text, 16 connections: files/s, p50 and p99 ms
  download    GETs of one 64 KiB file, 32 connections: requests/s
  metadata    the metadata of that file as JSON (copyparty: ``?ls`` of a folder holding
              it alone), 32 connections
  list        the newest 50 of --files files (copyparty: ``?ls`` of a folder holding them
              all, as it has no pages), one request at a time: the median ms (a ``?ls``
              of 100,000 files takes seconds, too long for a duration of wrk)
  big         (1 worker) a --size-mib upload (``curl -T``) and its download, MB/s, and the
              server's RSS at its peak during each

and, with every figure, the server's CPU per request. The load generator is wrk when
installed (a Lua script for the unique PUTs), else an httpx asyncio loop, and it is pinned
to the last core with taskset. Each round also measures the durable-write limit of this
disk: 64 KiB written, SHA-256, fsync, rename, directory fsync, from 1 and 4 threads.

The listing's files are made once per run: FileWallBall's rows go into the database of each
dialect straight through the bulk insert (``bench/db.py``'s realistic shapes; the database
is dropped and made again by the run, and the uploads of every round add to it), copyparty's
are empty-ish files on disk in a folder that all its starts share (the indexed
configuration builds its index of them at its first start, before anything is measured).
Every blob FileWallBall is sent is new content, so none is deduplicated against a row of an
earlier start.

It prints each figure's median over the rounds with its spread, then the median of the
per-round ratios FileWallBall / copyparty (uploads against copyparty indexed, everything
else against copyparty plain; uploads also against the durable-write limit), and what a
second worker gives each server. Clients, servers and databases share this machine's cores
with whatever else runs here: copyparty's own figures moved 2.5x between runs, so only the
same-round ratios mean much.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.orm import sessionmaker

from bench import load
from bench.databases import DIALECTS, database_url, fresh, recreate, rendered
from bench.db import specs
from bench.processes import FILEWALLBALL, PeakRss, Server, cpu_seconds, family, rss_bytes
from filewallball.database import create_database_engine
from filewallball.operations import files
from filewallball.settings import Settings

KiB, MiB = 1024, 1024 * 1024
SMALL = 64 * KiB
COPYPARTY = "copyparty~=1.20.0"
COPYPARTY_HOME = Path.home() / ".cache" / "filewallball-bench" / "copyparty-venv"
PASSWORD = secrets.token_urlsafe(12)  # copyparty's account, for the length of the run
TOKEN = secrets.token_urlsafe(24)
INDEXED = ":c,e2dsa,dedup,hardlinkonly"
CONNECTIONS = {"upload": 16, "download": 32, "metadata": 32}
WORKLOADS = ("upload", "download", "metadata", "list", "big")
DATABASE_NAME = "fwb_bench_peers"
CPU = (os.cpu_count() or 1) - 1  # the load generator's core


# -- what a figure is, and which copyparty it is held against ------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    form: str
    reference: str | None = None  # the copyparty configuration of the ratio


FIGURES = {
    "upload_per_s": Figure("64 KiB uploads, files/s", "{:,.0f}", "copyparty indexed"),
    "upload_p50": Figure("  p50 ms", "{:,.1f}", "copyparty indexed"),
    "upload_p99": Figure("  p99 ms", "{:,.1f}", "copyparty indexed"),
    "upload_cpu": Figure("  server CPU ms per upload", "{:.2f}"),
    "download_per_s": Figure("64 KiB downloads, req/s", "{:,.0f}", "copyparty plain"),
    "download_cpu": Figure("  server CPU ms per download", "{:.2f}"),
    "metadata_per_s": Figure("metadata of one file, req/s", "{:,.0f}", "copyparty plain"),
    "metadata_cpu": Figure("  server CPU ms per request", "{:.2f}"),
    "list_ms": Figure("newest 50 of the listing, p50 ms", "{:,.1f}", "copyparty plain"),
    "list_cpu": Figure("  server CPU ms per listing", "{:,.1f}"),
    "big_upload": Figure("big upload, MB/s", "{:,.0f}", "copyparty indexed"),
    "big_upload_rss": Figure("  server RSS peak, MiB", "{:,.0f}"),
    "big_download": Figure("big download, MB/s", "{:,.0f}", "copyparty plain"),
    "big_download_rss": Figure("  server RSS peak, MiB", "{:,.0f}"),
    "rss_start": Figure("server RSS once started, MiB", "{:,.0f}"),
    "errors": Figure("errors (all workloads)", "{:.0f}"),
}


# -- copyparty -------------------------------------------------------------------------------


def copyparty_python() -> Path:
    """The interpreter of copyparty's own virtual environment, made on the first run."""
    python = COPYPARTY_HOME / "bin" / "python"
    found = (
        python.exists()
        and not subprocess.run(  # noqa: S603 (our own arguments)
            [python, "-c", "import copyparty"], capture_output=True, check=False
        ).returncode
    )
    if not found:
        print(f"installing {COPYPARTY} into {COPYPARTY_HOME}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", COPYPARTY_HOME], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603 (our own arguments)
            [python, "-m", "pip", "install", "-q", COPYPARTY], check=True
        )
    return python


def copyparty_version(python: Path) -> str:
    found = subprocess.run(  # noqa: S603 (our own arguments)
        [python, "-m", "copyparty", "--version"], capture_output=True, text=True, check=False
    )
    return (found.stdout or found.stderr).split("\n", 1)[0].strip()


def fill_folder(folder: Path, count: int) -> None:
    """``count`` small text files, their modification times spread over two years (as the
    database's upload times are)."""
    folder.mkdir(parents=True)
    now = time.time()
    rng = random.Random(2026)
    for index in range(count):
        path = folder / f"file-{index:07d}.txt"
        path.write_bytes(b"listed file %d\n" % index)
        stamp = now - rng.randrange(730 * 86_400)
        os.utime(path, (stamp, stamp))


# -- FileWallBall's databases -----------------------------------------------------------------


def fill_database(dialect: str, work: Path, count: int) -> str:
    """The run's database of ``dialect``, made again and holding ``count`` files."""
    url = database_url(dialect, DATABASE_NAME, work)
    fresh(url)
    engine = create_database_engine(Settings(database_url=rendered(url)))
    sessions = sessionmaker(engine)
    batch = list(specs(random.Random(2026), count, contents=f"peers-{dialect}"))
    for start in range(0, count, 10_000):
        with sessions.begin() as session:
            files.bulk_insert_files(session, batch[start : start + 10_000])
    engine.dispose()
    return rendered(url)


# -- one server, one configuration --------------------------------------------------------------


@dataclass
class Peer:
    """How to start one server and what each workload asks of it."""

    name: str
    workers: int
    command: Callable[[Path], list[str]]  # from a fresh data directory
    env: Callable[[Path], dict[str, str]]
    headers: tuple[tuple[str, str], ...]
    upload_prefix: str
    ready: str

    @property
    def label(self) -> str:
        return f"{self.name}, {self.workers}w"

    @property
    def is_copyparty(self) -> bool:
        return self.name.startswith("copyparty")

    def upload(self, port: int, body: bytes) -> str:
        """PUT the file the downloads and the metadata requests read; the path that
        downloads it. copyparty's goes into a folder of its own, whose ``?ls`` is the
        nearest it has to one file's metadata."""
        name = "one/one.txt" if self.is_copyparty else "one.txt"
        answer = httpx.put(
            f"http://127.0.0.1:{port}{self.upload_prefix}{name}",
            content=body,
            headers=dict(self.headers),
            timeout=60,
        )
        answer.raise_for_status()
        if self.is_copyparty:
            return f"{self.upload_prefix}{name}"
        return f"/api/v1/files/{answer.json()['file_uuid']}/content"

    def metadata(self, content: str) -> load.Request:
        if self.is_copyparty:
            return load.Request(content.removesuffix("one.txt") + "?ls", headers=self.headers)
        return load.Request(content.removesuffix("/content"), headers=self.headers)

    def listing(self) -> load.Request:
        if self.is_copyparty:
            return load.Request("/big/?ls", headers=self.headers)
        return load.Request("/api/v1/files?limit=50", headers=self.headers)


def copyparty_peer(python: Path, big: Path, *, indexed: bool, workers: int) -> Peer:
    flags = INDEXED if indexed else ""

    def command(data: Path) -> list[str]:
        return [
            *(str(python), "-m", "copyparty", "-q", "-i", "127.0.0.1", "-p", "{port}"),
            *("--http-only", "--no-thumb", "-j", str(workers), "-a", f"bench:{PASSWORD}"),
            *("-v", f"{data}:f:A,bench{flags}", "-v", f"{big}:big:A,bench{flags}"),
        ]

    return Peer(
        "copyparty indexed" if indexed else "copyparty plain",
        workers,
        command,
        lambda data: {"XDG_CONFIG_HOME": str(data.parent / f"{data.name}-config")},
        (("PW", PASSWORD),),
        "/f/",
        "/",
    )


def filewallball_peer(dialect: str, url: str, *, workers: int) -> Peer:
    return Peer(
        f"FileWallBall {dialect}",
        workers,
        lambda _data: [FILEWALLBALL, "serve", "--port", "{port}", "--workers", str(workers)],
        lambda data: {
            "FILEWALLBALL_DATA_DIR": str(data),
            "FILEWALLBALL_DATABASE_URL": url,
            "FILEWALLBALL_ADMIN_TOKEN": TOKEN,
        },
        (("Authorization", f"Bearer {TOKEN}"),),
        "/api/v1/files/",
        "/health",
    )


def settle(pids: list[int], timeout: float = 600) -> None:
    """Wait until the server spends under 5% of a core: copyparty indexes its folders in the
    background after it answers."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pids)
        if now - before < 0.025:
            return
        before = now


@dataclass
class Context:
    args: argparse.Namespace
    work: Path
    source: Path | None  # the big file


def measure(peer: Peer, context: Context) -> dict[str, float]:
    """One start of ``peer`` on a fresh data directory, every workload wanted."""
    data = context.work / f"{peer.name.replace(' ', '-')}-{secrets.token_hex(4)}"
    server = Server(
        peer.label,
        peer.command(data),
        context.work / f"{data.name}.log",
        peer.env(data),
        ready=peer.ready,
    )
    server.start()
    try:
        pids = family(server.pid)
        settle(pids)
        figures = {"rss_start": rss_bytes(pids) / MiB, "errors": 0.0}
        wanted = context.args.only or WORKLOADS
        duration = context.args.duration

        def run(name: str, request: load.Request) -> load.Load:
            connections = CONNECTIONS[name]
            load.run(server.port, request, 1, connections=connections, cpu=CPU)  # warm-up
            before = cpu_seconds(pids)
            found = load.run(server.port, request, duration, connections=connections, cpu=CPU)
            figures[f"{name}_per_s"] = found.per_second
            figures[f"{name}_cpu"] = (cpu_seconds(pids) - before) * 1000 / max(found.requests, 1)
            figures["errors"] += found.errors
            return found

        if "upload" in wanted:
            found = run("upload", load.Request(peer.upload_prefix, "PUT", peer.headers, SMALL))
            figures["upload_p50"] = found.p50_ms or 0.0
            figures["upload_p99"] = found.p99_ms or 0.0
        if {"download", "metadata"} & set(wanted):
            content = peer.upload(server.port, unique_text(SMALL))
            if "download" in wanted:
                run("download", load.Request(content, headers=peer.headers))
            if "metadata" in wanted:
                run("metadata", peer.metadata(content))
        if "list" in wanted:
            before = cpu_seconds(pids)
            found = load.one_at_a_time(server.port, peer.listing(), duration)
            figures["list_ms"] = found.p50_ms or 0.0
            figures["list_cpu"] = (cpu_seconds(pids) - before) * 1000 / found.requests
            figures["errors"] += found.errors
        if "big" in wanted and peer.workers == 1 and context.source:
            figures.update(big_transfers(peer, server, context.source))
        return figures
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def unique_text(size: int) -> bytes:
    head = f"bench {secrets.token_hex(16)}\n".encode()
    return (
        head
        + b"FileWallBall bench line of text\n" * ((size - len(head)) // 32)
        + b"\n" * ((size - len(head)) % 32)
    )


def big_transfers(peer: Peer, server: Server, source: Path) -> dict[str, float]:
    """Upload ``source`` with a first line of its own (no server has seen the content) and
    download it again, both by curl pinned to the generator's core."""
    with source.open("r+b") as file:
        file.write(f"bench bytes {secrets.token_hex(8)}\n".encode())
    headers = [part for name, value in peer.headers for part in ("-H", f"{name}: {value}")]
    answer = source.with_suffix(".answer")
    with PeakRss(server.pid) as up:
        status, up_speed = load.curl(
            *headers,
            *("-o", str(answer), "-w", "%{http_code} %{speed_upload}", "-T", str(source)),
            server.url(f"{peer.upload_prefix}big.tar"),
            cpu=CPU,
        )
    if status != "201":
        raise RuntimeError(
            f"{peer.label}: the big upload answered {status}: {answer.read_text()[:300]}"
        )
    if peer.is_copyparty:
        content = f"{peer.upload_prefix}big.tar"
    else:
        content = f"/api/v1/files/{json.loads(answer.read_text())['file_uuid']}/content"
    with PeakRss(server.pid) as down:
        status, down_speed, size = load.curl(
            *headers,
            *("-o", "/dev/null", "-w", "%{http_code} %{speed_download} %{size_download}"),
            server.url(content),
            cpu=CPU,
        )
    if status != "200" or int(size) != source.stat().st_size:
        raise RuntimeError(f"{peer.label}: the big download answered {status}, {size} bytes")
    return {
        "big_upload": float(up_speed) / 1e6,
        "big_upload_rss": up.peak / MiB,
        "big_download": float(down_speed) / 1e6,
        "big_download_rss": down.peak / MiB,
    }


# -- the durable-write limit -------------------------------------------------------------------


def durable_limit(directory: Path, threads: int, duration: float) -> float:
    """Files/s of the least a durable 64 KiB upload costs: write, SHA-256, fsync, rename into
    place, fsync of the directory, from ``threads`` threads at once."""
    directory.mkdir(parents=True)
    deadline = time.perf_counter() + duration
    done = [0] * threads

    def writer(number: int) -> None:
        folder = os.open(directory, os.O_RDONLY)
        try:
            while time.perf_counter() < deadline:
                body = unique_text(SMALL)
                name = hashlib.sha256(body).hexdigest()
                staged = directory / f".{name}.part"
                with staged.open("xb") as file:
                    file.write(body)
                    file.flush()
                    os.fsync(file.fileno())
                staged.rename(directory / name)
                os.fsync(folder)
                done[number] += 1
        finally:
            os.close(folder)

    started = time.perf_counter()
    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    shutil.rmtree(directory)
    return sum(done) / seconds


# -- report ------------------------------------------------------------------------------------


Round = dict[str, dict[str, float]]  # peer label -> figure -> value


def spread(values: list[float], form: str) -> str:
    if not values:
        return "-"
    middle = form.format(statistics.median(values))
    if len(values) == 1:
        return middle
    return f"{middle} ({form.format(min(values))}-{form.format(max(values))})"


def report(rounds: list[Round], limits: list[dict[int, float]], peers: list[Peer]) -> None:
    names = list(dict.fromkeys(peer.name for peer in peers))
    ours = [n for n in names if not n.startswith("copyparty")]
    workers = sorted({peer.workers for peer in peers})
    print(f"\n== medians over {len(rounds)} rounds (min-max)")
    for threads in (1, 4):
        values = [limit[threads] for limit in limits]
        print(f"  durable-write limit, {threads} thread(s): {spread(values, '{:,.0f}')} files/s")
    for count in workers:
        rows = [
            (
                figure.label,
                [spread(values_of(rounds, f"{n}, {count}w", key), figure.form) for n in names],
            )
            for key, figure in FIGURES.items()
        ]
        table(f"{count} worker(s)", names, rows, 28)
    print("\n== FileWallBall / copyparty: median of the per-round ratios [each round]")
    print("  (above 1 is better for FileWallBall, but for latencies, where it is worse)")
    for count in workers:
        rows = [
            (
                f"{figure.label.strip()} vs {figure.reference.removeprefix('copyparty ')}",
                [
                    ratio_cell(rounds, f"{n}, {count}w", f"{figure.reference}, {count}w", key)
                    for n in ours
                ],
            )
            for key, figure in FIGURES.items()
            if figure.reference
        ]
        limit_ratios = [
            ratios(
                [
                    r[f"{n}, {count}w"]["upload_per_s"] / limit[4]
                    for r, limit in zip(rounds, limits, strict=True)
                    if "upload_per_s" in r.get(f"{n}, {count}w", {})
                ]
            )
            for n in ours
        ]
        rows.append(("uploads vs durable limit (4 threads)", limit_ratios))
        table(f"{count} worker(s)", ours, rows, 32)
    if len(workers) > 1:
        print(f"\n== {workers[-1]} workers / {workers[0]}: median of the per-round ratios")
        rows = [
            (
                FIGURES[key].label.strip(),
                [
                    ratio_cell(rounds, f"{n}, {workers[-1]}w", f"{n}, {workers[0]}w", key)
                    for n in names
                ],
            )
            for key in FIGURES
            if key.endswith(("_per_s", "_cpu", "_ms"))
        ]
        table("", names, rows, 32)


def values_of(rounds: list[Round], label: str, key: str) -> list[float]:
    return [r[label][key] for r in rounds if key in r.get(label, {})]


def table(title: str, columns: list[str], rows: list[tuple[str, list[str]]], width: int) -> None:
    """Rows with at least one figure, under a header of ``columns``."""
    print(f"\n  {title:<38}" + "".join(f"{c:>{width}}" for c in columns))
    for label, cells in rows:
        if any(cell != "-" for cell in cells):
            print(f"  {label:<38}" + "".join(f"{c:>{width}}" for c in cells))


def ratio_cell(rounds: list[Round], ours: str, theirs: str, key: str) -> str:
    return ratios(
        [
            r[ours][key] / r[theirs][key]
            for r in rounds
            if key in r.get(ours, {}) and r.get(theirs, {}).get(key)
        ]
    )


def ratios(per_round: list[float]) -> str:
    if not per_round:
        return "-"
    each = " ".join(map(_ratio, per_round))
    return f"{_ratio(statistics.median(per_round))} [{each}]"


def _ratio(value: float) -> str:
    """Two decimals, or two significant digits for the ratios that round to 0.00."""
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


# -- the run -----------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each load run")
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the big transfers")
    parser.add_argument("--files", type=int, default=100_000, help="files in the listing")
    parser.add_argument(
        "--only", action="append", choices=WORKLOADS, help="only these workloads (repeatable)"
    )
    parser.add_argument(
        "--database", action="append", choices=DIALECTS, help="FileWallBall on these (repeatable)"
    )
    parser.add_argument(
        "--workers", action="append", type=int, choices=(1, 2), help="worker processes (repeatable)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and databases")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if load.WRK is None:
        print("wrk is not installed: the httpx load generator reaches far fewer requests/s")
    python = copyparty_python()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on the way out
    work = Path(tempfile.mkdtemp(prefix="fwb_bench_peers_"))
    dialects = args.database or list(DIALECTS)
    wanted = args.only or WORKLOADS
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    urls: dict[str, str] = {}
    try:
        print(f"{copyparty_version(python)}; wrk: {load.WRK or 'no'}; work in {work}", flush=True)
        big = work / "listing"
        if "list" in wanted:
            fill_folder(big, args.files)
        else:
            big.mkdir()
        for dialect in dialects:
            urls[dialect] = fill_database(dialect, work, args.files if "list" in wanted else 0)
        print(
            f"listing of {args.files:,} files made in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        source = None
        if "big" in wanted:
            source = work / "source.bin"
            load.big_file(source, args.size_mib * MiB)
        context = Context(args, work, source)
        peers = [
            peer
            for count in args.workers or (1, 2)
            for peer in (
                copyparty_peer(python, big, indexed=False, workers=count),
                copyparty_peer(python, big, indexed=True, workers=count),
                *(filewallball_peer(d, urls[d], workers=count) for d in dialects),
            )
        ]
        rounds: list[Round] = []
        limits: list[dict[int, float]] = []
        for number in range(args.rounds):
            order = peers[number % len(peers) :] + peers[: number % len(peers)]
            print(f"round {number + 1}: {', '.join(p.label for p in order)}", flush=True)
            limits.append({t: durable_limit(work / f"limit-{t}", t, args.duration) for t in (1, 4)})
            figures: Round = {}
            for peer in order:
                figures[peer.label] = measure(peer, context)
                print(f"  {peer.label}: {brief(figures[peer.label])}", flush=True)
            rounds.append(figures)
        report(rounds, limits, peers)
        print(
            f"\n  {time.perf_counter() - started:.0f} s; {os.cpu_count()} cores shared by the load "
            f"generator (pinned to core {CPU}), the servers, the databases and whatever else "
            f"runs here (load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} "
            "at the end): compare the same-round ratios, not absolute numbers."
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            for url in urls.values():
                with contextlib.suppress(Exception):
                    recreate(url, create=False)


def brief(figures: dict[str, float]) -> str:
    shown = (
        "upload_per_s",
        "download_per_s",
        "metadata_per_s",
        "list_ms",
        "big_upload",
        "big_download",
    )
    return ", ".join(f"{key} {figures[key]:,.0f}" for key in shown if key in figures) + (
        f", errors {figures['errors']:.0f}"
    )


if __name__ == "__main__":
    main()
