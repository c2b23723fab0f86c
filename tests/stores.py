"""Looking at a blob store from behind its interface, whichever store it is: what a test
needs to see or to break that the ``BlobStore`` protocol rightly does not offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from filewallball.storage import BlobStore, LocalBlobStore
from filewallball.storage.s3 import S3BlobStore


def staged_anywhere(store: BlobStore) -> list[str]:
    """Every staged blob left in the store, however young."""
    return store.dead_temporary(older_than=datetime.now(UTC) + timedelta(days=1))


def content_of(store: BlobStore, content_hash: str) -> bytes:
    with store.open(content_hash) as blob:
        return blob.read()


def overwrite(store: BlobStore, content_hash: str, data: bytes) -> None:
    """Damage a blob behind the store's back, as a failing disk or a stray tool would."""
    if isinstance(store, LocalBlobStore):
        store.local_path(content_hash).write_bytes(data)
    else:
        assert isinstance(store, S3BlobStore)
        key = store.object_key(store.key(content_hash))
        store.client.put_object(Bucket=store.bucket, Key=key, Body=data)
