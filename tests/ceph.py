"""A throw-away Ceph cluster with its S3 gateway, on loopback, for the S3 store's tests.

One monitor, one in-memory OSD and a RADOS Gateway (Debian's ``ceph-mon``, ``ceph-osd``,
``radosgw``), started by the test run in its own temporary directory and stopped at its
end; nothing else on the machine is touched. Ceph, not a protocol imitation, because the
store must be right about what a real object store does (multipart limits, ranged reads,
listing order, abandoned uploads).

What it takes for Ceph 16 to start in seconds with no cephx keys and no manager daemon:
authentication off everywhere, and the gateway told so too (``ms_mon_client_mode = crc``;
by default it insists on a secure monitor connection and never connects); the monitor's
proposal interval shortened (its default makes start-up take ten times as long). And
the gateway's ``tcp_nodelay``: without it a small answer (a listing, a copy) waits
40 ms for the client's delayed acknowledgement, ten times the request's own time.
"""

from __future__ import annotations

import ctypes
import json
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from tests.servers import IN_CI

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROGRAMS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool")
PACKAGES = "radosgw ceph-mon ceph-osd"
ACCESS_KEY = "FWBTESTACCESSKEY0001"
SECRET_KEY = "fwb-test-secret-key-0000000000000000000001"
REGION = "us-east-1"
PORTS = 60  # monitor (2), gateway (1), then the range the daemons bind in
START_TIMEOUT = 90.0


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if shutil.which(name) is None]


def _free_port_range(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports, below Linux's ephemeral
    range so that no outgoing connection takes one meanwhile."""
    for _ in range(100):
        base = random.randrange(20000, 32000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def _die_with_parent() -> None:
    """In the child: the kernel sends SIGTERM when the test run dies, however it dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Ceph:
    state: Path
    base_port: int = field(default_factory=lambda: _free_port_range(PORTS))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.state / "ceph.conf"

    @property
    def gateway_port(self) -> int:
        return self.base_port + 2

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for directory in ("run", "log", "mon/a", "osd/0", "rgw"):
            (self.state / directory).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        self.conf.write_text(self._configuration(fsid))
        deadline = time.monotonic() + START_TIMEOUT
        monmap = self.state / "monmap"
        self._run(
            "monmaptool",
            "--create",
            "--fsid",
            fsid,
            "--addv",
            "a",
            self._monitor_addresses,
            str(monmap),
        )
        self._run("ceph-mon", "-c", str(self.conf), "--mkfs", "-i", "a", "--monmap", str(monmap))
        self._spawn("ceph-mon", "-i", "a")
        self._wait(deadline, "the monitor", lambda: self._ceph("mon", "stat") is not None)
        osd_uuid = str(uuid.uuid4())
        osd_id = (self._ceph("osd", "new", osd_uuid) or "").strip()
        self._run("ceph-osd", "-c", str(self.conf), "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("ceph-osd", "-i", osd_id)
        self._wait(deadline, "the OSD", self._osd_up)
        self._spawn("radosgw", "-n", "client.rgw.a")
        self._wait(deadline, "the S3 gateway", self._gateway_answers)
        self._run(
            "radosgw-admin",
            "-c",
            str(self.conf),
            "user",
            "create",
            "--uid=test",
            "--display-name=test",
            f"--access-key={ACCESS_KEY}",
            f"--secret-key={SECRET_KEY}",
        )

    def stop(self) -> None:
        """Stop the daemons this object started, the gateway first, and nothing else."""
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    @property
    def _monitor_addresses(self) -> str:
        return f"[v2:127.0.0.1:{self.base_port},v1:127.0.0.1:{self.base_port + 1}]"

    def _configuration(self, fsid: str) -> str:
        state = self.state
        return f"""\
[global]
fsid = {fsid}
mon_host = {self._monitor_addresses}
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_port_min = {self.base_port + 10}
ms_bind_port_max = {self.base_port + PORTS - 1}
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = {state}/run
admin_socket = {state}/run/$name.asok
log_file = {state}/log/$name.log
mon_cluster_log_file = {state}/log/cluster.log
log_to_stderr = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
mon_data_avail_warn = 2
mon_data_avail_crit = 1
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 2

[mon]
mon_data = {state}/mon/$id
mon_initial_members = a
paxos_propose_interval = 0.05
paxos_min_wait = 0.01

[osd]
osd_data = {state}/osd/$id
osd_objectstore = memstore
memstore_device_bytes = 4294967296

[client.rgw.a]
rgw_data = {state}/rgw
ms_mon_client_mode = crc
rgw_frontends = beast endpoint=127.0.0.1:{self.gateway_port} tcp_nodelay=1
rgw_enable_usage_log = false
"""

    def _run(self, *command: str) -> str:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def _spawn(self, program: str, *arguments: str) -> None:
        log = (self.state / "log" / f"{program}.out").open("ab")
        self.processes.append(
            subprocess.Popen(
                [program, "-c", str(self.conf), "-f", *arguments],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
            )
        )
        log.close()

    def _ceph(self, *arguments: str) -> str | None:
        """The answer of a ``ceph`` command, or None while the cluster cannot give one."""
        command = ["ceph", "-c", str(self.conf), "--connect-timeout", "5", *arguments]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=20, check=False
            )
        except subprocess.TimeoutExpired:
            return None
        return result.stdout if result.returncode == 0 else None

    def _osd_up(self) -> bool:
        answer = self._ceph("osd", "stat", "-f", "json")
        return answer is not None and json.loads(answer).get("num_up_osds") == 1

    def _gateway_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # an S3 error document is an answer
        except OSError:
            return False

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        while not ready():
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{process.args[0]} exited ({process.returncode}) while starting "
                        f"{what}; logs in {self.state / 'log'}"
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up in {START_TIMEOUT:.0f} s")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def ceph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ceph]:
    """The run's Ceph, started when a test first needs it; with CI=true a machine
    without Ceph fails the run rather than skipping the S3 tests."""
    if missing := missing_programs():
        reason = f"Ceph is not installed (no {', '.join(missing)}): apt-get install {PACKAGES}"
        if IN_CI:
            pytest.fail(f"CI=true requires Ceph: {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = Ceph(tmp_path_factory.mktemp("ceph"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def s3_client(ceph: Ceph, monkeypatch: pytest.MonkeyPatch) -> S3Client:
    """A client of the run's Ceph; the environment names it the standard AWS way, for
    the store and the service to find."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", ceph.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.session.Session().client("s3")


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> Iterator[str]:
    """A new, empty bucket, emptied and removed afterwards (the OSD keeps bytes in
    memory)."""
    bucket = f"fwb-test-{secrets.token_hex(6)}"
    s3_client.create_bucket(Bucket=bucket)
    yield bucket
    for page in s3_client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3_client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            s3_client.delete_object(Bucket=bucket, Key=entry["Key"])
    s3_client.delete_bucket(Bucket=bucket)
