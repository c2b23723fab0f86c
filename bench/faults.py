"""Fault benchmark: FileWallBall's safety promises under crashes, races and hostile input.

    .venv/bin/python -m bench.faults                      # SQLite, under two minutes
    .venv/bin/python -m bench.faults --uploads 30         # a quick look
    .venv/bin/python -m bench.faults --database-url mysql+pymysql://root@127.0.0.1:3306/fwb_faults

Each scenario runs real ``filewallball serve`` processes on a fresh scratch database (a
SQLite file in its own data directory, or a database named after --database-url plus the
scenario, which it drops and recreates and migrates with ``filewallball db upgrade``):

  crash     rounds of --uploads concurrent raw PUTs (64 KiB-2 MiB, bodies sent slowly);
            SIGKILL the server once a third are acknowledged, restart it (--no-migrate),
            download every acknowledged upload and compare its SHA-256, check that
            blobs/.staging is empty, then ``fsck --repair`` and ``fsck`` (must be clean).
  two-proc  two servers on one database and one data directory, uploads across both drawn
            from 10 contents: the row count, exactly 10 blobs each hashing to its name.
  purge     upload X, delete it, then ``filewallball purge --older-than 0`` while X is
            uploaded again; a live row naming X must download intact.
  restore   --uploads files to the trash, then the purge (in small batches) while every
            one is restored over HTTP, --rounds times: each restore answered 200 must leave
            a live file that downloads intact, each other restore must be 404.
  hostile   about a hundred and fifty malformed or malicious requests (path traversal,
            control characters, huge names, bad multipart, bad JSON, forged cursors, SQL
            and LIKE metacharacters, absurd ranges): none may answer 5xx, and the data
            directory and the files table change only by the uploads that were accepted.
  backup    ``filewallball backup`` while uploads, deletes and purges run; ``restore`` into
            an empty installation and download every file there (SQLite; on MariaDB and
            PostgreSQL: every content the database names is in the backup, verified).

It prints one table and exits 1 when a must-be-0 figure (files lost, corrupt files
served, orphans after repair, 5xx seen) is not 0.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.databases import recreate
from bench.processes import FILEWALLBALL, ROOT, Server
from filewallball.database import Database
from filewallball.maintenance import purge_trash
from filewallball.settings import Settings
from filewallball.storage import LocalBlobStore

KiB = 1024
MiB = 1024 * KiB
TOKEN = secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


# -- processes ------------------------------------------------------------------------------


def cli(env: dict[str, str], *arguments: str, timeout: float = 300) -> tuple[int, str]:
    """``filewallball ARGUMENTS`` with the scenario's settings: (exit code, stdout)."""
    done = subprocess.run(  # noqa: S603 (our own arguments)
        [FILEWALLBALL, *arguments],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode not in (0, 1) or (done.returncode == 1 and not done.stdout):
        raise RuntimeError(f"filewallball {' '.join(arguments)}: {done.stderr.decode()[-2000:]}")
    return done.returncode, done.stdout.decode()


# -- HTTP -----------------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={**AUTH, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def slow_put(
    port: int, name: str, body: bytes, pieces: int, pause: float
) -> tuple[int, dict[str, object] | None]:
    """A raw PUT whose body goes out in ``pieces`` with ``pause`` seconds between them.
    (0, None) when the connection breaks (the server died under it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.putrequest("PUT", f"{API}/files/{quote(name)}")
        connection.putheader("Authorization", AUTH["Authorization"])
        connection.putheader("Content-Length", str(len(body)))
        connection.putheader("Content-Type", "application/octet-stream")
        connection.endheaders()
        step = -(-len(body) // pieces)
        for offset in range(0, len(body), step):
            connection.send(body[offset : offset + step])
            if pause:
                time.sleep(pause)
        response = connection.getresponse()
        answer = response.read()
        if response.status == 201:
            return 201, json.loads(answer)
        return response.status, None
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        connection.close()


def raw(port: int, message: bytes, timeout: float = 20) -> int:
    """Send ``message`` byte for byte (no client-side checks of the target or headers);
    the answer's status, 0 when the server closed or timed out without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        try:
            connection.sendall(message)
            answer = b""
            while b"\r\n" not in answer:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            return 0
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def text_body(rng: random.Random, size: int) -> bytes:
    """``size`` bytes of distinct plain text (unknown extensions and binary under .txt are
    refused, by policy and by sniffing)."""
    line = base64.b64encode(rng.randbytes(size * 3 // 4 + 3))[: size - 1]
    return line + b"\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(port: int, file_uuid: str, expected: str) -> str:
    """'ok', 'lost' (no content answer) or 'corrupt' (bytes that are not ``expected``)."""
    try:
        status, data = request(port, "GET", f"{API}/files/{file_uuid}/content")
    except (OSError, http.client.HTTPException):
        return "lost"
    if status != 200:
        return "lost"
    return "ok" if sha256(data) == expected else "corrupt"


# -- scratch databases ----------------------------------------------------------------------


@dataclass
class Scratch:
    """One scenario's data directory and database, migrated."""

    name: str
    work: Path
    base_url: str | None
    data: Path = field(init=False)
    url: str = field(init=False)
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.data = self.work / self.name
        self.data.mkdir(parents=True)
        if self.base_url:
            target = make_url(self.base_url)
            database = f"{target.database or 'fwb_faults'}_{self.name.replace('-', '_')}"
            self.url = target.set(database=database).render_as_string(hide_password=False)
            recreate(self.url)
        else:
            self.url = f"sqlite:///{self.data / 'filewallball.db'}"
        code, _ = cli(self.env, "db", "upgrade")
        if code:
            raise RuntimeError(f"filewallball db upgrade failed for {self.url}")
        self.engine = sa.create_engine(self.url, poolclass=sa.NullPool)

    @property
    def env(self) -> dict[str, str]:
        return {
            "FILEWALLBALL_DATABASE_URL": self.url,
            "FILEWALLBALL_DATA_DIR": str(self.data),
            "FILEWALLBALL_ADMIN_TOKEN": TOKEN,
        }

    def server(self, label: str = "server") -> Server:
        return Server(
            f"{self.name}-{label}",
            [FILEWALLBALL, "serve", "--host", "127.0.0.1", "--port", "{port}"],
            self.work / f"{self.name}-{label}.log",
            self.env,
            statuses=(200, 503),  # 503: degraded, but serving
            headers=AUTH,
        )

    def scalar(self, sql: str, **parameters: object) -> object:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), parameters).scalar()

    def rows(self, sql: str, **parameters: object) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql), parameters)]

    def blobs(self) -> dict[Path, str]:
        """Every file under blobs/??/??/, with its SHA-256."""
        found = {}
        for path in sorted((self.data / "blobs").glob("??/??/*")):
            if path.is_file():
                found[path] = sha256(path.read_bytes())
        return found

    def staging(self) -> list[Path]:
        staging = self.data / "blobs" / ".staging"
        return sorted(staging.iterdir()) if staging.is_dir() else []

    def fsck_after_repair(self) -> tuple[int, int]:
        """``fsck --repair`` then ``fsck``: (findings the second run still reports, its exit
        code)."""
        cli(self.env, "fsck", "--json", "--cutoff-minutes", "0", "--repair")
        code, output = cli(self.env, "fsck", "--json", "--cutoff-minutes", "0")
        report = json.loads(output)
        return len(report["findings"]), code

    def close(self, *, keep: bool) -> None:
        self.engine.dispose()
        if self.base_url and not keep:
            recreate(self.url, create=False)


# -- results --------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    attempted: int = 0
    faults: int = 0
    verified: int = 0
    lost: int = 0
    corrupt: int = 0
    orphans: int = 0
    hostile: int = 0
    server_errors: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    restored: set[str] = field(default_factory=set)  # backup: the uuids a restore gave back


COLUMNS = [
    ("scenario", "scenario", False),
    ("operations attempted", "attempted", False),
    ("faults injected", "faults", False),
    ("committed files verified", "verified", False),
    ("files lost", "lost", True),
    ("corrupt served", "corrupt", True),
    ("orphans after repair", "orphans", True),
    ("hostile inputs tried", "hostile", False),
    ("5xx seen", "server_errors", True),
]


@dataclass
class Run:
    args: argparse.Namespace
    work: Path
    servers: list[Server] = field(default_factory=list)
    scratches: list[Scratch] = field(default_factory=list)

    def scratch(self, name: str) -> Scratch:
        scratch = Scratch(name, self.work, self.args.database_url)
        self.scratches.append(scratch)
        return scratch

    def serve(self, scratch: Scratch, label: str = "server", *, migrate: bool = False) -> Server:
        server = scratch.server(label)
        self.servers.append(server)
        return server.start(*(() if migrate else ("--no-migrate",)))


def in_threads(count: int, workers: int, job: Callable[[int], object]) -> list[object]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(job, range(count)))


# -- 1. crash -------------------------------------------------------------------------------


def crash(run: Run) -> Result:
    result = Result("crash (SIGKILL)")
    scratch = run.scratch("crash")
    server = run.serve(scratch, migrate=True)
    uploads = run.args.uploads
    rng = random.Random(1)
    acknowledged: dict[str, str] = {}  # uuid -> expected sha256
    for round_number in range(run.args.rounds):
        bodies = [text_body(rng, rng.randint(64 * KiB, 2 * MiB)) for _ in range(uploads)]
        _crash_round(server, bodies, rng, result, acknowledged)
        result.faults += 1
        server.start("--no-migrate")  # same data directory
        leftovers = scratch.staging()
        if leftovers:
            result.orphans += len(leftovers)
            result.notes.append(
                f"round {round_number + 1}: {len(leftovers)} temporary files left in "
                "blobs/.staging after the restart"
            )
        items = list(acknowledged.items())

        def check(i: int, items: list[tuple[str, str]] = items) -> str:
            return verify(server.port, *items[i])

        checks = in_threads(len(items), 8, check)
        result.attempted += len(checks)
        result.lost += checks.count("lost")
        result.corrupt += checks.count("corrupt")
        findings, code = scratch.fsck_after_repair()
        result.orphans += findings or (1 if code else 0)
        if findings or code:
            result.notes.append(
                f"round {round_number + 1}: fsck after repair: {findings} findings, exit {code}"
            )
        result.attempted += 2
    result.verified = len(acknowledged)
    rows = scratch.scalar("SELECT count(*) FROM files")
    result.notes.append(
        f"{len(acknowledged)} uploads acknowledged over {run.args.rounds} kills; "
        f"{rows} rows in the end (unacknowledged uploads may have committed)"
    )
    server.stop()
    return result


def _crash_round(
    server: Server,
    bodies: list[bytes],
    rng: random.Random,
    result: Result,
    acknowledged: dict[str, str],
) -> None:
    """Upload ``bodies`` concurrently and slowly; SIGKILL the server once a third of them
    are acknowledged."""
    acks = 0
    lock = threading.Lock()
    killed = threading.Event()
    delays = [rng.uniform(0, 1.5) for _ in bodies]  # staggered: the kill finds all stages

    def one(index: int) -> None:
        nonlocal acks
        time.sleep(delays[index])
        if killed.is_set():
            return
        status, answer = slow_put(server.port, f"crash-{index}.txt", bodies[index], 8, 0.1)
        with lock:
            result.attempted += 1
            if status >= 500:
                result.server_errors += 1
            if status == 201 and answer is not None:
                acknowledged[str(answer["file_uuid"])] = sha256(bodies[index])
                acks += 1
                if acks >= len(bodies) // 3 and not killed.is_set():
                    killed.set()
                    server.kill()

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    while not killed.wait(0.1) and any(thread.is_alive() for thread in threads):
        pass
    server.kill()  # in case a third never arrived
    for thread in threads:
        thread.join()


# -- 2. two processes -----------------------------------------------------------------------


def two_processes(run: Run) -> Result:
    result = Result("two processes")
    scratch = run.scratch("two-proc")
    first = run.serve(scratch, "first", migrate=True)
    second = run.serve(scratch, "second")
    rng = random.Random(2)
    contents = [text_body(rng, rng.randint(16 * KiB, 512 * KiB)) for _ in range(10)]
    count = run.args.uploads * 2
    lock = threading.Lock()
    committed: list[tuple[str, str]] = []
    statuses: dict[int, int] = {}

    def one(index: int) -> None:
        server = (first, second)[index % 2]
        body = contents[index % len(contents)]
        status, answer = slow_put(server.port, f"shared-{index}.txt", body, 1, 0)
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201 and answer is not None:
                committed.append((str(answer["file_uuid"]), sha256(body)))

    in_threads(count, 16, one)
    result.attempted = count
    result.server_errors = sum(n for status, n in statuses.items() if status >= 500)
    failed = sum(n for status, n in statuses.items() if status != 201)
    if failed:
        result.notes.append(f"two processes: answers {dict(sorted(statuses.items()))}")
    rows = scratch.scalar("SELECT count(*) FROM files")
    if rows != len(committed):
        result.lost += abs(len(committed) - int(str(rows)))
        result.notes.append(f"two processes: {len(committed)} acknowledged but {rows} rows")
    blobs = scratch.blobs()
    wrong = [path for path, digest in blobs.items() if path.name != digest]
    expected = {sha256(body) for body in contents}
    if len(blobs) != 10 or wrong or {path.name for path in blobs} != expected:
        result.corrupt += len(wrong)
        result.orphans += abs(len(blobs) - 10)
        result.notes.append(
            f"two processes: {len(blobs)} blob files (want 10), {len(wrong)} not hashing to "
            "their name"
        )
    checks = in_threads(
        len(committed),
        8,
        lambda i: verify((second, first)[i % 2].port, *committed[i]),
    )
    result.attempted += len(checks)
    result.verified = len(committed)
    result.lost += checks.count("lost")
    result.corrupt += checks.count("corrupt")
    findings, code = scratch.fsck_after_repair()
    result.orphans += findings or (1 if code else 0)
    first.stop()
    second.stop()
    return result


# -- 3. purge race --------------------------------------------------------------------------


def purge_race(run: Run) -> Result:
    result = Result("purge race")
    scratch = run.scratch("purge")
    server = run.serve(scratch, migrate=True)
    rng = random.Random(3)
    per_round = 5
    rounds = max(1, run.args.uploads // 5)
    # How long a purge command takes, so the uploads can be spread across its run.
    started = time.monotonic()
    cli(scratch.env, "purge", "--older-than", "0", "--json")
    purge_seconds = time.monotonic() - started
    live: dict[str, str] = {}  # uuid -> sha256 of rows that must stay intact
    for _ in range(rounds):
        bodies = [text_body(rng, rng.randint(32 * KiB, 256 * KiB)) for _ in range(per_round)]
        for index, body in enumerate(bodies):
            status, answer = slow_put(server.port, f"doomed-{index}.txt", body, 1, 0)
            result.attempted += 1
            result.server_errors += status >= 500
            if answer is None:
                result.notes.append(f"purge race: the first upload answered {status}")
                continue
            status, _ = request(server.port, "DELETE", f"{API}/files/{answer['file_uuid']}")
            result.attempted += 1
            result.server_errors += status >= 500
        purge = subprocess.Popen(  # noqa: S603 (our own arguments)
            [FILEWALLBALL, "purge", "--older-than", "0", "--json"],
            cwd=ROOT,
            env={**os.environ, **scratch.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        result.attempted += 1

        def again(index: int, bodies: list[bytes] = bodies) -> None:
            time.sleep(rng.uniform(0.3, 1.0) * purge_seconds)
            status, answer = slow_put(server.port, f"again-{index}.txt", bodies[index], 4, 0.01)
            result.attempted += 1
            result.server_errors += status >= 500
            if answer is not None:
                live[str(answer["file_uuid"])] = sha256(bodies[index])

        in_threads(per_round, per_round, again)
        _, errors = purge.communicate(timeout=120)
        if purge.returncode:
            result.notes.append(f"purge race: purge exited {purge.returncode}: {errors[-300:]!r}")
        result.faults += per_round
        # Every live row naming one of this round's contents must download intact.
        for body in bodies:
            digest = sha256(body)
            for (file_uuid,) in scratch.rows(
                "SELECT file_uuid FROM files WHERE file_hash = :h AND is_deleted = :d",
                h=digest,
                d=False,
            ):
                live[str(file_uuid)] = digest
                outcome = verify(server.port, str(file_uuid), digest)
                result.attempted += 1
                result.lost += outcome == "lost"
                result.corrupt += outcome == "corrupt"
    # And at the end, all of them again.
    items = list(live.items())
    checks = in_threads(len(items), 8, lambda i: verify(server.port, *items[i]))
    result.lost += checks.count("lost")
    result.corrupt += checks.count("corrupt")
    result.attempted += len(checks)
    result.verified = len(live)
    findings, code = scratch.fsck_after_repair()
    result.orphans += findings or (1 if code else 0)
    result.notes.append(
        f"purge race: {rounds} purges, each racing {per_round} re-uploads "
        f"(purge takes {purge_seconds:.1f} s)"
    )
    server.stop()
    return result


# -- 4. restores racing purges --------------------------------------------------------------

RESTORES_SECONDS = 1.5  # a round's restores are spread over this long
PURGE_AFTER_SECONDS = 0.5  # and the purge starts this long after the first


def restore_race(run: Run) -> Result:
    """Rounds of: --uploads files to the trash, then ``filewallball purge --older-than 0``
    while every one of them is restored over HTTP, at moments spread across the purge's
    run. A restore answered 200 (not deleted) must leave a live file that downloads
    intact; any other restore must be 404 (purged first)."""
    result = Result("restore race")
    scratch = run.scratch("restore")
    server = run.serve(scratch, migrate=True)
    rng = random.Random(4)
    restored: dict[str, str] = {}  # uuid -> sha256 of the files answered as restored
    purged = 0
    for round_number in range(run.args.rounds):
        trashed = _trash(server, rng, run.args.uploads, f"trash-{round_number}", result)
        delays = [rng.uniform(0, RESTORES_SECONDS) for _ in trashed]
        purged += _restore_while_purging(
            scratch, server, trashed, delays, result=result, restored=restored
        )
        result.faults += len(trashed)
    items = list(restored.items())
    checks = in_threads(len(items), 8, lambda i: verify(server.port, *items[i]))
    result.attempted += len(checks)
    result.verified = checks.count("ok")
    result.lost += checks.count("lost")
    result.corrupt += checks.count("corrupt")
    findings, code = scratch.fsck_after_repair()
    result.orphans += findings or (1 if code else 0)
    result.notes.append(
        f"restore race: {run.args.rounds} purges, each racing {run.args.uploads} restores: "
        f"{len(restored)} answered restored, {purged} answered 404 (purged first)"
    )
    server.stop()
    return result


def _trash(
    server: Server, rng: random.Random, count: int, prefix: str, result: Result
) -> list[tuple[str, str]]:
    """Upload ``count`` files and delete them: their (uuid, sha256)."""
    trashed = []
    for index in range(count):
        body = text_body(rng, rng.randint(1 * KiB, 16 * KiB))
        status, answer = slow_put(server.port, f"{prefix}-{index}.txt", body, 1, 0)
        result.attempted += 1
        result.server_errors += status >= 500 or status == 0
        if answer is None:
            continue
        status, _ = request(server.port, "DELETE", f"{API}/files/{answer['file_uuid']}")
        result.attempted += 1
        result.server_errors += status >= 500 or status == 0
        trashed.append((str(answer["file_uuid"]), sha256(body)))
    return trashed


def _restore_while_purging(
    scratch: Scratch,
    server: Server,
    trashed: list[tuple[str, str]],
    delays: list[float],
    *,
    result: Result,
    restored: dict[str, str],
) -> int:
    """Restore every file of ``trashed``, each after its delay, while the purge runs:
    the ones answered as restored go into ``restored``. Returns how many were answered
    404. The purge is the product's own (``maintenance.purge_trash``, what ``filewallball
    purge`` and the service run), started in this process, so that it runs while the
    restores arrive rather than after a process start of unknown length; in small
    batches, each a moment where a restore can fall between its read and its DELETE."""
    database = Database.from_settings(Settings(database_url=scratch.url, data_dir=scratch.data))
    store = LocalBlobStore(scratch.data / "blobs")
    lock = threading.Lock()
    purged = 0
    order = sorted(range(len(trashed)), key=delays.__getitem__)  # the pool takes them in turn

    def purge() -> None:
        time.sleep(PURGE_AFTER_SECONDS)
        try:
            purge_trash(database, store, timedelta(0), batch_size=10)
        except Exception as error:  # reported, not raised: the round goes on
            result.notes.append(f"restore race: the purge failed: {error!r}"[:300])
            result.server_errors += 1

    purging = threading.Thread(target=purge)
    started = time.monotonic()
    purging.start()

    def restore(turn: int) -> None:
        nonlocal purged
        index = order[turn]
        time.sleep(max(0.0, started + delays[index] - time.monotonic()))
        file_uuid, digest = trashed[index]
        try:
            status, answer = request(server.port, "POST", f"{API}/files/{file_uuid}/restore")
        except (OSError, http.client.HTTPException):
            status, answer = 0, b""  # a reset connection, which a 500 used to cause
        with lock:
            result.attempted += 1
            if status == 200 and json.loads(answer)["is_deleted"] is False:
                restored[file_uuid] = digest
            elif status == 404:
                purged += 1
            else:
                result.server_errors += 1
                result.notes.append(f"restore race: a restore answered {status}")

    in_threads(len(trashed), 16, restore)
    purging.join()
    result.attempted += 1
    database.dispose()
    return purged


# -- 5. hostile inputs ----------------------------------------------------------------------


def _message(method: str, target: bytes, headers: list[tuple[str, bytes]], body: bytes) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines.append(b"Authorization: " + AUTH["Authorization"].encode())
    lines += [name.encode() + b": " + value for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _multipart(boundary: bytes, parts: list[tuple[bytes, bytes]], end: bool = True) -> bytes:
    body = b""
    for disposition, content in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        body += b"Content-Type: text/plain\r\n\r\n" + content + b"\r\n"
    return body + (b"--" + boundary + b"--\r\n" if end else b"")


def hostile_requests(file_uuid: str) -> Iterator[tuple[str, bytes, bool]]:
    """(label, the request's bytes, whether it is an upload that may be accepted)."""
    text = b"hostile but harmless\n"
    names = [
        "..%2F..%2Fx.txt",
        "..%2f..%2f..%2fetc%2fpasswd.txt",
        "%2E%2E%2F%2E%2E%2Fx.txt",
        "..%5C..%5Cx.txt",
        "%2Fabsolute.txt",
        "%2F%2Fserver%2Fshare.txt",
        "....%2F%2Fx.txt",
        "%2E%2E",
        "%2E",
        "...",
        "x%00.txt",
        "x.txt%00.exe",
        "x%0D%0AX-Injected:%201.txt",
        "x%0A.txt",
        "x%09.txt",
        "x%1B%5B31m.txt",
        "x%7F.txt",
        "x%C2%85.txt",
        "x%E2%80%AE.txt",
        "x%FF%FE.txt",
        "%C0%AE%C0%AE%2Fx.txt",
        "a" * 10_000 + ".txt",
        "x." + "e" * 10_000,
        "%F0%9F%98%80" * 100 + ".txt",
        "x.txt%20",
        "%20",
        "CON.txt",
        "x'%3B%20DROP%20TABLE%20files%3B--.txt",
        "x%25_.txt",
        "x.TXT",
        "x.txt.",
        "x..txt",
        ".htaccess",
        "x.txt%3A%3A%24DATA",
    ]
    for name in names:
        target = f"{API}/files/{name}".encode()
        yield f"PUT name {name[:40]}", _message("PUT", target, [], text), True
    # Raw bytes in the request target, as no careful client would send them.
    for label, target in [
        ("raw NUL in target", f"{API}/files/x\x00.txt".encode()),
        ("raw CRLF in target", f"{API}/files/x\r\nX-A: b.txt".encode()),
        ("raw ../ target", f"{API}/files/../../x.txt".encode()),
        ("raw invalid UTF-8 target", f"{API}/files/".encode() + b"\xff\xfe.txt"),
        ("raw space in target", f"{API}/files/a b.txt".encode()),
        ("absolute-form target", f"http://evil.example{API}/files/x.txt".encode()),
    ]:
        yield label, _message("PUT", target, [], text), True
    # Multipart.
    boundary = b"fwbBoundary7MA4YWxkTrZu0gW"
    form = [("Content-Type", b"multipart/form-data; boundary=" + boundary)]
    disposition = b'form-data; name="file"; filename="%s"'
    upload = f"{API}/files".encode()
    for label, filename in [
        ("invalid UTF-8 filename", b"\xff\xfe\xfd.txt"),
        ("overlong UTF-8 slash", b"\xc0\xaf\xc0\xafx.txt"),
        ("NUL filename", b"x\x00.txt"),
        ("traversal filename", b"../../x.txt"),
        ("backslash traversal", b"..\\..\\x.txt"),
        ("absolute filename", b"/etc/passwd.txt"),
        ("empty filename", b""),
        ("10,000-char filename", b"b" * 10_000 + b".txt"),
        ("quote in filename", b'x".txt'),
        ("CR in filename", b"x\r.txt"),
    ]:
        body = _multipart(boundary, [(disposition % filename, text)])
        yield f"multipart {label}", _message("POST", upload, form, body), True
    ok_part = (disposition % b"ok.txt", text)
    malformed = [
        ("no boundary", [("Content-Type", b"multipart/form-data")], _multipart(boundary, [ok_part])),
        ("empty boundary", [("Content-Type", b"multipart/form-data; boundary=")], b"----\r\n"),
        ("wrong boundary", [("Content-Type", b"multipart/form-data; boundary=zz")], _multipart(boundary, [ok_part])),
        ("truncated", form, _multipart(boundary, [ok_part])[:-30]),
        ("no closing delimiter", form, _multipart(boundary, [ok_part], end=False)),
        ("two file parts", form, _multipart(boundary, [ok_part, (disposition % b"two.txt", text)])),
        ("no file part", form, _multipart(boundary, [(b'form-data; name="tags"', b"a,b")])),
        ("part without disposition", form, b"--" + boundary + b"\r\n\r\nx\r\n--" + boundary + b"--\r\n"),
        ("garbage body", form, os.urandom(4096)),
        ("empty body", form, b""),
        ("huge header line", form, b"--" + boundary + b"\r\nX-A: " + b"a" * 200_000 + b"\r\n\r\n"),
        ("10,000 parts", form, _multipart(boundary, [(b'form-data; name="tags"', b"t")] * 10_000)),
        ("boundary of 5,000 chars", [("Content-Type", b"multipart/form-data; boundary=" + b"q" * 5000)], _multipart(b"q" * 5000, [ok_part])),
        ("is_public not a bool", form, _multipart(boundary, [ok_part, (b'form-data; name="is_public"', b"maybe")])),
        ("huge tags field", form, _multipart(boundary, [ok_part, (b'form-data; name="tags"', b"t," * 100_000)])),
        ("category with SQL", form, _multipart(boundary, [ok_part, (b'form-data; name="category"', b"x' OR '1'='1")])),
        ("not multipart at all", [("Content-Type", b"application/json")], b'{"file": "x"}'),
    ]  # fmt: skip
    for label, headers, body in malformed:
        yield f"multipart {label}", _message("POST", upload, headers, body), True
    # JSON for PATCH /files/{uuid} and PUT /settings/{key}.
    json_type = [("Content-Type", b"application/json")]
    bad_json: list[bytes] = [
        b"",
        b"null",
        b"[]",
        b"{",
        b'{"original_filename": 5}',
        b'{"original_filename": null}',
        b'{"original_filename": "../../x.txt"}',
        b'{"original_filename": "x\\u0000.txt"}',
        b'{"original_filename": "' + b"n" * 100_000 + b'.txt"}',
        b'{"is_public": "sometimes"}',
        b'{"is_public": null}',
        b'{"tags": "not-a-list"}',
        b'{"tags": [1, 2, {"a": 1}]}',
        b'{"tags": [' + b",".join([b'"t%d"' % i for i in range(5000)]) + b"]}",
        b'{"tags": ["' + b"t" * 100_000 + b'"]}',
        b'{"tags": ["%", "_", "\\\\", "\'", "\\u0000"]}',
        b'{"category": {"$ne": 1}}',
        b'{"category": "' + b"c" * 10_000 + b'"}',
        b'{"category": "x\' OR 1=1 --"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 5000 + b"1" + b"}" * 5000,
        b"\xff\xfe\x00{",
        b'{"original_filename": "x.txt", "original_filename": 7}',
    ]
    for body in bad_json:
        target = f"{API}/files/{file_uuid}".encode()
        yield f"PATCH file {body[:30]!r}", _message("PATCH", target, json_type, body), False
    settings_bodies: list[tuple[str, bytes]] = [
        ("max_upload_bytes", b'{"value": "lots"}'),
        ("max_upload_bytes", b'{"value": -1}'),
        ("max_upload_bytes", b'{"value": 1e400}'),
        ("max_upload_bytes", b'{"value": 99999999999999999999999999999999999999}'),
        ("max_upload_bytes", b'{"value": null}'),
        ("max_upload_bytes", b'{"value": [1]}'),
        ("max_upload_bytes", b"{}"),
        ("trash_retention_days", b'{"value": -5}'),
        ("trash_retention_days", b'{"value": true}'),
        ("log_retention_days", b'{"value": 1.5}'),
        ("log_retention_days", b'{"value": "NaN"}'),
        ("x' OR '1'='1", b'{"value": 1}'),
        ("k" * 10_000, b'{"value": 1}'),
        ("%00", b'{"value": 1}'),
        ("..%2F..%2Fx", b'{"value": 1}'),
        ("new_setting", b'{"value": "' + b"v" * 1_000_000 + b'"}'),
        ("new_setting", b'{"value": {"deep": ' * 2000 + b"1" + b"}" * 2000 + b"}"),
        ("new_setting", b'{"value": "\\ud800"}'),
    ]
    for key, body in settings_bodies:
        target = f"{API}/settings/{key}".encode()
        yield (
            f"PUT setting {key[:20]} {body[:20]!r}",
            _message("PUT", target, json_type, body),
            False,
        )
    # Searches: forged cursors, SQL metacharacters and LIKE wildcards, wrong types.
    forged = [
        "AAAA",
        "%00",
        "not-base64!!",
        base64.urlsafe_b64encode(b'{"id": "1 OR 1=1"}').decode(),
        base64.urlsafe_b64encode(b'{"k": [null], "id": -1}').decode(),
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        base64.urlsafe_b64encode(b"\xff" * 64).decode(),
        base64.urlsafe_b64encode(json.dumps({"v": "9" * 5000}).encode()).decode(),
        "A" * 100_00,
    ]
    queries = [f"cursor={quote(cursor)}" for cursor in forged]
    queries += [f"cursor={quote(cursor)}&sort=size" for cursor in forged[:4]]
    queries += [
        f"q={quote(text)}"
        for text in ["%", "_", "%%", "\\", "'", "' OR '1'='1", "\"; DROP TABLE files; --", "\x00", "[a-z]", "*", "a" * 5000]
    ]  # fmt: skip
    queries += [
        "tag=%25",
        "tag=_",
        "tag=%27%20OR%201%3D1",
        "extension=%25",
        "extension=..%2F",
        "mime=%27",
        "category=%25",
        "sort=file_size;DROP",
        "order=sideways",
        "limit=-1",
        "limit=99999999999999999999",
        "limit=abc",
        "min_size=-99999999999999999999999",
        "max_size=1e400",
        "created_after=not-a-date",
        "created_after=99999-01-01",
        "created_before=0000-00-00",
        "is_public=maybe",
        "tag_mode=xor",
        "with_total=2",
        "include_deleted=%00",
    ]
    for query in queries:
        target = f"{API}/files?{query}".encode()
        yield f"GET search {query[:40]}", _message("GET", target, [], b""), False
    # Tags with SQL metacharacters and LIKE wildcards.
    for tag in [
        "%25",
        "_",
        "%27",
        "x'%3B--",
        "%5C",
        "%2F",
        "%2E%2E",
        "%00",
        "t" * 5000,
        "%20",
        "%F0%9F%98%80",
    ]:
        target = f"{API}/files/{file_uuid}/tags/{tag}".encode()
        yield f"PUT tag {tag[:20]}", _message("PUT", target, [], b""), False
        yield f"DELETE tag {tag[:20]}", _message("DELETE", target, [], b""), False
    yield "GET tags %", _message("GET", f"{API}/tags?q=%25".encode(), [], b""), False
    # Invalid UUIDs.
    for bad in [
        "not-a-uuid",
        "%00",
        "..%2F..",
        "1%20OR%201=1",
        "0" * 10_000,
        "00000000-0000-0000-0000-000000000000",
    ]:
        for suffix in ["", "/content", "/activity"]:
            target = f"{API}/files/{bad}{suffix}".encode()
            yield f"GET uuid {bad[:20]}{suffix}", _message("GET", target, [], b""), False
        target = f"{API}/files/{bad}".encode()
        yield f"DELETE uuid {bad[:20]}", _message("DELETE", target, [], b""), False
    # Ranges.
    content = f"{API}/files/{file_uuid}/content".encode()
    for header in [
        b"bytes=-0",
        b"bytes=999999999999-",
        b"bytes=0-999999999999999999999999",
        b"bytes=5-1",
        b"bytes=-",
        b"bytes=abc",
        b"bytes=-99999999999999999999999",
        b",".join(b"%d-%d" % (i, i) for i in range(2000)).join([b"bytes=", b""]),
        b"bytes=0-0,-1",
        b"lines=1-2",
        b"bytes=\xff",
    ]:
        yield f"Range {header[:30]!r}", _message("GET", content, [("Range", header)], b""), False
    for name, value in [
        ("If-None-Match", b"*" * 10_000),
        ("If-Range", b"Thu, 99 Xyz 9999"),
        ("If-Modified-Since", b"\x00"),
    ]:
        yield f"{name} hostile", _message("GET", content, [(name, value)], b""), False
    # Headers and framing.
    yield (
        "negative Content-Length",
        _message("PUT", f"{API}/files/neg.txt".encode(), [], text).replace(
            b"Content-Length: 21", b"Content-Length: -1"
        ),
        True,
    )
    yield (
        "chunked and Content-Length",
        _message("PUT", f"{API}/files/te.txt".encode(), [("Transfer-Encoding", b"chunked")], b"5\r\nhello\r\n0\r\n\r\n"),
        True,
    )  # fmt: skip
    yield (
        "forged bearer token",
        _message("GET", f"{API}/files".encode(), [], b"").replace(
            AUTH["Authorization"].encode(), b"Bearer ' OR 1=1 --"
        ),
        False,
    )


def hostile(run: Run) -> Result:
    result = Result("hostile inputs")
    scratch = run.scratch("hostile")
    server = run.serve(scratch, migrate=True)
    status, answer = slow_put(server.port, "seed.txt", b"the seed file\n" * 100, 1, 0)
    if answer is None:
        raise RuntimeError(f"hostile: the seed upload answered {status}")
    file_uuid = str(answer["file_uuid"])
    rows_before = int(str(scratch.scalar("SELECT count(*) FROM files")))
    before = {path for path in scratch.work.rglob("*") if path.is_file()}
    statuses: dict[int, int] = {}
    failures: list[str] = []
    accepted_uploads = 0
    for label, message, is_upload in hostile_requests(file_uuid):
        rows = int(str(scratch.scalar("SELECT count(*) FROM files")))
        try:
            status = raw(server.port, message)
        except OSError:
            status = 0
        result.hostile += 1
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500 or status == 0:
            result.server_errors += 1
            failures.append(f"{status} {label}")
        added = int(str(scratch.scalar("SELECT count(*) FROM files"))) - rows
        if is_upload and 200 <= status < 300:
            accepted_uploads += 1
        elif added:
            failures.append(f"{status} {label}: {added} rows appeared")
            result.orphans += added
    if server.process is None or server.process.poll() is not None:
        failures.append("the server died")
        result.server_errors += 1
    rows_after = int(str(scratch.scalar("SELECT count(*) FROM files")))
    if rows_after != rows_before + accepted_uploads:
        failures.append(f"files rows {rows_before} -> {rows_after}, {accepted_uploads} accepted")
        result.orphans += abs(rows_after - rows_before - accepted_uploads)
    result.orphans += _side_effects(scratch, before, failures)
    result.attempted = result.hostile + 1
    result.verified = rows_after
    result.lost += verify(server.port, file_uuid, sha256(b"the seed file\n" * 100)) != "ok"
    findings, code = scratch.fsck_after_repair()
    result.orphans += findings or (1 if code else 0)
    result.notes.append(
        f"hostile: answers {dict(sorted(statuses.items()))}; {accepted_uploads} hostile-named "
        "uploads accepted (stored under a safe name)"
    )
    result.notes += [f"hostile: {failure}" for failure in failures]
    server.stop()
    return result


def _side_effects(scratch: Scratch, before: set[Path], failures: list[str]) -> int:
    """Files that appeared other than blobs of accepted content (and the database's and
    the logs' own), and stored names with a separator or a control character."""
    found = 0
    hashes = {str(row[0]) for row in scratch.rows("SELECT file_hash FROM files")}
    blobs = scratch.data / "blobs"
    for path in sorted({p for p in scratch.work.rglob("*") if p.is_file()} - before):
        is_log = path.suffix == ".log" or path.name.startswith("filewallball.db")
        is_blob = path.parent.parent.parent == blobs and path.name in hashes
        if not (is_log or is_blob):
            failures.append(f"unexpected file {path.relative_to(scratch.work)}")
            found += 1
    names = [str(row[0]) for row in scratch.rows("SELECT original_filename FROM files")]
    unsafe = [n for n in names if "/" in n or "\\" in n or any(ord(c) < 32 for c in n)]
    if unsafe:
        failures.append(f"{len(unsafe)} unsafe names stored, e.g. {unsafe[0][:60]!r}")
        found += len(unsafe)
    return found


# -- 5. backup while uploading -------------------------------------------------------------


def backup_round_trip(run: Run) -> Result:
    """``filewallball backup`` while uploads, deletes and purges go on; then ``restore``
    into an empty installation (SQLite) and verify every file there. On MariaDB and
    PostgreSQL the backup holds only blobs: every content the database still names must
    be in it, hashing to its name."""
    result = Result("backup")
    scratch = run.scratch("backup")
    server = run.serve(scratch, migrate=True)
    rng = random.Random(5)
    contents = [text_body(rng, rng.randint(4 * KiB, 256 * KiB)) for _ in range(run.args.uploads)]
    for index, body in enumerate(contents[: len(contents) // 2]):  # some stored before
        status, answer = slow_put(server.port, f"before-{index}.txt", body, 1, 0)
        result.attempted += 1
        result.server_errors += status >= 500
        if answer is not None and index % 4 == 0:  # and some of those in the trash
            request(server.port, "DELETE", f"{API}/files/{answer['file_uuid']}")
    before = {str(u): str(h) for u, h in scratch.rows("SELECT file_uuid, file_hash FROM files")}
    target = scratch.work / "backup-copy"
    with _busy(scratch, server, contents, rng) as statuses:
        time.sleep(0.5)
        code, output = cli(scratch.env, "backup", str(target))
    server.stop()
    result.attempted += len(statuses) + 1
    result.faults += 1
    result.server_errors += sum(status >= 500 for status in statuses)
    if code:
        result.notes.append(f"backup: exited {code}: {output[-300:]}")
        result.lost += 1
        return result
    manifest = json.loads((target / "manifest.json").read_text())
    in_backup = {path.name: sha256(path.read_bytes()) for path in target.glob("blobs/??/??/*")}
    result.corrupt += sum(name != digest for name, digest in in_backup.items())
    still = {str(u): str(h) for u, h in scratch.rows("SELECT file_uuid, file_hash FROM files")}
    if manifest["database"] is None:
        # Blobs only (the server's dump is the operator's): purges may have taken some of
        # the earlier files, but the contents of those still there must all be in it.
        result.lost += len({h for u, h in before.items() if u in still} - set(in_backup))
        result.verified = len(in_backup)
        result.notes.append(f"backup: blobs only, {len(statuses)} uploads meanwhile")
        return result
    _restore_and_verify(run, target, manifest, result)
    result.lost += sum(1 for u in before if u in still and u not in result.restored)
    result.notes.append(
        f"backup: {manifest['counts']['files']} files restored and verified, "
        f"{len(statuses)} uploads (and purges) running during the backup"
    )
    return result


@contextlib.contextmanager
def _busy(
    scratch: Scratch, server: Server, contents: list[bytes], rng: random.Random
) -> Iterator[list[int]]:
    """Four threads uploading (duplicates among them) and deleting, one purging, until
    the block ends; yields the upload answers' statuses."""
    stop = threading.Event()
    statuses: list[int] = []

    def upload() -> None:
        index = 0
        while not stop.is_set():
            body = contents[rng.randrange(len(contents))]
            status, answer = slow_put(server.port, f"during-{index}.txt", body, 2, 0.005)
            statuses.append(status)
            if answer is not None and index % 3 == 0:
                request(server.port, "DELETE", f"{API}/files/{answer['file_uuid']}")
            index += 1

    def purge() -> None:
        while not stop.is_set():
            cli(scratch.env, "purge", "--older-than", "0", "--json")

    threads = [threading.Thread(target=upload) for _ in range(4)]
    threads.append(threading.Thread(target=purge))
    for thread in threads:
        thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _restore_and_verify(
    run: Run, backup: Path, manifest: dict[str, object], result: Result
) -> None:
    """Restore into an empty SQLite installation; every row there must download intact
    and fsck must be clean."""
    restored = run.scratch("backup-restored")
    code, output = cli(restored.env, "restore", str(backup))
    if code:
        result.notes.append(f"restore: exited {code}: {output[-300:]}")
    rows = {str(u): str(h) for u, h in restored.rows("SELECT file_uuid, file_hash FROM files")}
    result.restored = set(rows)
    counts = manifest["counts"]
    if not isinstance(counts, dict) or len(rows) != counts["files"]:
        result.notes.append(f"restore: {len(rows)} rows, the manifest says {counts}")
        result.lost += 1
    copy = run.serve(restored)
    items = list(rows.items())
    checks = in_threads(len(items), 8, lambda i: verify(copy.port, *items[i]))
    copy.stop()
    result.attempted += len(checks)
    result.verified = len(items)
    result.lost += checks.count("lost")
    result.corrupt += checks.count("corrupt")
    findings, code = restored.fsck_after_repair()
    result.orphans += findings or (1 if code else 0)


# -- the run --------------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Run], Result]] = {
    "crash": crash,
    "two-proc": two_processes,
    "purge": purge_race,
    "restore": restore_race,
    "hostile": hostile,
    "backup": backup_round_trip,
}


def report(results: list[Result], started: float, database: str) -> bool:
    print(f"\n== faults ({database}; {os.cpu_count()} CPUs)")
    widths = [max(len(title), 8) for title, _, _ in COLUMNS]
    widths[0] = max(len(r.scenario) for r in [*results, Result("total")]) + 1
    print(
        "  "
        + "  ".join(
            title.rjust(w) if i else title.ljust(w)
            for i, ((title, _, _), w) in enumerate(zip(COLUMNS, widths, strict=True))
        )
    )
    totals = Result("total")
    for result in results:
        cells = [result.scenario] + [str(getattr(result, name)) for _, name, _ in COLUMNS[1:]]
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        for _, name, _ in COLUMNS[1:]:
            setattr(totals, name, getattr(totals, name) + getattr(result, name))
    cells = ["total"]
    clean = True
    for _, name, must_be_zero in COLUMNS[1:]:
        value = getattr(totals, name)
        if must_be_zero:
            clean &= value == 0
            cells.append(f"{value} {'ok' if value == 0 else 'FAILED'}")
        else:
            cells.append(str(value))
    print(
        "  "
        + "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
    )
    for result in results:
        for note in result.notes:
            print(f"  - {note}")
    times = ", ".join(f"{r.scenario} {r.seconds:.0f} s" for r in results)
    print(f"  {time.perf_counter() - started:.0f} s in all ({times})")
    return clean


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--uploads",
        type=int,
        default=100,
        help="scale: concurrent uploads per crash round; twice as many across the two "
        "processes; a fifth as many purges, each racing 5 re-uploads (default 100)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="crash rounds (SIGKILLs)")
    parser.add_argument(
        "--database-url",
        help="a server database URL (mysql+pymysql://root@127.0.0.1:3306/fwb_faults): each "
        "scenario drops and recreates <name>_<scenario>; default SQLite files",
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="only these (repeatable)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directories and the databases"
    )
    args = parser.parse_args()
    if args.uploads < 10:
        parser.error("--uploads must be at least 10")
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="fwb_bench_faults_"))
    run = Run(args, work)
    results: list[Result] = []
    clean = False
    try:
        if args.keep:
            print(f"keeping {work}")
        for name, scenario in SCENARIOS.items():
            if args.scenario and name not in args.scenario:
                continue
            print(f"-- {name}", flush=True)
            begun = time.perf_counter()
            result = scenario(run)
            result.seconds = time.perf_counter() - begun
            results.append(result)
        database = make_url(args.database_url).get_backend_name() if args.database_url else "sqlite"
        clean = report(results, started, database)
    finally:
        for server in run.servers:
            with contextlib.suppress(Exception):
                server.stop()
        for scratch in run.scratches:
            with contextlib.suppress(Exception):
                scratch.close(keep=args.keep)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
