"""The local blob store, as its holders see it through the ``BlobStore`` interface."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from filewallball.errors import InvalidInput
from filewallball.storage import LocalBlobStore


def test_a_staged_blob_is_invisible_until_placed_and_placing_it_again_is_harmless(
    tmp_path: Path,
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
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
    assert list(store.temporary.iterdir()) == []


def test_content_already_stored_keeps_its_blob_unless_it_is_damaged(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with store.stage() as first:
        first.write(b"same bytes")
        content_hash = first.finish()
        store.place(first)
    with store.stage() as second:
        second.write(b"same bytes")
        second.finish()
        assert store.place(second) is False
    assert list(store.temporary.iterdir()) == []  # the copy was dropped

    store.local_path(content_hash).write_bytes(b"damaged!!!")  # same size: only fsck knows
    with store.stage() as verified:
        verified.write(b"same bytes")
        verified.finish()
        assert store.place(verified, replace=True) is True
    assert store.local_path(content_hash).read_bytes() == b"same bytes"


def test_the_staged_copy_outlives_its_placing_until_discarded(tmp_path: Path) -> None:
    """An upload places its blob before it locks the blob row, so a release may remove
    the blob in between: the staged copy puts it back, and no clean-up takes the staged
    file of a running upload for a crashed one's."""
    store = LocalBlobStore(tmp_path / "blobs")
    with store.stage() as staged:
        staged.write(b"placed twice")
        content_hash = staged.finish()
        assert store.place(staged) is True
        assert store.dead_temporary() == []  # still locked: the upload runs
        assert store.delete(content_hash) is True  # a release, between placing and the lock
        assert store.place(staged) is True
        with pytest.raises(RuntimeError):
            staged.write(b"more")  # finished: the bytes are fixed
    assert store.local_path(content_hash).read_bytes() == b"placed twice"
    assert list(store.temporary.iterdir()) == []


def test_blobs_are_listed_in_hash_order_and_deleted_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    hashes = []
    for number in range(5):
        with store.stage() as staged:
            staged.write(f"content {number}".encode())
            hashes.append(staged.finish())
            store.place(staged)
    assert list(store) == sorted(hashes)
    assert store.delete(hashes[0]) is True
    assert store.delete(hashes[0]) is False
    assert store.stat(hashes[0]) is None
    with pytest.raises(FileNotFoundError):
        store.open(hashes[0])
    assert list(store) == sorted(hashes[1:])


def test_a_discarded_staged_blob_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with store.stage() as staged:
        staged.write(b"never finished")
    staged.discard()  # again: harmless
    assert list(store.temporary.iterdir()) == []
    assert store.remove_temporary() == 0


def test_the_local_store_names_its_files_and_its_free_space(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    content_hash = "ab" * 32
    assert store.key(content_hash) == f"ab/ab/{content_hash}"
    assert store.local_path(content_hash) == tmp_path / "blobs" / "ab" / "ab" / content_hash
    with pytest.raises(InvalidInput):
        store.key("../../etc/passwd")
    space = store.space()
    assert 0 < space.free_bytes <= space.total_bytes
