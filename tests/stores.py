"""Looking at a blob store from behind its interface, whichever store it is: what a test
needs to see or to break that the ``BlobStore`` protocol rightly does not offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config

from filewallball.storage import BlobStore, LocalBlobStore
from filewallball.storage.s3 import S3BlobStore


def staged_anywhere(store: BlobStore) -> list[str]:
    """Every staged blob left in the store, however young."""
    return store.dead_temporary(older_than=datetime.now(UTC) + timedelta(days=1))


def content_of(store: BlobStore, content_hash: str) -> bytes:
    with store.open(content_hash) as blob:
        return blob.read()


def put_behind(store: BlobStore, name: str, data: bytes) -> None:
    """Write ``name`` (relative to the store's root or prefix) behind the store's back,
    as a failing disk, a crash or a stray tool would."""
    if isinstance(store, LocalBlobStore):
        path = store.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        assert isinstance(store, S3BlobStore)
        store.client.put_object(Bucket=store.bucket, Key=store.object_key(name), Body=data)


def overwrite(store: BlobStore, content_hash: str, data: bytes) -> None:
    """Damage a blob."""
    put_behind(store, store.key(content_hash), data)


def unreachable_s3_store() -> S3BlobStore:
    """A store whose object store does not answer (no retries: the test need not wait)."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-east-1",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return S3BlobStore(client, "fwb-bucket", "x")
