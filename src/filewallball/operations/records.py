"""Files as clients see them: the one way a file is shown, by the API and the CLI alike.

A ``FileRecord`` holds the fields SPEC section 7 names (never ``storage_path`` or any
other server detail), read with Core statements built once: one statement for a file
(its tags joined in), two for a page of any size (the files, then the tags of all of
them). Loading ORM entities for this cost more than the queries themselves on the
hottest paths (a file's metadata, a listing page); writes change entities, then read
the record again. Columns are read by their names (labels), never by position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from filewallball.errors import NotFound
from filewallball.models import Blob, FileCategory, FileInfo, FileTag, FileTagRelation, User
from filewallball.operations.activity import Activity, activity_columns
from filewallball.operations.files import parse_file_uuid

FILES: Final = FileInfo.__table__
_CATEGORIES: Final = FileCategory.__table__
_BLOBS: Final = Blob.__table__
_LINKS: Final = FileTagRelation.__table__
_TAGS: Final = FileTag.__table__
_USERS: Final = User.__table__


class FileRecord(BaseModel):
    """A file as clients see it, under the names SPEC section 7 fixes: its JSON is what
    the CLI's ``--json`` prints, and what the API answers with its links added
    (``api.schemas.FileOut``). ``id`` and ``deleted_at`` are for the server and the
    operator, never in that JSON."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(exclude=True)
    file_uuid: str
    original_filename: str
    folder: str = Field(description="Its folder: names joined by /; empty for the top")
    file_extension: str
    mime_type: str
    file_size: int
    file_hash: str
    is_public: bool
    is_deleted: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = Field(exclude=True)
    category: str | None
    tags: tuple[str, ...] = Field(description="Sorted")
    content_status: str = Field(
        description="ok; missing or corrupt when fsck found the stored content lost"
    )
    owner: str | None = Field(description="The owner's username; null: the admin's")


# The columns of FileRecord but its tags. The content status is that of the blob row
# every file of that hash shares (no row: a bulk import of contents stored elsewhere,
# shown as ok).
_COLUMNS: Final = (
    FILES.c.id,
    FILES.c.file_uuid,
    FILES.c.original_filename,
    FILES.c.folder,
    FILES.c.file_extension,
    FILES.c.mime_type,
    FILES.c.file_size,
    FILES.c.file_hash,
    FILES.c.is_public,
    FILES.c.is_deleted,
    FILES.c.created_at,
    FILES.c.updated_at,
    FILES.c.deleted_at,
    _CATEGORIES.c.name.label("category"),
    sa.func.coalesce(_BLOBS.c.status, sa.literal_column("'ok'", sa.String)).label("content_status"),
    _USERS.c.username.label("owner"),
)
_FROM: Final = (
    FILES.outerjoin(_CATEGORIES, _CATEGORIES.c.id == FILES.c.file_category_id)
    .outerjoin(_BLOBS, _BLOBS.c.content_hash == FILES.c.file_hash)
    .outerjoin(_USERS, _USERS.c.id == FILES.c.owner_id)
)
_TAGS_OF_FILES: Final = (
    sa.select(_LINKS.c.file_id, _TAGS.c.tag_name)
    .join_from(_LINKS, _TAGS, _TAGS.c.id == _LINKS.c.tag_id)
    .where(_LINKS.c.file_id.in_(sa.bindparam("file_ids", expanding=True)))
)


def select_records() -> sa.Select[Any]:
    """The files' records but their tags, for a caller to filter, order and limit, and
    to run with ``records``."""
    return sa.select(*_COLUMNS).select_from(_FROM)


def records(
    session: Session, statement: sa.Executable, parameters: Mapping[str, Any] | None = None
) -> list[FileRecord]:
    """The records a ``select_records`` statement finds, with their tags: two statements
    for any number of files."""
    return with_tags(session, session.execute(statement, parameters).all())


def with_tags(session: Session, rows: Sequence[sa.Row[Any]]) -> list[FileRecord]:
    """Records of rows of a ``select_records`` statement, their tags read in one statement."""
    if not rows:
        return []
    files = _by_label(rows)
    tags: defaultdict[int, list[str]] = defaultdict(list)
    for file_id, tag_name in session.execute(
        _TAGS_OF_FILES, {"file_ids": [file["id"] for file in files]}
    ):
        tags[file_id].append(tag_name)
    return [_record_of(file, tags.get(file["id"], ())) for file in files]


def _by_label(rows: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
    """Each row's values by their column labels; the labels are read once (a row's
    ``_fields`` and ``_mapping`` are built anew on every use, slower than the record)."""
    labels = rows[0]._fields
    return [dict(zip(labels, row, strict=True)) for row in rows]


def _record_of(values: dict[str, Any], tags: Iterable[str]) -> FileRecord:
    values["tags"] = tuple(sorted(tags))
    return FileRecord.model_validate(values)


def public_or_owned(owner: Any) -> sa.ColumnElement[bool]:
    """What a member may read besides: a public file, or one that ``owner`` (a user id,
    or a bound parameter that will be one) owns."""
    return sa.or_(FILES.c.is_public == sa.true(), FILES.c.owner_id == owner)


def file_record(
    session: Session,
    file_uuid: str,
    *,
    include_deleted: bool = False,
    public_only: bool = False,
    owner_id: int | None = None,
) -> FileRecord:
    """One file's record in one statement; NotFound when there is none, or it is deleted
    (unless ``include_deleted``), or it is private and ``public_only`` (unless it is
    ``owner_id``'s): a file hidden from the caller is answered exactly like one that does
    not exist."""
    lookup = _lookup(include_deleted, public_only, owner_id is not None, with_activity=False)
    return _record(_one(session, file_uuid, lookup, owner_id))


def file_detail(
    session: Session,
    file_uuid: str,
    *,
    include_deleted: bool = False,
    public_only: bool = False,
    owner_id: int | None = None,
) -> tuple[FileRecord, Activity]:
    """``file_record`` and the file's activity counts, still in one statement."""
    lookup = _lookup(include_deleted, public_only, owner_id is not None, with_activity=True)
    rows = _one(session, file_uuid, lookup, owner_id)
    return _record(rows), Activity.of(rows[0]._mapping)


def _one(
    session: Session, file_uuid: str, statement: sa.Select[Any], owner_id: int | None = None
) -> Sequence[sa.Row[Any]]:
    parameters: dict[str, Any] = {"file_uuid": parse_file_uuid(file_uuid)}
    if owner_id is not None:
        parameters["owner_id"] = owner_id
    rows = session.execute(statement, parameters).all()
    if not rows:
        raise NotFound(f"no file {file_uuid}")
    return rows


def _record(rows: Sequence[sa.Row[Any]]) -> FileRecord:
    """One file's rows, one per tag (a single row with a null tag when it has none)."""
    per_tag = _by_label(rows)
    names = (row["tag_name"] for row in per_tag if row["tag_name"] is not None)
    return _record_of(per_tag[0], names)


@lru_cache(maxsize=16)
def _lookup(
    include_deleted: bool, public_only: bool, or_owned: bool, *, with_activity: bool
) -> sa.Select[Any]:
    """The lookup by UUID, built once per variant: building a statement and its cache
    key costs about as much as running it on the hottest path. The file's few tags come
    as one row each: cheaper than a second round trip."""
    columns: list[sa.ColumnElement[Any]] = [*_COLUMNS, _TAGS.c.tag_name]
    if with_activity:
        columns += activity_columns(FILES.c.id)
    tagged = _FROM.outerjoin(_LINKS, _LINKS.c.file_id == FILES.c.id).outerjoin(
        _TAGS, _TAGS.c.id == _LINKS.c.tag_id
    )
    statement = (
        sa.select(*columns)
        .select_from(tagged)
        .where(FILES.c.file_uuid == sa.bindparam("file_uuid"))
    )
    if not include_deleted:
        statement = statement.where(FILES.c.is_deleted == sa.false())
    if public_only:
        public = FILES.c.is_public == sa.true()
        statement = statement.where(
            public_or_owned(sa.bindparam("owner_id")) if or_owned else public
        )
    return statement
