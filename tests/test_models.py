"""The models on every database: CRUD, relationships, constraints and foreign-key behaviour."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.models import (
    ApiKey,
    Base,
    Blob,
    FileCategory,
    FileCount,
    FileDownload,
    FileExtension,
    FileInfo,
    FileTag,
    FileTagRelation,
    FileUpload,
    FileView,
    HousekeepingJob,
    SystemSetting,
    User,
    UTCDateTime,
    utcnow,
)
from tests import factories


def _flushed(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row


def _relation(session: Session) -> FileTagRelation:
    file, tag = _flushed(session, factories.file()), _flushed(session, factories.tag())
    return FileTagRelation(file_id=file.id, tag_id=tag.id)


def _another_tag_id(session: Session) -> int:
    return int(_flushed(session, factories.tag()).id)


# model, how to make one, attribute to change, how to get its new value
CRUD_CASES: list[tuple[type[Base], Callable[[Session], Any], str, Callable[[Session], Any]]] = [
    (Blob, lambda s: factories.blob(), "size", lambda s: 2**40),
    (FileCategory, lambda s: factories.category(), "description", lambda s: "Holiday photos"),
    (FileExtension, lambda s: factories.extension(), "max_file_size", lambda s: 5 * 1024**3),
    (FileInfo, lambda s: factories.file(), "original_filename", lambda s: "renamed.pdf"),
    (FileUpload, lambda s: factories.upload(factories.file()), "upload_status", lambda s: "failed"),
    (FileTag, lambda s: factories.tag(), "tag_color", lambda s: "#ff0000"),
    (FileTagRelation, _relation, "tag_id", _another_tag_id),
    (FileView, lambda s: factories.view(factories.file()), "user_agent", lambda s: "curl/8.5"),
    (FileDownload, lambda s: factories.download(factories.file()), "bytes_served", lambda s: 2**40),
    (SystemSetting, lambda s: factories.setting(), "setting_value", lambda s: "42"),
    (FileCount, lambda s: FileCount(category_key=0, live_files=1), "live_bytes", lambda s: 2**40),
    (User, lambda s: factories.user(), "quota_bytes", lambda s: 2**40),
    (ApiKey, lambda s: factories.api_key(factories.user()), "revoked_at", lambda s: utcnow()),
    (
        HousekeepingJob,
        lambda s: HousekeepingJob(job=factories.unique("job-"), next_run_at=utcnow()),
        "held_by",
        lambda s: "host/1234/abcd",
    ),
]


def test_every_table_has_a_crud_case() -> None:
    assert {model.__table__.name for model, *_ in CRUD_CASES} == set(Base.metadata.tables)


@pytest.mark.parametrize(
    ("model", "make", "attribute", "new_value"),
    CRUD_CASES,
    ids=[m.__name__ for m, *_ in CRUD_CASES],
)
def test_create_read_update_delete(
    session: Session, model: type[Base], make: Any, attribute: str, new_value: Any
) -> None:
    row = _flushed(session, make(session))
    key = row.id
    session.expunge_all()

    loaded = session.get(model, key)
    assert loaded is not None
    assert loaded.id == key

    value = new_value(session)
    setattr(loaded, attribute, value)
    session.flush()
    session.expunge_all()
    assert getattr(session.get(model, key), attribute) == value

    session.delete(session.get(model, key))
    session.flush()
    session.expunge_all()
    assert session.get(model, key) is None


def test_file_gets_a_uuid4_on_construction() -> None:
    first, second = factories.file(), factories.file()
    assert uuid.UUID(first.file_uuid).version == 4
    assert first.file_uuid != second.file_uuid


def test_given_file_uuid_is_kept() -> None:
    given = str(uuid.uuid4())
    assert factories.file(file_uuid=given).file_uuid == given


def test_core_insert_also_gets_a_uuid(session: Session) -> None:
    values = {
        c: getattr(factories.file(), c)
        for c in (
            "original_filename",
            "stored_filename",
            "file_extension",
            "mime_type",
            "file_size",
            "file_hash",
            "storage_path",
        )
    }
    session.execute(sa.insert(FileInfo), [values])
    stored = session.scalars(
        sa.select(FileInfo.file_uuid).where(
            FileInfo.original_filename == values["original_filename"]
        )
    ).one()
    assert uuid.UUID(stored).version == 4


def test_defaults(session: Session) -> None:
    file, tag, ext, setting = (
        factories.file(),
        factories.tag(),
        factories.extension(),
        factories.setting(),
    )
    upload = factories.upload(file)
    session.add_all([file, tag, ext, setting, upload])
    session.flush()
    session.expire_all()
    assert (file.is_public, file.is_deleted, file.deleted_at, file.file_category_id) == (
        True,
        False,
        None,
        None,
    )
    assert (tag.tag_color, tag.is_active) == ("#007bff", True)
    assert (ext.is_allowed, ext.max_file_size) == (True, None)  # no cap of its own
    assert (setting.setting_type, setting.is_public) == ("string", False)
    assert upload.upload_status == "completed"


def test_server_defaults_fill_rows_written_without_the_orm(session: Session) -> None:
    insert = sa.text("INSERT INTO file_tags (tag_name, created_at) VALUES ('raw-insert', :now)")
    session.execute(insert.bindparams(sa.bindparam("now", type_=UTCDateTime())), {"now": utcnow()})
    tag = session.scalars(sa.select(FileTag).where(FileTag.tag_name == "raw-insert")).one()
    assert (tag.tag_color, tag.is_active) == ("#007bff", True)


class TestRelationships:
    def test_category_and_files(self, session: Session) -> None:
        category = factories.category()
        file = factories.file(category=category)
        session.add(file)
        session.flush()
        session.expire_all()
        assert category.files == [file]
        assert file.category is category
        assert file.file_category_id == category.id

    def test_file_and_uploads(self, session: Session) -> None:
        file = factories.file()
        first, second = factories.upload(file), factories.upload(file)
        session.add(file)
        session.flush()
        session.expire_all()
        assert {u.id for u in file.uploads} == {first.id, second.id}
        assert first.file is file

    def test_file_and_tags_through_the_link_table(self, session: Session) -> None:
        red, blue = factories.tag(), factories.tag()
        one, two = factories.file(tags=[red, blue]), factories.file(tags=[red])
        session.add_all([one, two])
        session.flush()
        session.expire_all()
        assert {t.tag_name for t in one.tags} == {red.tag_name, blue.tag_name}
        assert {f.id for f in red.files} == {one.id, two.id}
        links = session.scalars(
            sa.select(FileTagRelation).where(FileTagRelation.tag_id == red.id)
        ).all()
        assert {link.file_id for link in links} == {one.id, two.id}
        assert all(link.created_at is not None for link in links)

    def test_file_and_activity(self, session: Session) -> None:
        file = factories.file()
        seen, fetched = factories.view(file), factories.download(file, bytes_served=123)
        session.add(file)
        session.flush()
        session.expire_all()
        assert file.views == [seen]
        assert file.downloads == [fetched]
        assert (seen.file, fetched.file) == (file, file)


def _relation_pair(session: Session) -> tuple[FileTagRelation, FileTagRelation]:
    first = _relation(session)
    return first, FileTagRelation(file_id=first.file_id, tag_id=first.tag_id)


UNIQUE_CASES: list[tuple[str, Callable[[Session], tuple[Any, Any]]]] = [
    ("file_uuid", lambda s: (factories.file(file_uuid="same"), factories.file(file_uuid="same"))),
    ("tag_name", lambda s: (factories.tag(tag_name="same"), factories.tag(tag_name="same"))),
    (
        "extension",
        lambda s: (factories.extension(extension="same"), factories.extension(extension="same")),
    ),
    (
        "setting_key",
        lambda s: (factories.setting(setting_key="same"), factories.setting(setting_key="same")),
    ),
    ("category name", lambda s: (factories.category(name="same"), factories.category(name="same"))),
    ("file_id, tag_id", _relation_pair),
]


@pytest.mark.parametrize(("key", "make_pair"), UNIQUE_CASES, ids=[k for k, _ in UNIQUE_CASES])
def test_unique_constraints(session: Session, key: str, make_pair: Any) -> None:
    first, second = make_pair(session)
    session.add(first)
    session.flush()
    session.add(second)
    with pytest.raises(IntegrityError):
        session.flush()


@pytest.mark.parametrize("model", [FileView, FileDownload, FileUpload, FileTagRelation])
def test_foreign_key_to_a_missing_file_is_refused(session: Session, model: type[Base]) -> None:
    fields: dict[str, Any] = {"file_id": 987_654_321}
    if model is FileTagRelation:
        fields["tag_id"] = _flushed(session, factories.tag()).id
    session.add(model(**fields))
    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_key_to_a_missing_category_is_refused(session: Session) -> None:
    session.add(factories.file(file_category_id=987_654_321))
    with pytest.raises(IntegrityError):
        session.flush()


class TestDeleteBehaviour:
    """What the database itself does on DELETE (Core statements: no ORM cascade helps)."""

    def test_deleting_a_category_keeps_its_files(self, session: Session) -> None:
        category = factories.category()
        file = factories.file(category=category)
        session.add(file)
        session.flush()
        session.execute(sa.delete(FileCategory).where(FileCategory.id == category.id))
        session.expire_all()
        assert session.get(FileInfo, file.id) is not None
        assert file.file_category_id is None

    def test_purging_a_file_removes_its_links_uploads_and_events(self, session: Session) -> None:
        tag, file = factories.tag(), factories.file()
        file.tag_links.append(FileTagRelation(tag=tag))
        session.add_all([factories.upload(file), factories.view(file), factories.download(file)])
        session.flush()
        session.execute(sa.delete(FileInfo).where(FileInfo.id == file.id))
        for model in (FileTagRelation, FileUpload, FileView, FileDownload):
            count = session.scalar(
                sa.select(sa.func.count()).select_from(model).where(model.file_id == file.id)
            )
            assert count == 0, model.__name__
        assert session.get(FileTag, tag.id) is not None

    def test_deleting_a_tag_unlinks_but_keeps_files(self, session: Session) -> None:
        tag = factories.tag()
        file = factories.file(tags=[tag])
        session.add(file)
        session.flush()
        session.execute(sa.delete(FileTag).where(FileTag.id == tag.id))
        session.expire_all()
        assert session.get(FileInfo, file.id) is not None
        assert file.tags == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: factories.setting(setting_type="yaml"),
        lambda: factories.upload(factories.file(), upload_status="lost"),
        lambda: factories.file(file_size=-1),
        lambda: factories.extension(max_file_size=-1),
    ],
    ids=["setting_type", "upload_status", "file_size", "max_file_size"],
)
def test_check_constraints(session: Session, make: Callable[[], Base]) -> None:
    session.add(make())
    with pytest.raises(IntegrityError):
        session.flush()


def test_tag_colour_must_be_hex_rgb() -> None:
    assert factories.tag(tag_color="#A0B1C2").tag_color == "#a0b1c2"
    with pytest.raises(ValueError, match="#rrggbb"):
        factories.tag(tag_color="blue")


def test_a_new_row_is_created_and_updated_at_one_moment(session: Session) -> None:
    rows = [factories.file() for _ in range(3)]
    session.add_all(rows)
    session.flush()
    session.expire_all()
    assert all(row.updated_at == row.created_at for row in rows)


def test_updated_at_moves_on_update_and_created_at_stays(session: Session) -> None:
    file = factories.file()
    session.add(file)
    session.flush()
    created, updated = file.created_at, file.updated_at
    file.is_public = False
    session.flush()
    session.expire_all()
    assert file.created_at == created
    assert file.updated_at > updated


def test_the_upload_time_of_a_stored_file_is_fixed(session: Session) -> None:
    file = factories.file()
    file.created_at = utcnow()  # before it is stored: free to set
    session.add(file)
    session.flush()
    with pytest.raises(ValueError, match="cannot change"):
        file.created_at = utcnow()
