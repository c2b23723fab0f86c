"""Categories: list, create, rename, describe, deactivate; and the one an upload of a
type gets when it names none (``category_for_type``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.filenames import invisible_character
from filewallball.models import FileCategory
from filewallball.models.types import CATEGORY_NAME_LENGTH, DESCRIPTION_LENGTH
from filewallball.operations.files import UNCHANGED, Unchanged

# The categories migration 0002 seeds, by the MIME types that belong in each: exact types
# first, then the type's top level (image/, audio/, video/).
_TYPE_CATEGORIES: dict[str, str] = {
    "image": "images",
    "audio": "audio",
    "video": "video",
    **dict.fromkeys(
        (
            "application/pdf",
            "text/plain",
            "text/markdown",
            "text/rtf",
            "application/rtf",
            "application/msword",
            "application/epub+zip",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.presentation",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        "documents",
    ),
    **dict.fromkeys(
        (
            "text/csv",
            "text/tab-separated-values",
            "application/json",
            "application/xml",
            "text/xml",
            "application/vnd.ms-excel",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "spreadsheets",
    ),
    **dict.fromkeys(
        (
            "application/zip",
            "application/gzip",
            "application/x-tar",
            "application/x-7z-compressed",
            "application/x-bzip2",
            "application/x-xz",
            "application/zstd",
            "application/vnd.rar",
        ),
        "archives",
    ),
    **dict.fromkeys(
        (
            "text/html",
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/x-sh",
            "application/sql",
            "application/toml",
            "application/yaml",
            "text/yaml",
        ),
        "code",
    ),
}


def category_for_type(session: Session, mime_type: str) -> str | None:
    """The seeded category an upload of ``mime_type`` goes in when it names none, while
    that category exists and is active; None for a type none of them holds
    (``application/octet-stream``, say). ``text/x-...`` types are source code."""
    top = mime_type.partition("/")[0]
    name = _TYPE_CATEGORIES.get(mime_type) or _TYPE_CATEGORIES.get(top)
    if name is None and mime_type.startswith("text/x-"):
        name = "code"
    return name if name is not None and is_active(session, name) else None


def is_active(session: Session, name: str) -> bool:
    """Whether a category of this name exists and takes new files."""
    found = session.scalar(
        sa.select(FileCategory.id).where(FileCategory.name == name, FileCategory.is_active)
    )
    return found is not None


def _check_name(name: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if not 1 <= len(name) <= CATEGORY_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(f"category name must be 1-{CATEGORY_NAME_LENGTH} printable characters")
    if code := invisible_character(name):
        raise InvalidInput(f"category name {name!r} contains an invisible character ({code})")
    return name


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > DESCRIPTION_LENGTH:
        raise InvalidInput(f"description is longer than {DESCRIPTION_LENGTH} characters")
    return description


def list_categories(session: Session, *, include_inactive: bool = False) -> Sequence[FileCategory]:
    statement = sa.select(FileCategory).order_by(FileCategory.name)
    if not include_inactive:
        statement = statement.where(FileCategory.is_active)
    return session.scalars(statement).all()


def _get(session: Session, name: str) -> FileCategory:
    """The category named ``name`` now, locked to change it: a concurrent rename makes it
    NotFound here, instead of both renames answering success and the first one lost."""
    name = _check_name(name)
    category = session.scalars(
        sa.select(FileCategory)
        .where(FileCategory.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if category is None:
        raise NotFound(f"no category {name!r}")
    return category


@contextmanager
def _unique_name(session: Session, name: str) -> Iterator[None]:
    """Make the change in a SAVEPOINT, flushed there: a taken name becomes a Conflict and
    the caller's transaction goes on."""
    session.flush()  # the caller's pending changes fail (or not) outside our savepoint
    try:
        with session.begin_nested():
            yield
    except IntegrityError:
        raise Conflict(f"category {name!r} already exists") from None


def create_category(session: Session, name: str, description: str | None = None) -> FileCategory:
    category = FileCategory(name=_check_name(name), description=_check_description(description))
    with _unique_name(session, category.name):
        session.add(category)
    return category


def update_category(
    session: Session,
    name: str,
    *,
    new_name: str | Unchanged = UNCHANGED,
    description: str | Unchanged | None = UNCHANGED,
    is_active: bool | Unchanged = UNCHANGED,
) -> FileCategory:
    """Change a category. Deactivating one keeps its files in it but refuses new ones."""
    category = _get(session, name)
    if new_name is not UNCHANGED:
        new_name = _check_name(new_name)
        with _unique_name(session, new_name):
            category.name = new_name
    if description is not UNCHANGED:
        category.description = _check_description(description)
    if is_active is not UNCHANGED:
        category.is_active = is_active
    session.flush()
    return category
