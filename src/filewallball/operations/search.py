"""One search over files: combinable filters, a stable sort, and keyset pagination.

Keyset pages cost the same at page 1,000 as at page 1: each page continues after the
last row of the previous one (its sort value and id, carried in an opaque cursor)
instead of skipping rows with OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

import sqlalchemy as sa
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.orm import Session

from filewallball.errors import InvalidInput
from filewallball.filenames import MAX_EXTENSION_LENGTH
from filewallball.models import FileCategory, FileTag, FileTagRelation
from filewallball.operations.records import FILES, FileRecord, records, select_records, with_tags
from filewallball.operations.tags import MAX_TAG_LENGTH, normalise_tags

__all__ = [
    "MAX_PAGE_SIZE",
    "FileQuery",
    "Page",
    "files_by_tags",
    "numbered_page",
    "search_files",
]

MAX_PAGE_SIZE = 500
MAX_SIZE = 2**63 - 1  # BIGINT
MAX_FILTER_VALUES = 20
SortKey = Literal["created_at", "file_size", "original_filename"]
# Core columns throughout: an ORM attribute would send the statement through the ORM.
_FILE = FILES.c
_CATEGORIES = FileCategory.__table__.c
_TAGS = FileTag.__table__.c
_LINKS = FileTagRelation.__table__


class FileQuery(BaseModel):
    """The filters, sort and page of a search; field names are the HTTP query parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str | None = Field(None, max_length=255, description="Substring of the name, any case")
    extension: list[Annotated[str, Field(max_length=MAX_EXTENSION_LENGTH + 1)]] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES, description="Any of these extensions"
    )
    mime: str | None = Field(None, max_length=100, description="MIME type prefix, e.g. image/")
    category: str | None = Field(None, max_length=100)
    tag: list[Annotated[str, Field(max_length=MAX_TAG_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES
    )
    tag_mode: Literal["any", "all"] = "any"
    min_size: int | None = Field(None, ge=0, le=MAX_SIZE)
    max_size: int | None = Field(None, ge=0, le=MAX_SIZE)
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    is_public: bool | None = None
    include_deleted: bool = False
    sort: SortKey = "created_at"
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(50, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(None, max_length=1000)
    with_total: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """No database stores NUL in text (PostgreSQL refuses the query outright)."""
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and "\x00" in item for item in values):
            raise ValueError("contains a NUL character")
        return value

    @field_validator("created_after", "created_before")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        try:
            return moment.astimezone(UTC) if moment else None
        except OverflowError:
            raise ValueError("date is out of range") from None

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if (
            self.min_size is not None
            and self.max_size is not None
            and self.min_size > self.max_size
        ):
            raise ValueError(f"min_size {self.min_size} is above max_size {self.max_size}")
        if self.created_after and self.created_before and self.created_after > self.created_before:
            raise ValueError("created_after is later than created_before")
        return self

    @classmethod
    def from_params(cls, **params: Any) -> FileQuery:
        """Validate search parameters; every problem is reported in one InvalidInput."""
        try:
            return cls(**params)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'query'}: {e['msg']}" for e in error.errors()
            )
            raise InvalidInput(f"invalid search: {problems}") from None


@dataclass(frozen=True)
class Page:
    items: Sequence[FileRecord]
    next_cursor: str | None
    total: int | None


def search_files(session: Session, query: FileQuery) -> Page:
    tags = normalise_tags(query.tag)
    # Newest files with a tag: walk that tag's links, which carry the files' upload times,
    # instead of every file or every link of a popular tag. Only one tag can lead.
    leading = (
        tags[0]
        if tags and query.sort == "created_at" and (query.tag_mode == "all" or len(tags) == 1)
        else None
    )
    statement = select_records()
    column, row_id = _FILE[query.sort], _FILE.id
    if leading:
        tag_id = sa.select(_TAGS.id).where(_TAGS.tag_name == leading).scalar_subquery()
        statement = statement.join(
            _LINKS, sa.and_(_LINKS.c.file_id == _FILE.id, _LINKS.c.tag_id == tag_id)
        )
        column, row_id = _LINKS.c.file_created_at, _LINKS.c.file_id
        if query.created_after:  # bound the index walk itself, not only the files it finds
            statement = statement.where(column >= query.created_after)
        if query.created_before:
            statement = statement.where(column <= query.created_before)
    conditions = _conditions(query)
    groups = [tags] if query.tag_mode == "any" else [[name] for name in tags]
    tag_conditions = [_tagged_with_any(group) for group in groups if tags]
    statement = statement.where(*conditions, *(tag_conditions[1:] if leading else tag_conditions))

    descending = query.order == "desc"
    if query.cursor:
        value, last_id = _decode_cursor(query.cursor, query)
        statement = statement.where(_after(column, row_id, value, last_id, descending=descending))
    ordering = (column.desc(), row_id.desc()) if descending else (column.asc(), row_id.asc())
    rows = session.execute(statement.order_by(*ordering).limit(query.limit + 1)).all()
    items, more = with_tags(session, rows[: query.limit]), len(rows) > query.limit
    total = None
    if query.with_total:
        counted = sa.select(sa.func.count(_FILE.id)).where(*conditions, *tag_conditions)
        total = session.scalar(counted) or 0
    cursor = _encode_cursor(query, getattr(items[-1], query.sort), items[-1].id) if more else None
    return Page(items, cursor, total)


MAX_PAGE_NUMBER = 100_000


def numbered_page(session: Session, query: FileQuery, page: int) -> tuple[list[FileRecord], int]:
    """Page ``page`` (from 1) of ``query.limit`` files, and the number of all matches:
    OFFSET paging for clients of the earlier API, which numbered its pages. Cursor
    pages (``search_files``) are the fast way; this one slows down as ``page`` grows."""
    if query.tag or query.cursor:
        raise InvalidInput("numbered pages take neither tags nor a cursor")
    if not 1 <= page <= MAX_PAGE_NUMBER:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE_NUMBER}")
    conditions = _conditions(query)
    column = _FILE[query.sort]
    ordering = (
        (column.desc(), _FILE.id.desc())
        if query.order == "desc"
        else (column.asc(), _FILE.id.asc())
    )
    items = records(
        session,
        select_records()
        .where(*conditions)
        .order_by(*ordering)
        .offset((page - 1) * query.limit)
        .limit(query.limit),
    )
    total = session.scalar(sa.select(sa.func.count(_FILE.id)).where(*conditions)) or 0
    return items, total


def _conditions(query: FileQuery) -> list[sa.ColumnElement[bool]]:
    """Every filter but the tags."""
    where: list[sa.ColumnElement[bool]] = []
    if not query.include_deleted:
        where.append(_FILE.is_deleted == sa.false())
    if query.q:
        where.append(_FILE.original_filename.icontains(query.q, autoescape=True))
    if query.extension:
        where.append(_FILE.file_extension.in_({e.lower().lstrip(".") for e in query.extension}))
    if query.mime:
        where.append(_FILE.mime_type.startswith(query.mime.lower(), autoescape=True))
    if query.category:
        category_id = sa.select(_CATEGORIES.id).where(_CATEGORIES.name == query.category)
        where.append(_FILE.file_category_id == category_id.scalar_subquery())
    if query.min_size is not None:
        where.append(_FILE.file_size >= query.min_size)
    if query.max_size is not None:
        where.append(_FILE.file_size <= query.max_size)
    if query.created_after:
        where.append(_FILE.created_at >= query.created_after)
    if query.created_before:
        where.append(_FILE.created_at <= query.created_before)
    if query.is_public is not None:
        where.append(_FILE.is_public == query.is_public)
    return where


def _tagged_with_any(names: list[str]) -> sa.Exists:
    """EXISTS rather than a join: a file with two matching tags is still one result."""
    return (
        sa.select(_LINKS.c.id)
        .join_from(_LINKS, FileTag.__table__, _TAGS.id == _LINKS.c.tag_id)
        .where(_LINKS.c.file_id == _FILE.id, _TAGS.tag_name.in_(names))
        .exists()
    )


def _after(
    column: Any, row_id: Any, value: Any, last_id: int, *, descending: bool
) -> sa.ColumnElement[bool]:
    """Rows after (value, last_id) in the page order. The first, redundant bound lets
    MariaDB read the index as a range instead of evaluating the OR for every row."""
    if descending:
        return sa.and_(column <= value, sa.or_(column < value, row_id < last_id))
    return sa.and_(column >= value, sa.or_(column > value, row_id > last_id))


def _encode_cursor(query: FileQuery, value: Any, last_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = json.dumps([query.sort, query.order, value, last_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, query: FileQuery) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort, order, value, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if (sort, order) != (query.sort, query.order):
            raise ValueError("cursor from another sort order")
        if type(last_id) is not int or not 0 < last_id <= MAX_SIZE:
            raise ValueError("cursor id out of range")
        return _cursor_value(query.sort, value), last_id
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise InvalidInput("cursor is not valid for this search; start again without it") from None


def _cursor_value(sort: SortKey, value: Any) -> Any:
    if sort == "created_at":
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive cursor time")
        return moment.astimezone(UTC)
    if sort == "file_size" and (type(value) is not int or not 0 <= value <= MAX_SIZE):
        raise ValueError("size cursor is not a size")
    if sort == "original_filename" and not isinstance(value, str):
        raise ValueError("name cursor is not text")
    return value


def files_by_tags(
    session: Session,
    names: Sequence[str],
    *,
    mode: Literal["any", "all"] = "any",
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Live files carrying any (or all) of the tags, newest first."""
    if isinstance(names, str) or not names:
        raise InvalidInput("give a list of one or more tag names")
    query = FileQuery.from_params(tag=list(names), tag_mode=mode, limit=limit, cursor=cursor)
    return search_files(session, query)
