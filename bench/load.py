"""Load generators: wrk when installed (with a Lua script for bodies that must differ), else
an httpx asyncio loop, which reaches far fewer requests per second; ``Load.tool`` says
which measured."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import resource
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

WRK = shutil.which("wrk")
TASKSET = shutil.which("taskset")
CURL = shutil.which("curl") or "curl"

# Every body is a 64 KiB text file whose first line is unique to the run and the request:
# a server that deduplicates contents gets nothing for free.
UNIQUE_PUTS = """
local counter = 0
local block = string.rep("FileWallBall bench line of text\\n", {lines})
request = function()
  counter = counter + 1
  local head = "upload {tag} " .. counter .. "\\n"
  local body = head .. block:sub(#head + 1)
  return wrk.format("PUT", "{prefix}{tag}-" .. counter .. ".txt", nil, body)
end
"""


@dataclass
class Load:
    tool: str
    per_second: float
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors
    p50_ms: float | None
    p99_ms: float | None


@dataclass
class Request:
    """What each connection sends again and again: ``method`` on ``path`` with
    ``headers``; with ``unique_bytes``, a PUT of that many bytes of distinct text to
    ``path`` + a counter + ``.txt`` instead."""

    path: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    unique_bytes: int = 0


def run(
    port: int, request: Request, duration: float, *, connections: int, cpu: int | None = None
) -> Load:
    """``connections`` connections sending ``request`` for ``duration`` seconds, the
    generator pinned to core ``cpu`` when given."""
    if WRK:
        return _wrk(port, request, duration, connections=connections, cpu=cpu)
    return asyncio.run(_httpx(port, request, duration, connections=connections))


def one_at_a_time(port: int, request: Request, duration: float, *, minimum: int = 3) -> Load:
    """One client sending ``request`` again as soon as it has the answer, for ``duration``
    seconds and at least ``minimum`` times: for answers so slow that a duration of wrk
    would see none of them end."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    try:
        while len(latencies) < minimum or time.perf_counter() - started < duration:
            sent = time.perf_counter()
            connection.request(request.method, request.path, headers=dict(request.headers))
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - sent)
            errors += response.status >= 400
    finally:
        connection.close()
    return _measured("http.client", latencies, errors, time.perf_counter() - started)


def _wrk(
    port: int, request: Request, duration: float, *, connections: int, cpu: int | None
) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if request.unique_bytes:
            script.write(
                UNIQUE_PUTS.replace("{lines}", str(request.unique_bytes // 32))
                .replace("{tag}", secrets.token_hex(8))
                .replace("{prefix}", request.path)
            )
        elif request.method != "GET":
            script.write(f'wrk.method = "{request.method}"\n')
        script.flush()
        headers = [part for name, value in request.headers for part in ("-H", f"{name}: {value}")]
        result = subprocess.run(  # noqa: S603 (our own arguments)
            [
                *_pinned(cpu),
                WRK or "wrk",
                *("-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"),
                *("--timeout", "30s"),
                *headers,
                *("-s", script.name),
                f"http://127.0.0.1:{port}{'/' if request.unique_bytes else request.path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return parse_wrk(result.stdout)


def _pinned(cpu: int | None) -> list[str]:
    return [TASKSET, "-c", str(cpu)] if cpu is not None and TASKSET else []


def parse_wrk(out: str) -> Load:
    per_second = float(_found(r"Requests/sec:\s+([\d.]+)", out))
    requests = int(_found(r"(\d+) requests in", out))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(non_2xx[1])
    return Load("wrk", per_second, requests, errors, _percentile(50, out), _percentile(99, out))


def _found(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return found[1]


def _percentile(percent: int, out: str) -> float | None:
    found = re.search(rf"\b{percent}%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return float(found[1]) * scale[found[2]] if found else None


async def _httpx(port: int, request: Request, duration: float, *, connections: int) -> Load:
    latencies: list[float] = []
    errors = 0
    counter = 0
    tag = secrets.token_hex(8)
    block = b"FileWallBall bench line of text\n" * (request.unique_bytes // 32)
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers=dict(request.headers),
        limits=limits,
        timeout=30,
    ) as client:
        deadline = time.perf_counter() + duration

        async def connection() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                if request.unique_bytes:
                    head = f"upload {tag} {counter}\n".encode()
                    send = client.put(
                        f"{request.path}{tag}-{counter}.txt", content=head + block[len(head) :]
                    )
                else:
                    send = client.request(request.method, request.path)
                started = time.perf_counter()
                try:
                    ok = (await send).status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return _measured("httpx", latencies, errors, elapsed)


def _measured(tool: str, latencies: list[float], errors: int, elapsed: float) -> Load:
    """The figures of requests that took ``latencies`` seconds in ``elapsed``."""
    latencies.sort()
    p50, p99 = _at(latencies, 0.50), _at(latencies, 0.99)
    return Load(tool, len(latencies) / elapsed, len(latencies), errors, p50, p99)


def _at(sorted_seconds: Sequence[float], fraction: float) -> float | None:
    if not sorted_seconds:
        return None
    return sorted_seconds[max(int(len(sorted_seconds) * fraction) - 1, 0)] * 1000


def client_cpu_seconds() -> float:
    """CPU this process and the generators it ran (and waited for) have used: either is
    the load generator."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def curl(*arguments: str, cpu: int | None = None) -> list[str]:
    """What ``curl -w`` printed, split: one big transfer, its speed from curl itself; on
    core ``cpu`` when given."""
    result = subprocess.run(  # noqa: S603 (our own arguments)
        [*_pinned(cpu), CURL, "-s", "-S", *arguments], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def big_file(path: Path, size: int, block: bytes | None = None) -> None:
    """``size`` bytes of ``block`` (16 MiB of random bytes unless given) over and over: a
    body for the big transfers that compresses to nothing and costs a client no CPU to
    make. Senders give each upload a distinct first line, so sniffing sees text and no
    server has seen the content before."""
    block = block or os.urandom(16 * 1024 * 1024)
    with path.open("wb") as out:
        for offset in range(0, size, len(block)):
            out.write(block[: size - offset])
