"""A full disk: the upload is refused with 507, nothing partial stays, and the files
already stored stay intact and readable."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from filewallball.api import create_app
from filewallball.settings import Settings
from tests.api.conftest import ADMIN, blob_files, staged_files
from tests.factories import random_content

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs as the data directory (the tests run as root on this machine)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_refuses_the_upload_and_keeps_the_rest(
    make_settings: Callable[..., Settings], small_disk: Path
) -> None:
    settings = make_settings(data_dir=small_disk)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(ADMIN)
        kept = random_content(MiB)
        stored = client.put("/api/v1/files/kept.tar", content=kept)
        assert stored.status_code == 201
        before = blob_files(small_disk)

        refused = client.put("/api/v1/files/huge.tar", content=random_content(6 * MiB))
        assert refused.status_code == 507
        assert refused.json()["error"] == {
            "code": "storage_full",
            "message": "no space left on the storage device for this upload",
        }
        assert staged_files(small_disk) == []
        assert blob_files(small_disk) == before
        assert client.get(stored.json()["content_url"]).content == kept

        # Space is back: the next upload succeeds without a restart.
        again = client.put("/api/v1/files/small.tar", content=random_content(MiB))
        assert again.status_code == 201
