"""File operations on every database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.models import FileInfo
from filewallball.operations import files
from filewallball.operations.search import FileQuery, search_files
from tests import factories


def test_create_stores_the_metadata(session: Session) -> None:
    spec = factories.spec(
        original_filename="Quarterly Report.PDF",
        mime_type="Application/PDF",
        category="documents",
        is_public=False,
    )
    file = files.create_file(session, spec)
    session.expire_all()
    stored = session.get(FileInfo, file.id)
    assert stored is not None
    assert stored.original_filename == "Quarterly Report.PDF"
    assert stored.file_extension == "pdf"
    assert stored.mime_type == "application/pdf"
    assert stored.file_hash == spec.file_hash
    assert (stored.file_size, stored.storage_path) == (spec.file_size, spec.storage_path)
    assert stored.stored_filename == spec.file_hash
    assert stored.category is not None
    assert stored.category.name == "documents"
    assert stored.is_public is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"original_filename": ""}, "empty"),
        ({"original_filename": "x" * 256}, "256 characters"),
        ({"original_filename": "a\x00b.txt"}, "control characters"),
        ({"original_filename": "line\r\nbreak.txt"}, "control characters"),
        ({"original_filename": "../../etc/passwd"}, "path separator"),
        ({"original_filename": "..\\evil.exe"}, "path separator"),
        ({"original_filename": ".."}, "only dots"),
        ({"file_size": -1}, "negative"),
        ({"file_hash": "ABC"}, "SHA-256"),
        ({"file_hash": "d41d8cd98f00b204e9800998ecf8427e"}, "SHA-256"),  # an MD5
        ({"mime_type": "not a type"}, "MIME type"),
        ({"mime_type": "application/" + "x" * 95}, "at most 100"),
        ({"created_at": datetime(2026, 1, 1)}, "no time zone"),  # noqa: DTZ001 - the point
        ({"file_uuid": "not-a-uuid"}, "not a file UUID"),
    ],
)
def test_create_refuses_bad_input(
    session: Session, change: dict[str, object], message: str
) -> None:
    before = session.scalar(sa.select(sa.func.count()).select_from(FileInfo))
    with pytest.raises(InvalidInput, match=message):
        files.create_file(session, factories.spec(**change))
    assert session.scalar(sa.select(sa.func.count()).select_from(FileInfo)) == before


def test_create_with_an_unknown_category_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="'no-such-category'"):
        files.create_file(session, factories.spec(category="no-such-category"))


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("a.TXT", "txt"),
        ("archive.tar.gz", "gz"),
        ("Makefile", ""),
        ("notes.2024 draft", ""),
        ("site.webmanifest", "webmanifest"),
        (".bashrc", ""),
        ("x." + "a" * 21, ""),
    ],
)
def test_extension_from_the_name(session: Session, name: str, extension: str) -> None:
    assert (
        files.create_file(session, factories.spec(original_filename=name)).file_extension
        == extension
    )


def test_names_are_nfc_normalised(session: Session) -> None:
    decomposed = "Cafe\u0301.txt"
    file = files.create_file(session, factories.spec(original_filename=decomposed))
    assert file.original_filename == "Caf\u00e9.txt"


def test_get_by_uuid(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    assert files.get_file(session, file.file_uuid.upper()) is file
    with pytest.raises(NotFound):
        files.get_file(session, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(InvalidInput, match="not a file UUID"):
        files.get_file(session, "'; DROP TABLE files; --")


def test_find_by_hash_lists_live_copies(session: Session) -> None:
    content = b"the same bytes"
    first = files.create_file(session, factories.spec(content=content))
    second = files.create_file(session, factories.spec(content=content))
    gone = files.create_file(session, factories.spec(content=content))
    files.create_file(session, factories.spec(content=b"other bytes"))
    files.soft_delete_file(session, gone.file_uuid)
    assert files.find_by_hash(session, first.file_hash) == [first, second]


def test_update_renames_categorises_and_publishes(session: Session) -> None:
    file = files.create_file(session, factories.spec(original_filename="a.jpg"))
    files.update_file(
        session, file.file_uuid, original_filename="holiday.jpg", category="images", is_public=False
    )
    session.expire_all()
    again = files.get_file(session, file.file_uuid)
    assert (again.original_filename, again.is_public) == ("holiday.jpg", False)
    assert again.category is not None
    assert again.category.name == "images"
    files.update_file(session, file.file_uuid, category=None)
    assert files.get_file(session, file.file_uuid).category is None


def test_a_rename_cannot_change_the_extension(session: Session) -> None:
    file = files.create_file(session, factories.spec(original_filename="photo.jpg"))
    with pytest.raises(InvalidInput, match="extension"):
        files.update_file(session, file.file_uuid, original_filename="photo.exe")


def test_soft_delete_hides_and_restore_brings_back(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    deleted = files.soft_delete_file(session, file.file_uuid)
    first_deleted_at = deleted.deleted_at
    assert deleted.is_deleted
    assert first_deleted_at is not None
    assert (
        files.soft_delete_file(session, file.file_uuid).deleted_at == first_deleted_at
    )  # idempotent
    with pytest.raises(NotFound):
        files.get_file(session, file.file_uuid)
    assert files.get_file(session, file.file_uuid, include_deleted=True) is file
    with pytest.raises(NotFound):
        files.update_file(session, file.file_uuid, is_public=False)

    files.restore_file(session, file.file_uuid)
    files.restore_file(session, file.file_uuid)  # idempotent
    assert files.get_file(session, file.file_uuid).deleted_at is None


def test_purge_candidates(session: Session) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old, recent, live = (files.create_file(session, factories.spec()) for _ in range(3))
    old.is_deleted, old.deleted_at = True, now - timedelta(days=31)
    recent.is_deleted, recent.deleted_at = True, now - timedelta(days=29)
    session.flush()
    candidates = files.purge_candidates(session, timedelta(days=30), now=now)
    assert old in candidates
    assert recent not in candidates
    assert live not in candidates


def test_bulk_insert_returns_ids_and_uuids_in_order(session: Session) -> None:
    specs = [factories.spec(category="images" if i % 2 else None) for i in range(250)]
    created = files.bulk_insert_files(session, specs)
    assert len(created) == 250
    rows = dict(
        session.execute(
            sa.select(FileInfo.id, FileInfo.original_filename).where(
                FileInfo.id.in_([row_id for row_id, _ in created])
            )
        ).all()
    )
    assert [rows[row_id] for row_id, _ in created] == [s.original_filename for s in specs]
    assert len({file_uuid for _, file_uuid in created}) == 250


def test_bulk_insert_validates_every_row_before_writing(session: Session) -> None:
    before = session.scalar(sa.select(sa.func.count()).select_from(FileInfo))
    specs = [factories.spec(), factories.spec(file_size=-5)]
    with pytest.raises(InvalidInput, match="negative"):
        files.bulk_insert_files(session, specs)
    assert session.scalar(sa.select(sa.func.count()).select_from(FileInfo)) == before


def test_bulk_update(session: Session) -> None:
    created = files.bulk_insert_files(session, [factories.spec() for _ in range(20)])
    changed = files.bulk_update_files(
        session, [{"id": row_id, "is_public": False} for row_id, _ in created[:10]]
    )
    assert changed == 10
    session.expire_all()
    public = dict(
        session.execute(
            sa.select(FileInfo.id, FileInfo.is_public).where(
                FileInfo.id.in_([row_id for row_id, _ in created])
            )
        ).all()
    )
    assert [public[row_id] for row_id, _ in created] == [False] * 10 + [True] * 10


@pytest.mark.parametrize("field", ["file_hash", "original_filename", "is_deleted"])
def test_bulk_update_refuses_fields_with_their_own_rules(session: Session, field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        files.bulk_update_files(session, [{"id": 1, field: "x"}])


def test_bulk_update_checks_values_and_rows(session: Session) -> None:
    [(row_id, _)] = files.bulk_insert_files(session, [factories.spec()])
    with pytest.raises(InvalidInput, match="MIME type"):
        files.bulk_update_files(session, [{"id": row_id, "mime_type": "nonsense"}])
    with pytest.raises(NotFound):
        files.bulk_update_files(session, [{"id": row_id + 10**6, "is_public": False}])


def test_bulk_and_single_inserts_store_identical_values(session: Session) -> None:
    """The bulk path writes through the driver: timestamps must still look the same, or
    text comparisons (SQLite) and searches would treat the rows differently."""
    moment = datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC)  # whole seconds: the tricky case
    single = files.create_file(session, factories.spec(created_at=moment))
    [(bulk_id, _)] = files.bulk_insert_files(session, [factories.spec(created_at=moment)])
    raw = session.execute(
        sa.text(
            "SELECT id, created_at, updated_at, is_public, is_deleted"
            " FROM files WHERE id IN (:a, :b)"
        ),
        {"a": single.id, "b": bulk_id},
    ).all()
    by_id = {row[0]: tuple(row[1:]) for row in raw}
    assert by_id[single.id] == by_id[bulk_id]
    found = search_files(session, FileQuery(created_after=moment, created_before=moment))
    assert {f.id for f in found.items} == {single.id, bulk_id}


def test_a_file_made_without_a_uuid_gets_one() -> None:
    assert uuid.UUID(FileInfo(file_uuid=None).file_uuid).version == 4


def test_bulk_update_is_all_or_nothing(session: Session) -> None:
    created = files.bulk_insert_files(session, [factories.spec() for _ in range(3)])
    gone = created[2][0]
    files.soft_delete_file(session, created[2][1])
    changes = [{"id": row_id, "is_public": False} for row_id, _ in created]
    with pytest.raises(NotFound, match=str(gone)):  # a soft-deleted file is not updated
        files.bulk_update_files(session, changes)
    session.expire_all()
    assert [session.get(FileInfo, row_id).is_public for row_id, _ in created[:2]] == [True, True]  # type: ignore[union-attr]


def test_bulk_update_refuses_inactive_or_unknown_categories(session: Session) -> None:
    [(row_id, _)] = files.bulk_insert_files(session, [factories.spec()])
    retired = factories.category(is_active=False)
    session.add(retired)
    session.flush()
    for category_id in (retired.id, 987_654):
        with pytest.raises(NotFound, match="no active category"):
            files.bulk_update_files(session, [{"id": row_id, "file_category_id": category_id}])
    session.flush()  # the session is still usable


def test_bulk_insert_refuses_uuids_that_exist_or_repeat(session: Session) -> None:
    taken = files.create_file(session, factories.spec()).file_uuid
    fresh = str(uuid.uuid4())
    with pytest.raises(Conflict, match=taken):
        files.bulk_insert_files(
            session, [factories.spec(), factories.spec(file_uuid=taken.upper())]
        )
    with pytest.raises(Conflict, match="twice"):
        files.bulk_insert_files(
            session, [factories.spec(file_uuid=fresh), factories.spec(file_uuid=fresh)]
        )
    assert files.bulk_insert_files(session, [factories.spec(file_uuid=fresh)])[0][1] == fresh
