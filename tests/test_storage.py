"""The blob stores, as their holders see them through the ``BlobStore`` interface: each
test runs on the local directory and on a bucket of a real Ceph (``store`` fixture)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from filewallball.errors import InvalidInput
from filewallball.settings import Settings
from filewallball.storage import BlobStore, LocalBlobStore, open_store
from filewallball.storage.s3 import S3BlobStore
from tests.stores import content_of, overwrite, staged_anywhere, unreachable_s3_store


def put(store: BlobStore, content: bytes) -> str:
    with store.stage() as staged:
        staged.write(content)
        content_hash = staged.finish()
        store.place(staged)
    return content_hash


def test_a_staged_blob_is_invisible_until_placed_and_placing_it_again_is_harmless(
    store: BlobStore,
) -> None:
    with store.stage() as staged:
        staged.write(b"first part, ")
        staged.write(b"second part")
        content_hash = staged.finish()
        assert content_hash == hashlib.sha256(b"first part, second part").hexdigest()
        assert staged.size == 23
        assert store.stat(content_hash) is None
        assert list(store) == []

        assert store.place(staged) is True
        assert store.place(staged) is False  # a transaction run again finds it placed
    info = store.stat(content_hash)
    assert info is not None
    assert info.size == 23
    with store.open(content_hash) as blob:
        assert blob.read() == b"first part, second part"
    assert list(store) == [content_hash]
    assert store.dead_temporary() == []
    assert staged_anywhere(store) == []
    assert store.strays() == []


def test_content_already_stored_keeps_its_blob_unless_it_is_damaged(store: BlobStore) -> None:
    content_hash = put(store, b"same bytes")
    with store.stage() as second:
        second.write(b"same bytes")
        second.finish()
        assert store.place(second) is False
    assert staged_anywhere(store) == []  # the copy was dropped

    overwrite(store, content_hash, b"damaged!!!")  # same size: only fsck knows
    with store.stage() as verified:
        verified.write(b"same bytes")
        verified.finish()
        assert store.place(verified, replace=True) is True
    with store.open(content_hash) as blob:
        assert blob.read() == b"same bytes"
    assert staged_anywhere(store) == []


def test_a_blob_of_the_wrong_size_is_replaced_by_an_upload_of_its_content(
    store: BlobStore,
) -> None:
    content_hash = put(store, b"the whole content")
    overwrite(store, content_hash, b"trunc")
    with store.stage() as again:
        again.write(b"the whole content")
        again.finish()
        assert store.place(again) is True
    with store.open(content_hash) as blob:
        assert blob.read() == b"the whole content"


def test_the_staged_copy_outlives_its_placing_until_discarded(store: BlobStore) -> None:
    """An upload places its blob before it locks the blob row, so a release may remove
    the blob in between: the staged copy puts it back, and no clean-up takes the staged
    file of a running upload for a crashed one's."""
    with store.stage() as staged:
        staged.write(b"placed twice")
        content_hash = staged.finish()
        assert store.place(staged) is True
        assert store.dead_temporary() == []  # still locked: the upload runs
        assert store.delete(content_hash) is True  # a release, between placing and the lock
        assert store.place(staged) is True
        with pytest.raises(RuntimeError):
            staged.write(b"more")  # finished: the bytes are fixed
    assert content_of(store, content_hash) == b"placed twice"
    assert staged_anywhere(store) == []


def test_blobs_are_listed_in_hash_order_and_deleted_once(store: BlobStore) -> None:
    if isinstance(store, S3BlobStore):
        store.page_size = 2  # the listing is read a page at a time
    hashes = [put(store, f"content {number}".encode()) for number in range(5)]
    assert list(store) == sorted(hashes)
    assert store.delete(hashes[0]) is True
    assert store.delete(hashes[0]) is False
    assert store.stat(hashes[0]) is None
    with pytest.raises(FileNotFoundError):
        store.open(hashes[0])
    assert list(store) == sorted(hashes[1:])


def test_a_discarded_staged_blob_leaves_nothing(store: BlobStore) -> None:
    with store.stage() as staged:
        staged.write(b"never finished")
    staged.discard()  # again: harmless
    assert staged_anywhere(store) == []
    assert store.remove_temporary() == 0


def test_an_empty_content_is_a_blob_like_any_other(store: BlobStore) -> None:
    content_hash = put(store, b"")
    assert content_hash == hashlib.sha256(b"").hexdigest()
    info = store.stat(content_hash)
    assert info is not None
    assert info.size == 0
    with store.open(content_hash) as blob:
        assert blob.read() == b""
    assert list(store) == [content_hash]


def test_a_blob_reads_from_anywhere_in_it(store: BlobStore) -> None:
    content = bytes(range(256)) * 4096  # 1 MiB, more than a read buffer
    content_hash = put(store, content)
    with store.open(content_hash) as blob:
        assert blob.seekable()
        assert blob.read(10) == content[:10]
        blob.seek(500_000)
        assert blob.read(300_000) == content[500_000:800_000]
        blob.seek(-5, io.SEEK_END)
        assert blob.read() == content[-5:]
        assert blob.read(1) == b""
        blob.seek(3)
        assert blob.tell() == 3
        assert blob.read() == content[3:]


def test_the_local_store_names_its_files_and_its_free_space(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    content_hash = "ab" * 32
    assert store.key(content_hash) == f"ab/ab/{content_hash}"
    assert store.local_path(content_hash) == tmp_path / "blobs" / "ab" / "ab" / content_hash
    with pytest.raises(InvalidInput):
        store.key("../../etc/passwd")
    space = store.space()
    assert 0 < space.free_bytes <= space.total_bytes


def test_an_object_store_that_cannot_be_reached_is_one_line_at_start() -> None:
    settings = Settings(storage_url="s3://fwb-bucket/x", s3_endpoint_url="http://127.0.0.1:1")
    with pytest.raises(InvalidInput, match=r"^the bucket 'fwb-bucket' at http://127.0.0.1:1: "):
        open_store(settings)


def test_an_object_store_that_fails_is_a_storage_error_like_a_disks() -> None:
    store = unreachable_s3_store()
    with store.stage() as staged:
        staged.write(b"buffered until a part is full")
        with pytest.raises(OSError, match="the object store failed: Could not connect"):
            staged.finish()
    with pytest.raises(OSError, match="the object store failed"):
        store.stat("ab" * 32)
    with pytest.raises(OSError, match="the object store failed"):
        list(store)
