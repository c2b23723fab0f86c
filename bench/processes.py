"""Server processes for the benchmarks: free ports, start and stop, CPU and memory.

Every server runs in a process group of its own, so that stopping it stops its workers
too (Granian's and copyparty's workers outlive a supervisor signalled alone).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILEWALLBALL = str(Path(sys.executable).with_name("filewallball"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def status_of(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    """The status of one GET, 0 when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


@dataclass
class Server:
    """A server process listening on ``port``; ``start`` (again, after a kill) runs
    ``command`` and waits until ``ready`` answers one of ``statuses``."""

    name: str
    command: Sequence[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    ready: str = "/health"
    statuses: tuple[int, ...] = (200,)
    headers: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, *arguments: str, timeout: float = 60) -> Server:
        """``command`` and ``arguments``, ``{port}`` in them replaced by the port."""
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 (our own arguments)
                [part.format(port=self.port) for part in (*self.command, *arguments)],
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            if status_of(self.port, self.ready, self.headers) in self.statuses:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {self.ready} in {timeout:g} s:\n{self.tail()}"
        )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def kill(self) -> None:
        """SIGKILL to the whole group, no goodbye."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # two threads may both get here
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def granian(app: str, *, workers: int = 1) -> list[str]:
    """``app`` (a factory) on Granian as ``filewallball serve`` runs it, without the access
    log, which ``serve`` cannot turn off."""
    return [
        *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory"),
        *("--host", "127.0.0.1", "--port", "{port}", "--http", "1", "--no-ws"),
        *("--loop", "uvloop", "--log-level", "warning", "--workers", str(workers), app),
    ]


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (the workers)."""
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


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def pids_named(*names: str) -> list[int]:
    """The processes of this machine whose command is one of ``names``."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() in names:
                pids.append(int(entry.name))
    return pids


class PeakRss:
    """The peak RSS of a process and its descendants while the block runs, summed over
    them and read every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pids = family(pid)
        self.interval = interval
        self.baseline = rss_bytes(self.pids)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes(self.pids))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pids))

    @property
    def growth(self) -> int:
        return self.peak - self.baseline
