"""The service with its blobs in a bucket of the run's Ceph: uploads, downloads (Range,
ETag, 304), one object per content, the purge, and memory that stays flat."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from filewallball.api import create_app
from filewallball.settings import Settings
from tests.api.conftest import (
    ADMIN,
    FILEWALLBALL,
    environment,
    free_port,
    growth_during,
    sha256_of,
    start_server,
    stop_server,
    streamed,
)
from tests.cli_installation import run
from tests.factories import random_content
from tests.stores import unreachable_s3_store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.ceph
MiB = 1024 * 1024
PREFIX = "service/blobs"


@pytest.fixture
def storage_url(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/{PREFIX}"


@pytest.fixture
def s3_admin(make_settings: Callable[..., Settings], storage_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(storage_url=storage_url))
    with TestClient(app, raise_server_exceptions=False, headers=ADMIN) as client:
        yield client


def objects(client: S3Client, bucket: str) -> dict[str, int]:
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {entry["Key"]: entry["Size"] for entry in listed}


def key_of(content_hash: str) -> str:
    return f"{PREFIX}/{content_hash[:2]}/{content_hash[2:4]}/{content_hash}"


def test_a_file_on_s3_downloads_whole_in_ranges_and_conditionally(
    s3_admin: TestClient, s3_client: S3Client, s3_bucket: str
) -> None:
    content = random_content(600_000)  # more than a read buffer: several reads, seeks
    created = s3_admin.put("/api/v1/files/report.bin", content=content)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["file_hash"] == hashlib.sha256(content).hexdigest()
    assert objects(s3_client, s3_bucket) == {key_of(body["file_hash"]): len(content)}

    url = body["content_url"]
    whole = s3_admin.get(url)
    assert whole.status_code == 200
    assert whole.content == content
    etag = whole.headers["etag"]
    assert etag == f'"{body["file_hash"]}"'
    single = s3_admin.get(url, headers={"Range": "bytes=300000-300099"})
    assert single.status_code == 206
    assert single.content == content[300_000:300_100]
    assert single.headers["content-range"] == f"bytes 300000-300099/{len(content)}"
    suffix = s3_admin.get(url, headers={"Range": "bytes=-10"})
    assert suffix.content == content[-10:]
    several = s3_admin.get(url, headers={"Range": "bytes=0-9,500000-500009"})
    assert several.status_code == 206
    assert content[:10] in several.content
    assert content[500_000:500_010] in several.content
    assert s3_admin.get(url, headers={"If-None-Match": etag}).status_code == 304
    head = s3_admin.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(content))


def test_the_same_bytes_twice_are_one_object_until_the_last_file_is_purged(
    s3_admin: TestClient,
    s3_client: S3Client,
    s3_bucket: str,
    storage_url: str,
    service_url: URL,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = random_content(20_000)
    first = s3_admin.put("/api/v1/files/first.bin", content=content).json()
    second = s3_admin.put("/api/v1/files/second.bin", content=content).json()
    assert first["file_uuid"] != second["file_uuid"]
    assert first["file_hash"] == second["file_hash"]
    key = key_of(first["file_hash"])
    assert objects(s3_client, s3_bucket) == {key: len(content)}  # nothing staged is left

    monkeypatch.setenv("FILEWALLBALL_DATABASE_URL", service_url.render_as_string(False))
    monkeypatch.setenv("FILEWALLBALL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FILEWALLBALL_STORAGE_URL", storage_url)
    assert s3_admin.delete(f"/api/v1/files/{first['file_uuid']}").status_code == 200
    assert run("purge", "--older-than", "0").exit_code == 0
    assert objects(s3_client, s3_bucket) == {key: len(content)}  # the second file needs it
    assert s3_admin.get(second["content_url"]).content == content

    assert s3_admin.delete(f"/api/v1/files/{second['file_uuid']}").status_code == 200
    assert run("purge", "--older-than", "0").exit_code == 0
    assert objects(s3_client, s3_bucket) == {}


@pytest.mark.slow
def test_a_large_upload_streams_to_s3_without_growing_the_server(
    service_url: URL, tmp_path: Path, storage_url: str, s3_client: S3Client, s3_bucket: str
) -> None:
    size = 64 * MiB
    running = start_server(
        service_url, tmp_path / "data", tmp_path / "serve.log", FILEWALLBALL_STORAGE_URL=storage_url
    )
    try:

        def send() -> httpx.Response:
            with httpx.Client(base_url=running.url, headers=ADMIN, timeout=120) as http:
                return http.put("/api/v1/files/big.tar", content=streamed(b"s3", size))

        created, growth = growth_during(running, send)
        assert created.status_code == 201, created.text
        content_hash = created.json()["file_hash"]
        assert content_hash == sha256_of(streamed(b"s3", size))
        # Two parts at most (one sending, one filling) and the batches, never the upload.
        assert growth < size * 3 / 4, f"the server grew by {growth / MiB:.1f} MiB"
        assert objects(s3_client, s3_bucket) == {key_of(content_hash): size}
        digest, received = hashlib.sha256(), 0
        with (
            httpx.Client(base_url=running.url, headers=ADMIN, timeout=120) as http,
            http.stream("GET", created.json()["content_url"]) as download,
        ):
            for piece in download.iter_bytes():
                digest.update(piece)
                received += len(piece)
        assert (received, digest.hexdigest()) == (size, content_hash)
    finally:
        stop_server(running)


def test_serve_stops_with_one_line_when_its_bucket_is_not_there(
    service_url: URL, tmp_path: Path, s3_client: S3Client
) -> None:
    result = subprocess.run(
        [FILEWALLBALL, "serve", "--port", str(free_port())],
        env=environment(
            service_url, tmp_path / "data", FILEWALLBALL_STORAGE_URL="s3://fwb-not-there/blobs"
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    endpoint = s3_client.meta.endpoint_url
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"Error: the bucket 'fwb-not-there' at {endpoint} does not exist"


def test_health_says_the_storage_is_not_writable_when_the_object_store_fails(
    s3_admin: TestClient,
) -> None:
    state = s3_admin.app.state  # type: ignore[attr-defined]
    services = state.services
    state.services = dataclasses.replace(services, store=unreachable_s3_store())
    try:
        answer = s3_admin.get("/health")
    finally:
        state.services = services
    assert answer.status_code == 503
    storage = answer.json()["storage"]
    assert storage["writable"] is False
    assert "the object store failed" in storage["error"]
    assert s3_admin.get("/health").status_code == 200  # the real one answers
