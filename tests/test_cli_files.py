"""``filewallball`` file commands, end to end on each database: upload, search, info, get,
rm, restore, tag, untag, stats, purge.

The commands commit, so they share one database per dialect (migrated once for this
module) that is emptied after each test, and each test has its own data directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.models import (
    FileCount,
    FileInfo,
    FileUpload,
)
from filewallball.operations.activity import record_download
from filewallball.operations.clients import Client
from filewallball.operations.system_settings import set_setting
from tests.cli_installation import (
    CliInstallation,
    listing,
    run,
    sha256,
    upload,
    uuids_by_name,
    write,
)

FILE_FIELDS = {
    "file_uuid",
    "original_filename",
    "folder",
    "file_extension",
    "mime_type",
    "file_size",
    "file_hash",
    "is_public",
    "is_deleted",
    "created_at",
    "updated_at",
    "category",
    "tags",
    "content_status",
    "owner",
}
ELF_HEADER = b"\x7fELF\x02\x01\x01"
MISSING = "12345678-1234-4234-8234-123456789012"


@pytest.fixture
def upload_limit(installation: CliInstallation) -> Iterator[int]:
    """A global upload cap of 1.5 MiB for one test."""
    limit = 1536 * 1024
    with Session(installation.engine) as session, session.begin():
        set_setting(session, "max_upload_bytes", limit)
    yield limit
    with Session(installation.engine) as session, session.begin():
        set_setting(session, "max_upload_bytes", 8 * 1024**3)


def test_upload_stores_a_tree_with_each_content_once(
    installation: CliInstallation, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    write(tree / "a.txt", b"same bytes")
    write(tree / "sub" / "b.txt", b"same bytes")
    write(tree / "sub" / "deeper" / "c.md", b"# notes\n")
    write(tree / "empty.txt", b"")
    (tree / "linked").symlink_to(tree / "sub", target_is_directory=True)

    result = run(
        "upload", str(tree), "--tag", "Holiday", "--tag", "trip,2024", "--category", "documents"
    )
    assert result.exit_code == 0, result.output
    assert "Uploaded 4 files (28 B), 1 duplicate of content already stored." in result.stdout
    assert f"{tree / 'sub' / 'b.txt'}  (duplicate content)" in result.stdout

    files = installation.files()
    assert [file.original_filename for file in files] == ["a.txt", "b.txt", "c.md", "empty.txt"]
    for file in files:
        assert file.category is not None
        assert file.category.name == "documents"
        assert sorted(tag.tag_name for tag in file.tags) == ["2024", "holiday", "trip"]
        assert file.is_public
    contents = {sha256(b"same bytes"), sha256(b"# notes\n"), sha256(b"")}
    assert {file.file_hash for file in files} == contents
    assert installation.blob_hashes() == contents
    assert installation.stored_blobs() == contents
    assert installation.staging() == []
    uploads = installation.scalars(sa.select(FileUpload))
    assert sorted(u.upload_status for u in uploads) == ["completed"] * 4
    assert {u.user_agent for u in uploads} == {"filewallball-cli"}
    assert {u.file_id for u in uploads} == {file.id for file in files}

    again = upload(write(tmp_path / "copy.txt", b"# notes\n"), "--private")
    [copy] = again["uploaded"]
    assert copy["duplicate"] is True
    assert copy["file_hash"] == sha256(b"# notes\n")
    assert again["failed"] == []
    fresh = upload(write(tmp_path / "new.txt", b"new"))
    assert fresh["uploaded"][0]["duplicate"] is False
    assert installation.stored_blobs() == {*contents, sha256(b"new")}


def test_refused_uploads_leave_nothing_behind(
    installation: CliInstallation, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    write(tree / "good.txt", b"fine")
    write(tree / "photo.png", ELF_HEADER + bytes(100))
    write(tree / "setup.exe", b"MZ" + bytes(100))

    result = run("upload", "--json", str(tree))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [item["original_filename"] for item in document["uploaded"]] == ["good.txt"]
    failed = {Path(item["path"]).name: item["error"] for item in document["failed"]}
    assert "not what its extension .png says" in failed["photo.png"]
    assert failed["setup.exe"].startswith(".exe files are not allowed; an admin can allow them")

    assert [file.original_filename for file in installation.files()] == ["good.txt"]
    assert installation.blob_hashes() == installation.stored_blobs() == {sha256(b"fine")}
    assert installation.staging() == []
    # The refused content was recorded as a failed attempt; the refused name never began one.
    statuses = installation.scalars(sa.select(FileUpload.upload_status))
    assert sorted(statuses) == ["completed", "failed"]

    plain = run("upload", str(tree / "setup.exe"))
    assert plain.exit_code == 1
    assert f"failed: {tree / 'setup.exe'}: .exe files are not allowed;" in plain.stderr
    assert "Traceback" not in plain.output


def test_an_upload_over_the_limit_is_cut_off_while_streaming(
    installation: CliInstallation, upload_limit: int, tmp_path: Path
) -> None:
    big = write(tmp_path / "big.txt", b"x" * (upload_limit + 1024 * 1024))  # two chunks

    result = run("upload", str(big), "--json")
    assert result.exit_code == 1
    [failure] = json.loads(result.stdout)["failed"]
    assert "larger than the limit of 1.5 MiB" in failure["error"]
    assert installation.files() == []
    assert installation.blob_hashes() == installation.stored_blobs() == set()
    assert installation.staging() == []
    assert installation.scalars(sa.select(FileUpload.upload_status)) == ["failed"]


def test_get_gives_back_the_uploaded_bytes(installation: CliInstallation, tmp_path: Path) -> None:
    contents = {
        "Grüße 日本.txt": "Grüße aus 日本\n".encode() * 100,
        "empty.txt": b"",
        "big.txt": b"".join(b"line %d\n" % i for i in range(300_000)),  # several chunks
    }
    tree = tmp_path / "tree"
    for name, content in contents.items():
        write(tree / name, content)
    uuids = uuids_by_name(upload(tree))

    for name, content in contents.items():
        result = run("get", uuids[name])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).read_bytes() == content
        streamed = run("get", uuids[name], "-o", "-")
        assert streamed.exit_code == 0
        assert streamed.stdout_bytes == content

    (tmp_path / "out").mkdir()
    assert run("get", uuids["empty.txt"], "-o", "out").exit_code == 0
    assert (tmp_path / "out" / "empty.txt").read_bytes() == b""

    write(tmp_path / "mine.txt", b"keep me")
    refused = run("get", uuids["big.txt"], "-o", "mine.txt")
    assert refused.exit_code == 1
    assert "mine.txt exists; --force replaces it" in refused.stderr
    assert (tmp_path / "mine.txt").read_bytes() == b"keep me"
    assert run("get", uuids["big.txt"], "-o", "mine.txt", "--force").exit_code == 0
    assert (tmp_path / "mine.txt").read_bytes() == contents["big.txt"]
    assert list(tmp_path.glob(".filewallball-*")) == []


def test_get_refuses_damaged_or_lost_content(installation: CliInstallation, tmp_path: Path) -> None:
    content = b"the original content"
    [file_uuid] = uuids_by_name(upload(write(tmp_path / "in" / "doc.txt", content))).values()
    blob = installation.blob_path(sha256(content))
    blob.write_bytes(b"THE ORIGINAL CONTENT")  # same size, other bytes

    damaged = run("get", file_uuid, "-o", "copy.txt")
    assert damaged.exit_code == 1
    assert f"the stored content of file {file_uuid} is damaged" in damaged.stderr
    assert "Traceback" not in damaged.output
    assert not (tmp_path / "copy.txt").exists()
    assert list(tmp_path.glob(".filewallball-*")) == []
    streamed = run("get", file_uuid, "-o", "-")
    assert streamed.exit_code == 1
    assert "is not the file" in streamed.stderr

    blob.unlink()
    lost = run("get", file_uuid)
    assert lost.exit_code == 1
    assert f"the content of file {file_uuid} is missing from the store" in lost.stderr
    assert not (tmp_path / "doc.txt").exists()


def test_search_filters_sorts_and_pages(installation: CliInstallation, tmp_path: Path) -> None:
    report = write(tmp_path / "report.md", b"0123456789")
    photo = write(tmp_path / "photo.jpg", b"p" * 30)
    notes = write(tmp_path / "notes.txt", b"n" * 20)
    upload(report, "--tag", "work", "--category", "documents")
    upload(photo, "--tag", "holiday,family", "--category", "images", "--private")
    uuids = uuids_by_name(upload(notes, "--tag", "work", "--tag", "family"))

    assert listing() == ["notes.txt", "photo.jpg", "report.md"]
    assert listing("--extension", "md") == ["report.md"]
    assert listing("--extension", "MD", "--extension", ".txt") == ["notes.txt", "report.md"]
    assert listing("--tag", "family", "--tag", "work", "--tag-mode", "all") == ["notes.txt"]
    assert len(listing("--tag", "family", "--tag", "Work")) == 3
    assert listing("--q", "OTO") == ["photo.jpg"]
    assert listing("report") == ["report.md"]  # the text as an argument: search report
    assert listing("--mime", "image/") == ["photo.jpg"]
    assert listing("--category", "documents") == ["notes.txt", "report.md"]  # by its type
    assert listing("--name-prefix", "NOTE") == ["notes.txt"]
    assert listing("--name-prefix", "otes") == []
    assert listing("--min-size", "15", "--max-size", "25") == ["notes.txt"]
    assert listing("--private") == ["photo.jpg"]
    assert listing("--public") == ["notes.txt", "report.md"]
    assert len(listing("--created-after", "2000-01-01")) == 3
    assert listing("--created-before", "2000-01-01T00:00:00+02:00") == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert listing("--created-after", tomorrow) == []

    first = json.loads(
        run(
            "ls", "--json", "--sort", "file_size", "--order", "asc", "--limit", "2", "--with-total"
        ).stdout
    )
    assert [item["original_filename"] for item in first["items"]] == ["report.md", "notes.txt"]
    assert first["total"] == 3
    assert set(first["items"][0]) == FILE_FIELDS
    assert first["items"][0]["tags"] == ["work"]
    assert first["items"][0]["category"] == "documents"
    assert first["items"][0]["created_at"].endswith("Z")  # as the HTTP API writes times
    following = ["--sort", "file_size", "--order", "asc", "--limit", "2"]
    rest = json.loads(run("search", "--json", *following, "--cursor", first["next_cursor"]).stdout)
    assert [item["original_filename"] for item in rest["items"]] == ["photo.jpg"]
    assert rest["next_cursor"] is None
    assert rest["total"] is None

    assert run("rm", uuids["notes.txt"]).exit_code == 0
    assert listing() == ["photo.jpg", "report.md"]
    assert listing("--include-deleted") == ["notes.txt", "photo.jpg", "report.md"]

    table = run("ls", "--limit", "1")
    assert table.exit_code == 0
    assert "photo.jpg" in table.stdout
    assert "more: --cursor " in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-size", "-1"], "min_size"),
        (["--limit", "0"], "limit"),
        (["--limit", "501"], "limit"),
        (["--created-after", "yesterday"], "'yesterday' is not an ISO 8601 date"),
        (["--created-after", "2024-02-01", "--created-before", "2024-01-01"], "later than"),
        (["--cursor", "bogus"], "cursor is not valid"),
        (["--sort", "name"], "'name' is not one of"),
        (["--tag", "a/b"], "tag 'a/b' must start with"),
        (["report", "--q", "notes"], "as TEXT or as --q"),
    ],
)
def test_search_refuses_bad_input(
    installation: CliInstallation, args: list[str], message: str
) -> None:
    result = run("ls", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_rm_restore_tag_untag(installation: CliInstallation, tmp_path: Path) -> None:
    uuids = uuids_by_name(upload(write(tmp_path / "a.txt", b"a"), write(tmp_path / "b.txt", b"b")))
    first, second = uuids["a.txt"], uuids["b.txt"]

    removed = run("rm", first, second, MISSING)
    assert removed.exit_code == 1
    assert f"deleted          {first}  a.txt" in removed.stdout
    assert f"deleted          {second}  b.txt" in removed.stdout
    assert f"Error: no file {MISSING}" in removed.stderr
    assert [file.is_deleted for file in installation.files()] == [True, True]
    assert f"already deleted  {first}" in run("rm", first).stdout

    assert run("tag", first, "x").exit_code == 1  # only live files are tagged
    restored = run("restore", first)
    assert restored.exit_code == 0
    assert f"restored         {first}  a.txt" in restored.stdout
    assert [file.is_deleted for file in installation.files()] == [False, True]

    tagged = run("tag", first, "Summer  2024", "b,c")
    assert tagged.exit_code == 0
    assert tagged.stdout.strip() == f"{first}  tags: b, c, summer 2024"
    untagged = run("untag", first, "B", "not-there")
    assert untagged.stdout.strip() == f"{first}  tags: c, summer 2024"
    bad = run("tag", first, "bad/tag")
    assert bad.exit_code == 2
    assert "Invalid value for 'TAG...'" in bad.stderr
    [tags] = [file.tags for file in installation.files() if file.file_uuid == first]
    assert sorted(tag.tag_name for tag in tags) == ["c", "summer 2024"]

    assert run("rm", "not-a-uuid").exit_code == 2
    assert run("restore", MISSING).exit_code == 1


def test_info_shows_metadata_activity_and_the_trash(
    installation: CliInstallation, tmp_path: Path
) -> None:
    content = b"quarterly numbers"
    document = upload(
        write(tmp_path / "q3.csv", content), "--tag", "finance", "--category", "documents"
    )
    [file_uuid] = uuids_by_name(document).values()
    with Session(installation.engine) as session, session.begin():
        file = session.scalars(sa.select(FileInfo)).one()
        record_download(session, file.id, bytes_served=len(content), client=Client(ip="192.0.2.1"))

    shown = json.loads(run("info", file_uuid, "--json").stdout)
    assert set(shown) >= FILE_FIELDS
    assert shown["original_filename"] == "q3.csv"
    assert shown["mime_type"] == "text/csv"
    assert shown["file_hash"] == sha256(content)
    assert shown["tags"] == ["finance"]
    assert shown["category"] == "documents"
    assert shown["deleted_at"] is None
    assert shown["activity"]["downloads"] == 1
    assert shown["activity"]["bytes_served"] == len(content)
    assert shown["activity"]["views"] == 0

    run("rm", file_uuid)
    text = run("info", file_uuid)
    assert text.exit_code == 0
    assert "q3.csv" in text.stdout
    assert "in the trash" in text.stdout
    assert json.loads(run("info", file_uuid, "--json").stdout)["is_deleted"] is True

    missing = run("info", MISSING)
    assert missing.exit_code == 1
    assert missing.stderr == f"Error: no file {MISSING}\n"
    unknown_category = run("upload", str(tmp_path / "q3.csv"), "--category", "nope")
    assert unknown_category.exit_code == 1
    assert "no active category named 'nope'" in unknown_category.stderr


def test_purge_removes_a_content_with_its_last_row(
    installation: CliInstallation, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    write(tree / "a.txt", b"shared")
    write(tree / "b.txt", b"shared")
    write(tree / "c.txt", b"alone")
    uuids = uuids_by_name(upload(tree))
    assert run("rm", uuids["a.txt"], uuids["c.txt"]).exit_code == 0

    kept = json.loads(run("purge", "--json").stdout)  # retention: 30 days
    assert kept == {"older_than_days": 30, "files_purged": 0, "blobs_removed": 0, "bytes_freed": 0}

    preview = run("purge", "--dry-run", "--older-than", "0", "--json")
    listed = json.loads(preview.stdout)
    assert sorted(item["original_filename"] for item in listed["files"]) == ["a.txt", "c.txt"]
    assert listed["complete"] is True
    assert (
        "Would purge 2 files (11 B) deleted more than 0 days ago"
        in run("purge", "--dry-run", "--older-than", "0").stdout
    )
    assert len(installation.files()) == 3
    assert installation.stored_blobs() == {sha256(b"shared"), sha256(b"alone")}

    purged = json.loads(run("purge", "--older-than", "0", "--json").stdout)
    assert purged == {"older_than_days": 0, "files_purged": 2, "blobs_removed": 1, "bytes_freed": 5}
    assert [file.original_filename for file in installation.files()] == ["b.txt"]
    assert installation.blob_hashes() == installation.stored_blobs() == {sha256(b"shared")}
    assert len(installation.scalars(sa.select(FileUpload))) == 1

    assert run("rm", uuids["b.txt"]).exit_code == 0
    last = run("purge", "--older-than", "0")
    assert last.exit_code == 0
    assert "Purged 1 file deleted more than 0 days ago; removed 1 content" in last.stdout
    assert installation.files() == []
    assert installation.blob_hashes() == installation.stored_blobs() == set()


def test_stats_count_what_was_uploaded(installation: CliInstallation, tmp_path: Path) -> None:
    upload(
        write(tmp_path / "a.txt", b"12345"),
        write(tmp_path / "b.txt", b"12345"),
        "--category",
        "documents",
    )
    upload(write(tmp_path / "c.bin", b"1234567"))  # a type no category holds
    gone = uuids_by_name(upload(write(tmp_path / "d.txt", b"123"), "--category", "documents"))
    # upload folds the counts' rows before it ends: one row per category key
    keys = installation.scalars(sa.select(FileCount.category_key))
    assert sorted(keys) == sorted(set(keys))
    run("rm", gone["d.txt"])

    document = json.loads(run("stats", "--json").stdout)
    assert document["totals"] == {
        "files": 3,
        "bytes": 17,
        "distinct_contents": 2,
        "deleted_files": 1,
        "deleted_bytes": 3,
    }
    per_category = {row["category_name"]: row for row in document["categories"]}
    assert per_category["documents"]["file_count"] == 2
    assert per_category["documents"]["total_size"] == 10
    assert per_category[None]["file_count"] == 1
    assert per_category["images"]["file_count"] == 0
    assert document["period"] == "day"
    points = document["trends"]
    assert len(points) == 30
    assert sum(point["files"] for point in points) == 3
    assert sum(point["bytes"] for point in points) == 17

    weekly = json.loads(run("stats", "--period", "week", "--days", "14", "--json").stdout)
    assert all(date.fromisoformat(point["start"]).weekday() == 0 for point in weekly["trends"])
    assert sum(point["files"] for point in weekly["trends"]) == 3

    text = run("stats")
    assert text.exit_code == 0
    assert "Live: 3 files, 17 B, 2 distinct contents. In the trash: 1 file, 3 B." in text.stdout
    assert run("stats", "--days", "0").exit_code == 2
