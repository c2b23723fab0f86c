"""What only the S3 store has: multipart staging, abandoned uploads, objects it did not
put under its prefix, and its settings; on the run's Ceph."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from filewallball.errors import InvalidInput
from filewallball.settings import Settings
from filewallball.storage import open_store, s3
from filewallball.storage.s3 import MULTIPART, PART_BYTES, S3BlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.ceph
MiB = 1024 * 1024
SOON = timedelta(days=1)


@pytest.fixture
def s3_store(s3_bucket: str) -> S3BlobStore:
    store = open_store(Settings(storage_url=f"s3://{s3_bucket}/team/blobs"))
    assert isinstance(store, S3BlobStore)
    return store


def uploads(client: S3Client, bucket: str) -> list[str]:
    return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_a_large_upload_goes_in_parts_and_is_one_object_under_its_hash(
    s3_store: S3BlobStore, s3_client: S3Client
) -> None:
    chunk = bytes(range(256)) * 4096
    digest = hashlib.sha256()
    with s3_store.stage() as staged:
        for _ in range(PART_BYTES * 2 // len(chunk) + 3):  # two parts and a short last one
            staged.write(chunk)
            digest.update(chunk)
        assert uploads(s3_client, s3_store.bucket) == [staged.key]  # streamed, in parts
        assert staged.size == len(chunk) * (PART_BYTES * 2 // len(chunk) + 3)
        content_hash = staged.finish()
        assert content_hash == digest.hexdigest()
        assert list(s3_store) == []  # nothing under a hash before it is placed
        assert s3_store.place(staged) is True
    assert uploads(s3_client, s3_store.bucket) == []
    listed = s3_client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    key = f"team/blobs/{content_hash[:2]}/{content_hash[2:4]}/{content_hash}"
    assert [(entry["Key"], entry["Size"]) for entry in listed] == [(key, staged.size)]
    assert s3_store.key(content_hash) == key.removeprefix("team/blobs/")
    assert s3_store.local_path(content_hash) is None
    assert s3_store.space() is None


def test_abandoned_staging_objects_and_multipart_uploads_are_dead_only_past_the_cutoff(
    s3_store: S3BlobStore, s3_client: S3Client
) -> None:
    bucket = s3_store.bucket
    # what a crashed worker leaves: a finished staging object, an unfinished upload
    s3_client.put_object(Bucket=bucket, Key=f"team/blobs/.staging/{'a' * 32}", Body=b"left")
    started = s3_client.create_multipart_upload(
        Bucket=bucket, Key=f"team/blobs/.staging/{'b' * 32}"
    )
    s3_client.upload_part(
        Bucket=bucket, Key=started["Key"], UploadId=started["UploadId"], PartNumber=1, Body=b"x"
    )
    with s3_store.stage() as live:  # this process is writing this one
        live.write(b"y" * (PART_BYTES + 1))
        now = datetime.now(UTC)
        assert s3_store.dead_temporary(older_than=now - SOON) == []
        assert s3_store.dead_temporary() == []  # the service's start-up leaves recent ones
        dead = s3_store.dead_temporary(older_than=now + SOON)
        assert sorted(dead) == ["a" * 32, "b" * 32 + MULTIPART]
        assert s3_store.strays() == []
        assert s3_store.remove_temporary(older_than=now + SOON) == 2
        assert uploads(s3_client, bucket) == [live.key]
        live.finish()
    assert s3_store.dead_temporary(older_than=now + SOON) == []
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)


def test_objects_the_store_did_not_put_there_are_strays_moved_aside_intact(
    s3_store: S3BlobStore, s3_client: S3Client, tmp_path: Path
) -> None:
    bucket = s3_store.bucket
    content_hash = hashlib.sha256(b"ours").hexdigest()
    wrong_place = f"00/00/{content_hash}"
    for key, body in {
        "team/blobs/notes.txt": b"somebody's notes",
        f"team/blobs/{wrong_place}": b"ours",
        "team/blobs/.staging/not-a-staging-name": b"?",
        "elsewhere/outside-the-prefix": b"not ours to judge",
    }.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    strays = s3_store.strays()
    assert strays == [".staging/not-a-staging-name", wrong_place, "notes.txt"]
    assert list(s3_store) == []
    (tmp_path / "aside").mkdir()
    (tmp_path / "aside" / "notes.txt").write_bytes(b"already here")
    moved = s3_store.move_stray("notes.txt", tmp_path / "aside")
    assert moved == tmp_path / "aside" / "notes.txt.1"
    assert moved.read_bytes() == b"somebody's notes"
    assert (tmp_path / "aside" / "notes.txt").read_bytes() == b"already here"
    assert s3_store.strays() == [".staging/not-a-staging-name", wrong_place]


def test_a_missing_bucket_is_one_line_at_start(s3_client: S3Client) -> None:
    with pytest.raises(
        InvalidInput, match=r"the bucket 'fwb-no-such-bucket' at http://\S+ does not exist"
    ):
        open_store(Settings(storage_url="s3://fwb-no-such-bucket/x"))


@pytest.mark.parametrize(
    "url", ["s3://", "file://relative/path", "ftp://host/x", "s3://bucket/x?versionId=1"]
)
def test_a_storage_url_is_a_local_path_or_a_bucket(url: str) -> None:
    with pytest.raises(ValidationError, match="neither file:///absolute/path nor s3://bucket"):
        Settings(storage_url=url)


def test_a_blob_larger_than_a_single_copy_is_placed_by_a_multipart_copy(
    s3_store: S3BlobStore, s3_client: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 copies at most 5 GiB at once: above that, in ranges (here with the limits
    scaled down to megabytes, S3's smallest part being 5 MiB)."""
    monkeypatch.setattr(s3, "LARGEST_SINGLE_COPY", 6 * MiB)
    monkeypatch.setattr(s3, "COPY_PART_BYTES", 5 * MiB)
    content = bytes(range(256)) * (12 * MiB // 256 + 1000)  # three ranges, the last short
    with s3_store.stage() as staged:
        staged.write(content)
        content_hash = staged.finish()
        assert s3_store.place(staged) is True
    with s3_store.open(content_hash) as blob:
        assert blob.read() == content
    head = s3_client.head_object(
        Bucket=s3_store.bucket, Key=s3_store.object_key(s3_store.key(content_hash))
    )
    assert head["ETag"].endswith('-3"')  # assembled from three copied parts
    assert uploads(s3_client, s3_store.bucket) == []
    assert s3_store.dead_temporary(older_than=datetime.now(UTC) + SOON) == []
