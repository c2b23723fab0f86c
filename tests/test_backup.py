"""``filewallball backup`` and ``restore DIR``: a round trip into an empty installation
gives back every file, its metadata and its bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from filewallball.settings import get_settings
from tests.cli_installation import CliInstallation, run, sha256, upload, uuids_by_name, write
from tests.stores import put_behind


def _use(monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    """Point the commands at an installation on SQLite in ``data``."""
    monkeypatch.setenv("FILEWALLBALL_DATA_DIR", str(data))
    get_settings.cache_clear()


def _ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _everything() -> dict[str, tuple[dict[str, Any], bytes]]:
    """Every file, deleted ones too: its `info` and its bytes from `get`."""
    listing = json.loads(_ok("ls", "--json", "--include-deleted", "--limit", "100"))
    found = {}
    for item in listing["items"]:
        info = json.loads(_ok("info", "--json", item["file_uuid"]))
        content = run("get", item["file_uuid"], "-o", "-")
        assert content.exit_code == 0, content.output
        found[item["file_uuid"]] = (info, content.stdout_bytes)
    return found


def test_a_backup_restored_into_an_empty_installation_gives_back_every_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use(monkeypatch, tmp_path / "original")
    _ok("init")
    sources = tmp_path / "sources"
    uploaded = upload(
        write(sources / "a.txt", b"alpha"),
        write(sources / "a-again.txt", b"alpha"),  # the same content: one blob
        write(sources / "b.csv", b"x,y\n1,2\n"),
        write(sources / "c.txt", b"to the trash"),
        "--tag",
        "kept",
    )
    upload(write(sources / "private" / "d.txt", b"private"), "--private")
    _ok("rm", uuids_by_name(uploaded)["c.txt"])
    before = _everything()
    assert len(before) == 5

    backup = tmp_path / "backup"
    _ok("backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["counts"] == {
        "files": 5,
        "deleted_files": 1,
        "contents": 4,
        "content_bytes": len(b"alpha" + b"x,y\n1,2\n" + b"to the trash" + b"private"),
        "blobs": 4,
    }
    assert manifest["schema_revision"]

    _use(monkeypatch, tmp_path / "restored")
    _ok("restore", str(backup))
    assert _everything() == before
    fsck = run("fsck", "--deep", "--json")
    assert fsck.exit_code == 0, fsck.output
    assert json.loads(fsck.stdout)["blobs_seen"] == 4

    again = run("restore", str(backup))  # the installation is no longer empty
    assert again.exit_code == 1
    assert "not empty" in again.output
    assert _everything() == before


def test_restore_refuses_a_directory_that_is_not_a_backup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use(monkeypatch, tmp_path / "data")
    (tmp_path / "nothing").mkdir()
    result = run("restore", str(tmp_path / "nothing"))
    assert result.exit_code == 1
    assert "not a backup" in result.output


def test_backup_refuses_a_directory_that_is_not_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use(monkeypatch, tmp_path / "data")
    _ok("init")
    write(tmp_path / "backup" / "something", b"")
    result = run("backup", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert "not empty" in result.output


def test_a_backup_holds_every_blob_the_database_names_verified(
    installation_on: CliInstallation, tmp_path: Path
) -> None:
    """On every database and store: the blobs the rows name, and no other (MariaDB and
    PostgreSQL: only those, the database being the server's to dump)."""
    installation, store = installation_on, installation_on.store
    uploaded = upload(
        write(tmp_path / "a.txt", b"alpha"),
        write(tmp_path / "b.txt", b"beta"),
        write(tmp_path / "b-again.txt", b"beta"),
    )
    _ok("rm", uuids_by_name(uploaded)["a.txt"])
    put_behind(store, store.key(sha256(b"orphan")), b"orphan")  # named by no row
    backup = tmp_path / "backup"
    _ok("backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    stored = {path.name for path in (backup / "blobs").glob("??/??/*")}
    assert stored == {sha256(b"alpha"), sha256(b"beta")}
    assert manifest["counts"]["files"] == 3
    assert manifest["counts"]["deleted_files"] == 1
    dialect = installation.engine.dialect.name
    assert manifest["dialect"] == dialect
    assert (manifest["database"] is None) == (dialect != "sqlite")
    assert (backup / "filewallball.db").exists() == (dialect == "sqlite")
