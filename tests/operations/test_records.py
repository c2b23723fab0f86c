"""Files as clients see them: every field, hidden files, and a fixed number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from filewallball.errors import InvalidInput, NotFound
from filewallball.operations import activity, files, records, tags
from filewallball.operations.search import FileQuery, search_files
from tests import factories


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def capture(*args: object) -> None:
        statements.append(str(args[2]))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", capture)


def test_a_record_has_every_field_clients_see(session: Session) -> None:
    file = files.create_file(
        session,
        factories.spec(original_filename="Report.PDF", category="documents", folder="q3/rapports"),
    )
    tags.add_tags(session, file, ["zebra", "alpha"])
    record = records.file_record(session, file.file_uuid)
    assert record.id == file.id
    assert (record.original_filename, record.file_extension) == ("Report.PDF", "pdf")
    assert record.folder == "q3/rapports"
    assert (record.file_size, record.file_hash) == (file.file_size, file.file_hash)
    assert (record.category, record.tags, record.content_status) == (
        "documents",
        ("alpha", "zebra"),
        "ok",  # no blob row (contents stored elsewhere): ok
    )
    assert record.created_at == file.created_at
    assert record.created_at.tzinfo is not None
    assert set(record.model_dump()) == {
        "file_uuid",
        "folder",
        "original_filename",
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


def test_the_content_status_is_the_blobs(session: Session) -> None:
    blob = factories.blob(status="missing")
    session.add(blob)
    file = files.create_file(session, factories.spec(content=b"x", file_hash=blob.content_hash))
    assert records.file_record(session, file.file_uuid).content_status == "missing"
    page = search_files(session, FileQuery(q=file.original_filename))
    assert [item.content_status for item in page.items] == ["missing"]


def test_hidden_files_are_not_found_like_missing_ones(session: Session) -> None:
    private = files.create_file(session, factories.spec(is_public=False))
    deleted = files.create_file(session, factories.spec())
    files.soft_delete_file(session, deleted.file_uuid)
    missing = "00000000-0000-4000-8000-000000000000"
    for file_uuid in (private.file_uuid, deleted.file_uuid, missing):
        with pytest.raises(NotFound, match=f"^no file {file_uuid}$"):
            records.file_record(
                session, file_uuid, include_deleted=file_uuid != deleted.file_uuid, public_only=True
            )
        with pytest.raises(NotFound, match=f"^no file {file_uuid}$"):
            records.file_detail(session, file_uuid, public_only=True)
    assert records.file_record(session, private.file_uuid).is_public is False
    assert records.file_record(session, deleted.file_uuid, include_deleted=True).is_deleted
    with pytest.raises(InvalidInput, match="not a file UUID"):
        records.file_record(session, "not-a-uuid")


def test_a_detail_is_one_statement_with_the_activity(session: Session) -> None:
    named = [factories.tag() for _ in range(3)]
    file = factories.file(category=factories.category(), tags=named)
    session.add_all([file, factories.upload(file), factories.view(file), factories.view(file)])
    session.add(factories.download(file, bytes_served=40))
    session.flush()
    with counted(session) as statements:
        record, counts = records.file_detail(session, file.file_uuid)
    assert len(statements) == 1
    assert record.tags == tuple(sorted(tag.tag_name for tag in named))
    assert counts == activity.file_activity(session, file)
    assert (counts.views, counts.downloads, counts.bytes_served) == (2, 1, 40)
    with counted(session) as statements:
        assert records.file_record(session, file.file_uuid) == record
    assert len(statements) == 1


def test_a_page_of_fifty_files_is_two_statements(session: Session) -> None:
    """No N+1: categories, tags, content status, whatever else the files have."""
    named = [factories.tag() for _ in range(3)]
    made = []
    for index in range(50):
        file = factories.file(category=factories.category(), tags=named[: index % 4])
        session.add_all([file, factories.upload(file), factories.view(file)])
        made.append(file)
    session.flush()
    session.expunge_all()

    with counted(session) as statements:
        page = search_files(session, FileQuery(limit=50, sort="file_size"))
    assert len(statements) == 2
    assert len(page.items) == 50
    expected = {
        file.file_uuid: (
            file.category.name if file.category else None,
            tuple(sorted(link.tag.tag_name for link in file.tag_links)),
        )
        for file in made
    }
    assert {item.file_uuid: (item.category, item.tags) for item in page.items} == expected
    assert sum(len(item.tags) for item in page.items) == sum(i % 4 for i in range(50))

    with counted(session) as statements:
        found = records.records(session, records.select_records().where(records.FILES.c.id == -1))
    assert (found, len(statements)) == ([], 1)
