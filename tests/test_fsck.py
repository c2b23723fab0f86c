"""``filewallball fsck``: both directions, the cutoff, repairs that lose nothing."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.maintenance import OneSession, check_integrity
from filewallball.models import Blob, FileInfo
from filewallball.operations import files
from filewallball.operations.integrity import (
    count_contents,
    last_report,
    mark_lost,
    named_contents,
    scan,
)
from filewallball.storage import LocalBlobStore
from filewallball.storage.s3 import MULTIPART, S3BlobStore
from tests import factories
from tests.cli_installation import CliInstallation, run, sha256, upload, write
from tests.stores import content_of, overwrite, put_behind

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOURS_AGO = time.time() - 2 * 3600
NO_CUTOFF = ("--cutoff-minutes", "0")  # what was just written counts too (no way to age it on S3)


def fsck(*args: str) -> tuple[int, dict[str, Any]]:
    result = run("fsck", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def _age(path: Path) -> None:
    os.utime(path, (HOURS_AGO, HOURS_AGO))


def _rows(installation: CliInstallation) -> int:
    return len(installation.scalars(sa.select(FileInfo.id)))


def _status(installation: CliInstallation, content_hash: str) -> str:
    [status] = installation.scalars(sa.select(Blob.status).where(Blob.content_hash == content_hash))
    return str(status)


def test_a_consistent_installation_is_clean(
    installation_on: CliInstallation, tmp_path: Path
) -> None:
    installation = installation_on
    upload(write(tmp_path / "a.txt", b"alpha"), write(tmp_path / "b.txt", b"beta"))
    code, report = fsck("--deep")
    assert code == 0
    assert report["clean"] is True
    assert report["contents_checked"] == 2
    assert report["blobs_seen"] == 2
    with Session(installation.engine) as session:
        stored = last_report(session)
    assert stored is not None
    assert stored["clean"] is True
    assert stored["deep"] is True


def test_missing_and_corrupt_contents_are_found_marked_and_healed(
    installation_on: CliInstallation, tmp_path: Path
) -> None:
    installation, store = installation_on, installation_on.store
    lost, damaged, subtle = b"lost content", b"damaged content", b"subtle content"
    upload(
        write(tmp_path / "lost.txt", lost),
        write(tmp_path / "lost-copy.txt", lost),
        write(tmp_path / "damaged.txt", damaged),
        write(tmp_path / "subtle.txt", subtle),
    )
    assert store.delete(sha256(lost))
    overwrite(store, sha256(damaged), b"short")
    overwrite(store, sha256(subtle), b"SUBTLE content")  # same size
    rows = _rows(installation)

    code, report = fsck()
    assert code == 1
    kinds = {f["content_hash"]: (f["kind"], f["files"]) for f in report["findings"]}
    assert kinds[sha256(lost)] == ("missing", 2)
    assert kinds[sha256(damaged)] == ("corrupt", 1)
    assert sha256(subtle) not in kinds  # only re-hashing sees it
    assert _status(installation, sha256(lost)) == "ok"  # a dry run changes nothing

    code, report = fsck("--deep", "--repair")
    assert code == 1  # lost content stays lost, and says so
    assert report["counts"]["corrupt"] == 2
    assert report["repaired"]["contents_marked"] == 3
    assert _rows(installation) == rows  # never a row deleted
    assert _status(installation, sha256(lost)) == "missing"
    assert _status(installation, sha256(subtle)) == "corrupt"
    assert content_of(store, sha256(subtle)) == b"SUBTLE content"  # untouched

    info = json.loads(run("info", "--json", _uuid(installation, "subtle.txt")).stdout)
    assert info["content_status"] == "corrupt"

    # Uploading the same bytes again stores them and clears the mark.
    again = tmp_path / "again"
    upload(write(again / "subtle.txt", subtle), write(again / "lost.txt", lost))
    assert content_of(store, sha256(subtle)) == subtle
    assert _status(installation, sha256(subtle)) == "ok"
    assert content_of(store, sha256(damaged)) == b"short"
    code, report = fsck("--deep")
    assert {f["kind"] for f in report["findings"]} == {"corrupt"}
    assert report["counts"]["corrupt"] == 1


def _uuid(installation: CliInstallation, name: str) -> str:
    [file_uuid] = installation.scalars(
        sa.select(FileInfo.file_uuid).where(FileInfo.original_filename == name)
    )
    return str(file_uuid)


def test_unreferenced_blobs_and_dead_temporary_files_past_the_cutoff_are_removed(
    installation: CliInstallation, tmp_path: Path
) -> None:
    upload(write(tmp_path / "kept.txt", b"kept"))
    store = LocalBlobStore(installation.blobs)
    old_orphan, young_orphan = b"old orphan", b"young orphan"
    for content in (old_orphan, young_orphan):
        write(installation.blob_path(sha256(content)), content)
    _age(installation.blob_path(sha256(old_orphan)))
    dead = write(installation.blobs / ".staging" / "crashed.part", b"half")
    _age(dead)
    with store.stage() as live:  # an upload in progress: locked, and old
        live.write(b"in flight")
        _age(live.path)

        code, report = fsck()
        assert code == 1
        found = {(f["kind"], f["content_hash"] or f["detail"]) for f in report["findings"]}
        assert found == {("unreferenced", sha256(old_orphan)), ("temporary", "crashed.part")}

        code, report = fsck("--repair")
        assert code == 0
        assert report["repaired"]["blobs_removed"] == 1
        assert report["repaired"]["temporary_removed"] == 1
        assert not installation.blob_path(sha256(old_orphan)).exists()
        assert installation.blob_path(sha256(young_orphan)).exists()  # younger than the cutoff
        assert not dead.exists()
        assert live.path.exists()
    assert installation.blob_path(sha256(b"kept")).read_bytes() == b"kept"
    code, report = fsck("--cutoff-minutes", "0", "--repair")
    assert report["repaired"]["blobs_removed"] == 1  # the young one, with no cutoff
    assert fsck()[0] == 0


@pytest.mark.parametrize(
    "installation_on", [pytest.param("s3", marks=pytest.mark.ceph)], indirect=True
)
def test_on_s3_litter_past_the_cutoff_is_found_and_removed_and_strays_moved_aside(
    installation_on: CliInstallation, s3_client: S3Client, tmp_path: Path
) -> None:
    """An object store keeps no lock for a live upload and no settable times: what is
    litter is what nothing wrote to for the cutoff, and what this process is writing."""
    installation, store = installation_on, installation_on.store
    assert isinstance(store, S3BlobStore)
    s3_bucket = store.bucket
    upload(write(tmp_path / "kept.txt", b"kept"))
    orphan = b"an orphan"
    put_behind(store, store.key(sha256(orphan)), orphan)
    put_behind(store, f".staging/{'c' * 32}", b"a crashed upload's finished staging object")
    s3_client.create_multipart_upload(
        Bucket=s3_bucket, Key=store.object_key(f".staging/{'d' * 32}")
    )
    put_behind(store, "notes.txt", b"somebody's")

    code, report = fsck()  # everything is younger than the default hour
    assert code == 1
    assert {(f["kind"], f["detail"]) for f in report["findings"]} == {("stray", "notes.txt")}

    code, report = fsck(*NO_CUTOFF)
    assert code == 1
    found = {(f["kind"], f["content_hash"] or f["detail"]) for f in report["findings"]}
    assert found == {
        ("unreferenced", sha256(orphan)),
        ("temporary", "c" * 32),
        ("temporary", "d" * 32 + MULTIPART),
        ("stray", "notes.txt"),
    }
    assert report["blobs_seen"] == 2

    code, report = fsck("--repair", *NO_CUTOFF)
    assert code == 0
    assert report["repaired"] == {
        "blobs_removed": 1,
        "temporary_removed": 2,
        "contents_marked": 0,
        "strays_moved": 1,
    }
    assert (installation.data / "stray" / "notes.txt").read_bytes() == b"somebody's"
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    listed = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [entry["Key"] for entry in listed] == [store.object_key(store.key(sha256(b"kept")))]
    assert fsck("--deep", *NO_CUTOFF)[0] == 0


def test_strays_in_the_store_are_reported_and_moved_aside_only_by_repair(
    installation: CliInstallation, tmp_path: Path
) -> None:
    upload(write(tmp_path / "kept.txt", b"kept"))
    kept = sha256(b"kept")
    misplaced = b"misplaced blob"
    wrong_prefix = f"00/00/{sha256(misplaced)}"
    strays = {
        wrong_prefix: misplaced,  # a real blob, under another hash's prefix
        f"{kept[:2]}/{kept[2:4]}/notes.txt": b"a user's file",  # beside a real blob
        "README": b"not a blob",
        "zz/ab/" + "f" * 64: b"not a prefix directory",
    }
    for name, content in strays.items():
        write(installation.blobs / name, content)
    (installation.blobs / "ab" / "cd" / "nested").mkdir(parents=True)
    (installation.blobs / ".staging" / "unpacked").mkdir()
    expected = {
        wrong_prefix,
        f"{kept[:2]}/{kept[2:4]}/notes.txt",
        "README",
        "zz",
        "ab/cd/nested",
        ".staging/unpacked",
    }

    code, report = fsck()
    assert code == 1
    assert {f["detail"] for f in report["findings"] if f["kind"] == "stray"} == expected
    assert report["counts"]["stray"] == len(expected)
    assert report["counts"]["unreferenced"] == 0  # a misplaced blob is not a blob
    assert "stray" in run("fsck").stdout
    for name, content in strays.items():
        assert (installation.blobs / name).read_bytes() == content  # a dry run moves nothing
    with Session(installation.engine) as session:
        shown = last_report(session)  # what /health shows
    assert shown is not None
    assert shown["counts"]["stray"] == len(expected)

    code, report = fsck("--repair")
    assert code == 0
    assert report["repaired"]["strays_moved"] == len(expected)
    aside = installation.data / "stray"
    for name, content in strays.items():
        assert not (installation.blobs / name).exists()
        assert (aside / name).read_bytes() == content  # moved, never deleted
    assert (aside / "ab" / "cd" / "nested").is_dir()
    assert installation.blob_path(kept).read_bytes() == b"kept"
    code, report = fsck()
    assert code == 0
    assert report["counts"]["stray"] == 0
    with Session(installation.engine) as session:
        stored = last_report(session)
    assert stored is not None
    assert stored["counts"]["stray"] == 0


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\0" * 64


def test_adopt_makes_verified_unreferenced_blobs_private_lost_and_found_files(
    installation_on: CliInstallation, tmp_path: Path
) -> None:
    installation, store = installation_on, installation_on.store
    upload(write(tmp_path / "kept.txt", b"kept"))
    picture, text, damaged = PNG, b"plain orphan", b"damaged orphan"
    for content in (picture, text):
        put_behind(store, store.key(sha256(content)), content)
    overwrite(store, sha256(damaged), b"DAMAGED orphan")
    rows = _rows(installation)

    code, report = fsck("--adopt", *NO_CUTOFF)
    assert code == 1
    plans = {a["content_hash"]: a for a in report["adoptions"]}
    assert plans[sha256(picture)]["original_filename"] == f"recovered-{sha256(picture)[:12]}.png"
    assert plans[sha256(picture)]["mime_type"] == "image/png"
    assert plans[sha256(text)]["original_filename"] == f"recovered-{sha256(text)[:12]}.bin"
    assert plans[sha256(damaged)]["adoptable"] is False
    assert _rows(installation) == rows  # a dry run adopts nothing

    code, report = fsck("--adopt", "--repair", *NO_CUTOFF)
    assert code == 1  # the damaged blob is neither adopted nor removed
    assert report["repaired"]["files_adopted"] == 2
    assert report["repaired"]["blobs_removed"] == 0
    assert content_of(store, sha256(damaged)) == b"DAMAGED orphan"
    files = installation.files()
    adopted = {file.file_hash: file for file in files if file.original_filename != "kept.txt"}
    assert set(adopted) == {sha256(picture), sha256(text)}
    for content_hash, file in adopted.items():
        assert file.is_public is False
        assert [tag.tag_name for tag in file.tags] == ["lost+found"]
        assert file.file_size == len(picture if content_hash == sha256(picture) else text)
        assert content_hash in installation.blob_hashes()
    got = run("get", adopted[sha256(picture)].file_uuid, "-o", "-")
    assert got.exit_code == 0
    assert got.stdout_bytes == picture
    code, report = fsck("--deep", *NO_CUTOFF)
    assert report["counts"]["unreferenced"] == 1  # only the damaged one is left
    assert report["contents_checked"] == 3


def test_a_repair_marks_only_what_is_still_true_under_the_contents_lock(
    installation_on: CliInstallation, tmp_path: Path
) -> None:
    """fsck scans without locks, then repairs: a content found missing that an upload
    stored again in between is not marked missing (its files would answer 410 while
    intact), and one whose every file was purged in between gets no blob row back."""
    stored_again, purged = b"uploaded again after the scan", b"purged after the scan"
    installation, store = installation_on, installation_on.store
    upload(write(tmp_path / "again.txt", stored_again), write(tmp_path / "purged.txt", purged))
    for content in (stored_again, purged):
        assert store.delete(sha256(content))
    with Session(installation.engine) as session, session.begin():
        report = scan(session, store)
    findings = {finding.content_hash: finding for finding in report.findings}
    assert {finding.kind for finding in findings.values()} == {"missing"}

    upload(write(tmp_path / "later" / "again.txt", stored_again))
    with Session(installation.engine) as session, session.begin():
        session.execute(sa.delete(FileInfo).where(FileInfo.file_hash == sha256(purged)))
        session.execute(sa.delete(Blob).where(Blob.content_hash == sha256(purged)))

    for content in (stored_again, purged):
        with Session(installation.engine) as session, session.begin():
            assert not mark_lost(session, store, findings[sha256(content)])
    assert _status(installation, sha256(stored_again)) == "ok"
    assert sha256(purged) not in installation.blob_hashes()


def test_the_check_is_one_job_that_the_service_can_run_on_its_own_session(
    installation_on: CliInstallation, tmp_path: Path
) -> None:
    """What ``fsck --repair`` runs, called as the service calls housekeeping: one
    session, a committed transaction to count, one to scan, one per repair, one to
    record the report."""
    installation, store = installation_on, installation_on.store
    upload(write(tmp_path / "a.txt", b"alpha"), write(tmp_path / "b.txt", b"beta"))
    orphans = [b"orphan one", b"orphan two"]
    for content in orphans:
        put_behind(store, store.key(sha256(content)), content)
    put_behind(store, "README", b"not a blob")
    counted: list[int] = []
    commits: list[sa.Connection] = []

    def committed(connection: sa.Connection) -> None:
        commits.append(connection)

    sa.event.listen(installation.engine, "commit", committed)
    try:
        with Session(installation.engine) as session:
            checked = check_integrity(
                OneSession(session),
                store,
                strays_into=tmp_path / "aside",
                cutoff=timedelta(0),
                repair=True,
                counted=counted.append,
            )
    finally:
        sa.event.remove(installation.engine, "commit", committed)
    assert counted == [2] == [checked.report.contents_checked]
    assert checked.report.repaired == {
        "blobs_removed": 2,
        "temporary_removed": 0,
        "contents_marked": 0,
        "strays_moved": 1,
    }
    assert len(commits) == 3 + len(orphans)
    assert (tmp_path / "aside" / "README").read_bytes() == b"not a blob"
    assert list(store) == sorted([sha256(b"alpha"), sha256(b"beta")])
    with Session(installation.engine) as session:
        assert count_contents(session) == 2
        recorded = last_report(session)
    assert recorded is not None
    assert recorded["repaired"] == checked.report.repaired


def test_the_contents_named_count_each_content_once_and_every_row(session: Session) -> None:
    """What a backup copies and what its manifest counts: shared content is one
    content of its size, each row (the trash's too) one file."""
    before = named_contents(session)
    shared, alone = b"shared content", b"alone"
    for content in (shared, shared, alone):
        files.create_file(session, factories.spec(content=content))
    deleted = files.create_file(session, factories.spec(content=shared))
    files.soft_delete_file(session, deleted.file_uuid)
    after = named_contents(session)
    assert after.hashes - before.hashes == {sha256(shared), sha256(alone)}
    assert after.files - before.files == 4
    assert after.deleted_files - before.deleted_files == 1
    assert after.content_bytes - before.content_bytes == len(shared) + len(alone)
    assert count_contents(session) == len(after.hashes)
