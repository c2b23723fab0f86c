"""Folders from the command line: a directory's paths kept by ``upload``, a folder's
tree recreated by ``get --folder``."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_installation import CliInstallation, run, upload, write


def _stored(document: dict[str, object]) -> set[str]:
    uploaded = document["uploaded"]
    assert isinstance(uploaded, list)
    return {f"{item['folder']}|{item['original_filename']}" for item in uploaded}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_upload_keeps_a_directorys_paths_under_its_own_name(
    installation: CliInstallation, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    write(photos / "top.jpg", b"1")
    write(photos / "sub" / "photo copy.jpg", b"2")
    write(photos / "sub" / "deeper" / "x.txt", b"3")
    loose = write(tmp_path / "loose.txt", b"4")

    assert _stored(upload(photos, loose)) == {
        "photos|top.jpg",
        "photos/sub|photo copy.jpg",
        "photos/sub/deeper|x.txt",
        "|loose.txt",
    }
    assert _stored(upload(photos, "--strip-root")) == {
        "|top.jpg",
        "sub|photo copy.jpg",
        "sub/deeper|x.txt",
    }
    assert _stored(upload(photos / "sub", loose, "--folder", "archive/2024")) == {
        "archive/2024/sub|photo copy.jpg",
        "archive/2024/sub/deeper|x.txt",
        "archive/2024|loose.txt",
    }


def test_info_shows_the_folder(installation: CliInstallation, tmp_path: Path) -> None:
    document = upload(write(tmp_path / "doc.txt", b"doc"), "--folder", "a/b")
    shown = run("info", document["uploaded"][0]["file_uuid"])
    assert re.search(r"^folder +a/b$", shown.stdout, re.MULTILINE)
    listed = run("ls", "--folder-prefix", "a")
    assert "a/b/doc.txt" in listed.stdout


def test_upload_of_the_working_directory_uses_its_name(
    installation: CliInstallation, tmp_path: Path
) -> None:
    write(tmp_path / "here.txt", b"here")
    assert _stored(upload(".")) == {f"{tmp_path.name}|here.txt"}


def test_a_directory_name_that_cannot_be_a_folder_fails_that_file_only(
    installation: CliInstallation, tmp_path: Path
) -> None:
    write(tmp_path / "tree" / "ok.txt", b"ok")
    write(tmp_path / "tree" / "trailing space " / "bad.txt", b"bad")
    result = run("upload", "tree")
    assert result.exit_code == 1
    assert "begins or ends with a space" in result.stderr
    assert "Uploaded 1 file" in result.stdout
    refused = run("upload", "tree", "--folder", "a//b")
    assert refused.exit_code == 1
    assert "empty segment" in refused.stderr


def test_upload_with_replace_trashes_the_earlier_file(
    installation: CliInstallation, tmp_path: Path
) -> None:
    first = write(tmp_path / "v1" / "notes.txt", b"first")
    upload(first, "--folder", "docs")
    write(first, b"second")
    upload(first, "--folder", "docs", "--replace")
    listed = run("ls", "--json", "--folder", "docs")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count('"notes.txt"') == 1


def test_get_folder_recreates_the_tree_and_never_overwrites(
    installation: CliInstallation, tmp_path: Path
) -> None:
    source = tmp_path / "photos"
    write(source / "a.txt", b"a")
    write(source / "sub" / "b.txt", b"b")
    write(source / "sub" / "deeper" / "c.txt", b"c")
    write(tmp_path / "other" / "d.txt", b"d")
    upload(source)
    upload(tmp_path / "other")
    upload(write(tmp_path / "again" / "b.txt", b"b2"), "--folder", "photos/sub")  # same name

    got = run("get", "--folder", "photos", "-o", "out")
    assert got.exit_code == 0, got.output
    assert _tree(tmp_path / "out") == {
        "photos/a.txt": b"a",
        "photos/sub/b.txt": b"b",
        "photos/sub/b (2).txt": b"b2",
        "photos/sub/deeper/c.txt": b"c",
    }

    again = run("get", "--folder", "photos/sub", "-o", "out/photos")
    assert again.exit_code == 0, again.output
    tree = _tree(tmp_path / "out")
    assert tree["photos/sub/b.txt"] == b"b"  # never replaced
    assert tree["photos/sub/b (3).txt"] == b"b"
    assert tree["photos/sub/b (4).txt"] == b"b2"
    assert tree["photos/sub/deeper/c (2).txt"] == b"c"
    assert list(tmp_path.rglob(".filewallball-*")) == []

    everything = run("get", "--folder", "", "-o", "all")
    assert everything.exit_code == 0, everything.output
    assert set(_tree(tmp_path / "all")) == {
        "photos/a.txt",
        "photos/sub/b.txt",
        "photos/sub/b (2).txt",
        "photos/sub/deeper/c.txt",
        "other/d.txt",
    }


def test_get_folder_refuses_a_uuid_and_a_bad_folder(installation: CliInstallation) -> None:
    both = run("get", "12345678-1234-4234-8234-123456789012", "--folder", "x")
    assert both.exit_code == 2
    neither = run("get")
    assert neither.exit_code == 2
    bad = run("get", "--folder", "../etc")
    assert bad.exit_code == 1
    assert "only dots" in bad.stderr
