"""One search over files: combinable filters, a stable sort, and keyset pagination.

Keyset pages cost the same at page 1,000 as at page 1: each page continues after the
last row of the previous one (its sort value and id, carried in an opaque cursor)
instead of skipping rows with OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
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
from filewallball.filenames import check_folder, searchable_name
from filewallball.models import FileCategory, FileTag, FileTagRelation
from filewallball.models.types import (
    CATEGORY_NAME_LENGTH,
    EXTENSION_LENGTH,
    FILENAME_LENGTH,
    FOLDER_LENGTH,
    MAX_BIGINT,
    MIME_TYPE_LENGTH,
    SEARCH_NAME_LENGTH,
    TAG_NAME_LENGTH,
)
from filewallball.operations.folders import Subtree, in_subtree
from filewallball.operations.records import (
    FILES,
    FileRecord,
    public_or_owned,
    records,
    select_records,
    with_tags,
)
from filewallball.operations.tags import normalise_tags

MAX_PAGE_SIZE = 500
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

    q: str | None = Field(
        None,
        max_length=FILENAME_LENGTH,
        description="Part of the name, in any case, accents and compatibility forms aside",
    )
    name_prefix: str | None = Field(
        None,
        max_length=FILENAME_LENGTH,
        description="Start of the name, compared as q compares (an index range)",
    )
    extension: list[Annotated[str, Field(max_length=EXTENSION_LENGTH + 1)]] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES, description="Any of these extensions"
    )
    mime: str | None = Field(
        None, max_length=MIME_TYPE_LENGTH, description="MIME type prefix, e.g. image/"
    )
    category: str | None = Field(None, max_length=CATEGORY_NAME_LENGTH)
    folder: str | None = Field(
        None, max_length=4 * FOLDER_LENGTH, description="Exactly this folder; empty: the top"
    )
    folder_prefix: str | None = Field(
        None,
        max_length=4 * FOLDER_LENGTH,
        description="This folder and everything under it (a matches a/b, not ab)",
    )
    tag: list[Annotated[str, Field(max_length=TAG_NAME_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES
    )
    tag_mode: Literal["any", "all"] = "any"
    min_size: int | None = Field(None, ge=0, le=MAX_BIGINT)
    max_size: int | None = Field(None, ge=0, le=MAX_BIGINT)
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


def search_files(session: Session, query: FileQuery, *, visible_to: int | None = None) -> Page:
    """The page of files ``query`` asks for; with ``visible_to``, only public files and
    that user's own."""
    shape, parameters = _shape(query, visible_to)
    rows = session.execute(_page(shape), {**parameters, "limit": query.limit + 1}).all()
    items, more = with_tags(session, rows[: query.limit]), len(rows) > query.limit
    total = (session.scalar(_count(shape), parameters) or 0) if query.with_total else None
    cursor = _encode_cursor(query, getattr(items[-1], query.sort), items[-1].id) if more else None
    return Page(items, cursor, total)


MAX_PAGE_NUMBER = 100_000


def numbered_page(
    session: Session, query: FileQuery, page: int, *, visible_to: int | None = None
) -> tuple[list[FileRecord], int]:
    """Page ``page`` (from 1) of ``query.limit`` files, and the number of all matches:
    OFFSET paging for clients of the earlier API, which numbered its pages. Cursor
    pages (``search_files``) are the fast way; this one slows down as ``page`` grows."""
    if query.tag or query.cursor:
        raise InvalidInput("numbered pages take neither tags nor a cursor")
    if not 1 <= page <= MAX_PAGE_NUMBER:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE_NUMBER}")
    shape, parameters = _shape(query, visible_to)
    offset = {"offset": (page - 1) * query.limit, "limit": query.limit}
    items = records(session, _numbered_page(shape), {**parameters, **offset})
    return items, session.scalar(_count(shape), parameters) or 0


@dataclass(frozen=True)
class _Shape:
    """What decides a search's SQL; everything else is a parameter. Each shape's
    statements are built once: building a statement and its cache key cost as much as
    reading the page's rows from the index."""

    sort: SortKey
    descending: bool
    filters: frozenset[str]  # the FileQuery fields that filter, but the tags; visible_to
    leading_tag: bool  # the first tag's links lead the walk
    tag_groups: int  # files with any tag of each group (EXISTS), but the leading one
    after: bool  # a cursor


def _shape(query: FileQuery, visible_to: int | None = None) -> tuple[_Shape, dict[str, Any]]:
    """The search's shape and its parameters."""
    tags = normalise_tags(query.tag)
    # Newest files with a tag: walk that tag's links, which carry the files' upload times,
    # instead of every file or every link of a popular tag. Only one tag can lead.
    leading = (
        bool(tags) and query.sort == "created_at" and (query.tag_mode == "all" or len(tags) == 1)
    )
    groups = [tags] if query.tag_mode == "any" else [[name] for name in tags]
    groups = groups[1:] if leading else groups if tags else []
    parameters: dict[str, Any] = {f"tags_{n}": names for n, names in enumerate(groups)}
    if leading:
        parameters["leading_tag"] = tags[0]
    given = {
        name: value
        for name in _FILTERS
        if (value := getattr(query, name)) not in _NOT_GIVEN
        or (value == "" and name in _EMPTY_IS_A_VALUE)
    }
    parameters.update((name, _value(name, value)) for name, value in given.items())
    if "name_prefix" in given:
        parameters["name_prefix_end"] = _prefix_end(parameters["name_prefix"])
    if "folder_prefix" in given:
        parameters.update(Subtree(parameters["folder_prefix"]).parameters)
    filters = {*given, "include_deleted"} if query.include_deleted else set(given)
    if visible_to is not None:
        filters.add("visible_to")
        parameters["visible_to"] = visible_to
    if query.cursor:
        parameters["after_value"], parameters["after_id"] = _decode_cursor(query.cursor, query)
    shape = _Shape(
        query.sort,
        query.order == "desc",
        frozenset(filters),
        leading,
        len(groups),
        bool(query.cursor),
    )
    return shape, parameters


def _value(name: str, value: Any) -> Any:
    if name == "q":
        return _like_escaped(searchable_name(value))
    if name == "name_prefix":
        return searchable_name(value)
    if name == "mime":
        return _like_escaped(value.lower())
    if name in ("folder", "folder_prefix"):
        return check_folder(value)
    if name == "extension":
        return sorted({extension.lower().lstrip(".") for extension in value})
    return value


def _like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '/'."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _prefix_end(prefix: str) -> str:
    """The first text after every text that starts with ``prefix``, in code point order
    (the search name's collation): its last character that can grow, grown by one."""
    while prefix:
        last = ord(prefix[-1]) + 1
        prefix = prefix[:-1]
        if last <= sys.maxunicode:
            return prefix + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)
    # Nothing can follow U+10FFFF...: every stored name below this longer one qualifies.
    return chr(sys.maxunicode) * (SEARCH_NAME_LENGTH + 1)


_NOT_GIVEN: tuple[Any, ...] = (None, [], "")
_EMPTY_IS_A_VALUE = frozenset({"folder"})  # folder= is the top
# The conditions of the filters given, by FileQuery field; the values are parameters.
_FILTERS: dict[str, Callable[[], sa.ColumnElement[bool]]] = {
    # Both sides are folded already (searchable_name): no database's case rules apply.
    "q": lambda: _FILE.search_name.contains(sa.bindparam("q"), escape="/"),
    # A range, not LIKE 'x%': an index range on all three databases, with bound parameters
    # too, whatever the case rules of their LIKE.
    "name_prefix": lambda: sa.and_(
        _FILE.search_name >= sa.bindparam("name_prefix"),
        _FILE.search_name < sa.bindparam("name_prefix_end"),
    ),
    "extension": lambda: _FILE.file_extension.in_(sa.bindparam("extension", expanding=True)),
    "mime": lambda: _FILE.mime_type.startswith(sa.bindparam("mime"), escape="/"),
    "category": lambda: (
        _FILE.file_category_id
        == sa.select(_CATEGORIES.id)
        .where(_CATEGORIES.name == sa.bindparam("category"))
        .scalar_subquery()
    ),
    "folder": lambda: _FILE.folder == sa.bindparam("folder"),
    "folder_prefix": in_subtree,
    "min_size": lambda: _FILE.file_size >= sa.bindparam("min_size"),
    "max_size": lambda: _FILE.file_size <= sa.bindparam("max_size"),
    "created_after": lambda: _FILE.created_at >= sa.bindparam("created_after"),
    "created_before": lambda: _FILE.created_at <= sa.bindparam("created_before"),
    "is_public": lambda: _FILE.is_public == sa.bindparam("is_public"),
}


def _conditions(shape: _Shape) -> list[sa.ColumnElement[bool]]:
    """Every filter, the tags' too, but the leading tag's."""
    where = [] if "include_deleted" in shape.filters else [_FILE.is_deleted == sa.false()]
    where += [make() for name, make in _FILTERS.items() if name in shape.filters]
    if "visible_to" in shape.filters:
        where.append(public_or_owned(sa.bindparam("visible_to")))
    where += [_tagged_with_any(f"tags_{n}") for n in range(shape.tag_groups)]
    return where


@lru_cache(maxsize=256)
def _page(shape: _Shape) -> sa.Select[Any]:
    statement = select_records().where(*_conditions(shape))
    column, row_id = _FILE[shape.sort], _FILE.id
    if shape.leading_tag:
        tag_id = (
            sa.select(_TAGS.id)
            .where(_TAGS.tag_name == sa.bindparam("leading_tag"))
            .scalar_subquery()
        )
        statement = statement.join(
            _LINKS, sa.and_(_LINKS.c.file_id == _FILE.id, _LINKS.c.tag_id == tag_id)
        )
        column, row_id = _LINKS.c.file_created_at, _LINKS.c.file_id
        # bound the index walk itself, not only the files it finds
        if "created_after" in shape.filters:
            statement = statement.where(column >= sa.bindparam("created_after"))
        if "created_before" in shape.filters:
            statement = statement.where(column <= sa.bindparam("created_before"))
    if shape.after:
        statement = statement.where(_after(column, row_id, descending=shape.descending))
    ordering = (column.desc(), row_id.desc()) if shape.descending else (column, row_id)
    return statement.order_by(*ordering).limit(sa.bindparam("limit"))


@lru_cache(maxsize=64)
def _numbered_page(shape: _Shape) -> sa.Select[Any]:
    column = _FILE[shape.sort]
    ordering = (column.desc(), _FILE.id.desc()) if shape.descending else (column, _FILE.id)
    return (
        select_records()
        .where(*_conditions(shape))
        .order_by(*ordering)
        .offset(sa.bindparam("offset"))
        .limit(sa.bindparam("limit"))
    )


@lru_cache(maxsize=256)
def _count(shape: _Shape) -> sa.Select[Any]:
    """The number of matches: every condition, the leading tag's too, but the cursor."""
    where = _conditions(shape)
    if shape.leading_tag:
        where.append(_tagged_with_any("leading_tag", single=True))
    return sa.select(sa.func.count(_FILE.id)).where(*where)


def _tagged_with_any(parameter: str, *, single: bool = False) -> sa.Exists:
    """EXISTS rather than a join: a file with two matching tags is still one result."""
    names: sa.BindParameter[Any] = sa.bindparam(parameter, expanding=not single)
    return (
        sa.select(_LINKS.c.id)
        .join_from(_LINKS, FileTag.__table__, _TAGS.id == _LINKS.c.tag_id)
        .where(
            _LINKS.c.file_id == _FILE.id,
            _TAGS.tag_name == names if single else _TAGS.tag_name.in_(names),
        )
        .exists()
    )


def _after(column: Any, row_id: Any, *, descending: bool) -> sa.ColumnElement[bool]:
    """Rows after the cursor's (value, id) in the page order. The first, redundant bound
    lets MariaDB read the index as a range instead of evaluating the OR for every row."""
    value: sa.BindParameter[Any] = sa.bindparam("after_value")
    last_id: sa.BindParameter[int] = sa.bindparam("after_id")
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
        if type(last_id) is not int or not 0 < last_id <= MAX_BIGINT:
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
    if sort == "file_size" and (type(value) is not int or not 0 <= value <= MAX_BIGINT):
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
