"""Rows of ``files``: create, read, update, soft delete, restore, and bulk writes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.filenames import check_filename, check_folder, extension_of, searchable_name
from filewallball.models import FileCategory, FileInfo, generate_file_uuid, utcnow
from filewallball.models.types import MIME_TYPE_LENGTH, STORAGE_PATH_LENGTH

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
DEFAULT_MIME_TYPE = "application/octet-stream"


class Unchanged(Enum):
    """The type of UNCHANGED: "leave this field as it is", where None is a real value."""

    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True, kw_only=True)
class FileSpec:
    """The metadata of content already in the blob store, for a new row of ``files``."""

    original_filename: str
    file_size: int
    file_hash: str
    storage_path: str
    folder: str = ""
    mime_type: str = DEFAULT_MIME_TYPE
    category: str | None = None
    is_public: bool = True
    file_uuid: str | None = None
    created_at: datetime | None = None
    owner_id: int | None = None  # None: the admin's


def parse_file_uuid(value: str) -> str:
    """The canonical form of a file UUID, or InvalidInput."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(f"{value!r} is not a file UUID") from None


def check_mime_type(mime_type: str) -> str:
    lowered = mime_type.lower()
    if len(lowered) > MIME_TYPE_LENGTH or not MIME_TYPE.fullmatch(lowered):
        raise InvalidInput(
            f"{mime_type[:120]!r} is not a MIME type of at most {MIME_TYPE_LENGTH} characters"
        )
    return lowered


def _row_values(spec: FileSpec, category_ids: Mapping[str, int]) -> dict[str, Any]:
    name = check_filename(spec.original_filename)
    if spec.file_size < 0:
        raise InvalidInput(f"file size {spec.file_size} is negative")
    if not SHA256_HEX.fullmatch(spec.file_hash):
        raise InvalidInput(f"{spec.file_hash!r} is not a SHA-256 hex digest (64 lower-case hex)")
    mime_type = check_mime_type(spec.mime_type)
    if not spec.storage_path or len(spec.storage_path) > STORAGE_PATH_LENGTH:
        raise InvalidInput(f"storage path must be 1-{STORAGE_PATH_LENGTH} characters")
    if spec.created_at is not None and spec.created_at.utcoffset() is None:
        raise InvalidInput(f"created_at {spec.created_at.isoformat()} has no time zone")
    values: dict[str, Any] = {
        "file_uuid": parse_file_uuid(spec.file_uuid) if spec.file_uuid else generate_file_uuid(),
        "original_filename": name,
        "search_name": searchable_name(name),  # for bulk inserts: the ORM sets it itself
        "folder": check_folder(spec.folder),
        "stored_filename": spec.storage_path.rpartition("/")[2],
        "file_extension": extension_of(name),
        "mime_type": mime_type,
        "file_size": spec.file_size,
        "file_hash": spec.file_hash,
        "storage_path": spec.storage_path,
        "file_category_id": category_ids[spec.category] if spec.category else None,
        "is_public": spec.is_public,
    }
    if spec.created_at is not None:
        values["created_at"] = values["updated_at"] = spec.created_at
    if spec.owner_id is not None:  # left out otherwise, like every column with a default
        values["owner_id"] = spec.owner_id
    return values


def _category_ids(session: Session, names: Iterable[str | None]) -> dict[str, int]:
    wanted = {name for name in names if name}
    if not wanted:
        return {}
    found = dict(
        session.execute(
            sa.select(FileCategory.name, FileCategory.id).where(
                FileCategory.name.in_(wanted), FileCategory.is_active
            )
        ).all()
    )
    if missing := sorted(wanted - found.keys()):
        raise NotFound(f"no active category named {', '.join(map(repr, missing))}")
    return found


def create_file(session: Session, spec: FileSpec) -> FileInfo:
    file = FileInfo(**_row_values(spec, _category_ids(session, [spec.category])))
    session.add(file)
    session.flush()
    return file


def get_file(
    session: Session, file_uuid: str, *, include_deleted: bool = False, lock: bool = True
) -> FileInfo:
    """The file's row, to change it (``records.file_record`` shows it); soft-deleted files
    only when asked.

    The row is locked (FOR UPDATE) until the transaction ends and read as it is now (a
    locking read sees rows committed after this transaction's snapshot, on MariaDB too),
    and this is the first statement of every change of a file, so that the snapshot of
    what the change reads next (its tags) is taken after the lock. Every change of one
    file queues behind the one before instead of deadlocking over the gap locks of its
    tag links (MariaDB), a PATCH of the tags replaces the set the previous change
    committed, and a row that a purge is deleting is waited for, then NotFound, instead
    of an UPDATE that finds no row. ``lock=False`` only to read the row.

    The lock is taken through the UUID's index, then the row: ``delete_for_good``
    deletes in the same order, so a restore and the purge queue instead of deadlocking."""
    file = session.scalars(
        _lookup(include_deleted, lock), {"file_uuid": parse_file_uuid(file_uuid)}
    ).one_or_none()
    if file is None:
        raise NotFound(f"no file {file_uuid}")
    return file


@lru_cache(maxsize=4)
def _lookup(include_deleted: bool, lock: bool) -> sa.Select[FileInfo]:
    statement = sa.select(FileInfo).where(FileInfo.file_uuid == sa.bindparam("file_uuid"))
    if not include_deleted:
        statement = statement.where(FileInfo.is_deleted == sa.false())
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return statement


def find_by_hash(session: Session, file_hash: str) -> Sequence[FileInfo]:
    """Every live file with this content, oldest first."""
    return session.scalars(
        sa.select(FileInfo)
        .where(FileInfo.file_hash == file_hash.lower(), FileInfo.is_deleted == sa.false())
        .order_by(FileInfo.created_at, FileInfo.id)
    ).all()


def update_file(
    session: Session,
    file_uuid: str,
    *,
    original_filename: str | Unchanged = UNCHANGED,
    category: str | Unchanged | None = UNCHANGED,
    is_public: bool | Unchanged = UNCHANGED,
    folder: str | Unchanged = UNCHANGED,
) -> FileInfo:
    """Rename, (un)categorise, publish or move a live file. A rename keeps the extension,
    whose upload policy the content was checked against."""
    file = get_file(session, file_uuid)
    if original_filename is not UNCHANGED:
        name = check_filename(original_filename)
        if extension_of(name) != file.file_extension:
            raise InvalidInput(
                f"renaming {file.original_filename!r} to {name!r} would change its extension"
            )
        file.original_filename = name
    if category is not UNCHANGED:
        file.file_category_id = _category_ids(session, [category])[category] if category else None
        session.expire(file, ["category"])
    if is_public is not UNCHANGED:
        file.is_public = is_public
    if folder is not UNCHANGED:
        file.folder = check_folder(folder)
    session.flush()
    return file


def trash_namesakes(session: Session, folder: str, name: str) -> int:
    """Soft-delete the live files called ``name`` in ``folder``, as an upload with
    ``replace`` does; how many. The names are compared again here, exactly: MariaDB's
    ``=`` ignores trailing spaces, which a filename may have."""
    found = session.scalars(
        sa.select(FileInfo)
        .where(
            FileInfo.folder == folder,
            FileInfo.is_deleted == sa.false(),
            FileInfo.original_filename == name,
        )
        .with_for_update()
    ).all()
    namesakes = [file for file in found if file.original_filename == name]
    for file in namesakes:
        file.is_deleted, file.deleted_at = True, utcnow()
    session.flush()
    return len(namesakes)


def soft_delete_file(session: Session, file_uuid: str) -> FileInfo:
    """Hide the file everywhere until restored or purged. Deleting twice changes nothing."""
    file = get_file(session, file_uuid, include_deleted=True)
    if not file.is_deleted:
        file.is_deleted, file.deleted_at = True, utcnow()
        session.flush()
    return file


def restore_file(session: Session, file_uuid: str) -> FileInfo:
    file = get_file(session, file_uuid, include_deleted=True)
    if file.is_deleted:
        file.is_deleted, file.deleted_at = False, None
        session.flush()
    return file


def purge_candidates(
    session: Session, older_than: timedelta, *, now: datetime | None = None, limit: int = 1000
) -> Sequence[FileInfo]:
    """Files soft-deleted longer ago than ``older_than``, longest-deleted first."""
    cutoff = (now or utcnow()) - older_than
    return session.scalars(
        sa.select(FileInfo)
        .where(FileInfo.deleted_at < cutoff, FileInfo.is_deleted == sa.true())
        .order_by(FileInfo.deleted_at, FileInfo.id)
        .limit(limit)
    ).all()


def delete_for_good(
    session: Session, files: Sequence[FileInfo], *, deleted_before: datetime
) -> int:
    """Delete for good those of ``files`` that are still in the trash and were deleted
    before ``deleted_before`` (with their tags, uploads and events, by the foreign keys'
    cascades); returns how many rows went. The caller releases the blobs of their
    contents (``blobs.release_blob``) once this transaction has committed.

    The DELETE checks the condition itself, on each row as it deletes it: the rows were
    read earlier without a lock, and a file restored since then must stay. MariaDB
    reads the latest committed version of a row it deletes, PostgreSQL re-checks a row
    changed by a transaction it waited for, and SQLite has one writer at a time.

    The rows are found by UUID, so the DELETE locks each UUID's index entry before its
    row, in the order ``get_file`` locks them for a restore: by primary key, the two
    took the locks in opposite orders and deadlocked (MariaDB)."""
    if not files:
        return 0
    result = session.execute(
        sa.delete(FileInfo)
        .where(
            FileInfo.file_uuid.in_(sorted(file.file_uuid for file in files)),
            FileInfo.is_deleted == sa.true(),
            FileInfo.deleted_at < deleted_before,
        )
        .execution_options(synchronize_session=False)
    )
    for file in files:  # deleted or not, their state in memory is stale now
        if file in session:
            session.expunge(file)
    return cast("sa.CursorResult[Any]", result).rowcount


def bulk_insert_files(session: Session, specs: Sequence[FileSpec]) -> list[tuple[int, str]]:
    """Insert many rows through the driver's executemany; returns (id, file_uuid) in input
    order. Every row is validated before any is written.

    The rows go straight to the driver's executemany (PyMySQL rewrites it into multi-row
    INSERTs, psycopg pipelines it), with only the columns' own bind processing on the way;
    the per-row ORM and compiler work would otherwise double the time.
    """
    if not specs:
        return []
    category_ids = _category_ids(session, (spec.category for spec in specs))
    rows = [_row_values(spec, category_ids) for spec in specs]
    given = [row["file_uuid"] for row, spec in zip(rows, specs, strict=True) if spec.file_uuid]
    _refuse_duplicate_uuids(session, given)
    now = utcnow()
    for row in rows:
        row.setdefault("created_at", now)
        row.setdefault("updated_at", row["created_at"])
        row["is_deleted"] = False
    # Ids only grow, so ours are all above the largest id visible now; reading the range
    # back costs one index range scan (RETURNING, or lookups by UUID, cost far more).
    before = session.scalar(sa.select(sa.func.max(FileInfo.id))) or 0
    _executemany(session.connection(), FileInfo.__table__, rows)  # type: ignore[arg-type]
    ids = dict(
        session.execute(
            sa.select(FileInfo.file_uuid, FileInfo.id).where(FileInfo.id > before)
        ).all()
    )
    uuids = [row["file_uuid"] for row in rows]
    if missing := [file_uuid for file_uuid in uuids if file_uuid not in ids]:
        # ids were handed out below max(id) (rows imported with explicit ids): look them up
        ids.update(_ids_by_uuid(session, missing))
    return [(ids[file_uuid], file_uuid) for file_uuid in uuids]


def _ids_by_uuid(session: Session, uuids: Sequence[str]) -> dict[str, int]:
    """The ids of the stored files among ``uuids``, a bounded IN list at a time."""
    found: dict[str, int] = {}
    for start in range(0, len(uuids), 1000):
        chunk = uuids[start : start + 1000]
        found.update(
            session.execute(
                sa.select(FileInfo.file_uuid, FileInfo.id).where(FileInfo.file_uuid.in_(chunk))
            ).all()
        )
    return found


def _refuse_duplicate_uuids(session: Session, given: list[str]) -> None:
    """Given (canonical) UUIDs must be new: a clash here is a Conflict, not a broken batch."""
    if len(set(given)) != len(given):
        raise Conflict("the same file_uuid appears twice in one bulk insert")
    if taken := _ids_by_uuid(session, given):
        raise Conflict(f"file {min(taken)} already exists")


def _executemany(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = sa.insert(table).inline().compile(dialect=dialect, column_keys=keys)
    if unsupplied := set(compiled.params) - set(keys):  # e.g. a new column with a default
        raise RuntimeError(f"bulk insert into {table.name} lacks {', '.join(sorted(unsupplied))}")
    processors = {
        key: processor
        for key in keys
        if (processor := table.c[key].type.dialect_impl(dialect).bind_processor(dialect))
    }
    for row in rows:
        for key, processor in processors.items():
            row[key] = processor(row[key])
    if compiled.positional:
        order = compiled.positiontup or []
        connection.exec_driver_sql(
            str(compiled), [tuple(row[key] for key in order) for row in rows]
        )
    else:
        connection.exec_driver_sql(str(compiled), rows)


BULK_UPDATABLE = frozenset({"file_category_id", "is_public", "mime_type"})


def bulk_update_files(session: Session, changes: Sequence[Mapping[str, Any]]) -> int:
    """Apply per-row changes (each mapping has ``id`` and fields to set) in one executemany,
    all or nothing. Live files only; renames and deletion go through their own operations,
    which keep their rules."""
    rows = []
    for change in changes:
        if "id" not in change:
            raise InvalidInput("every bulk update needs the row's id")
        if unknown := set(change) - BULK_UPDATABLE - {"id"}:
            raise InvalidInput(f"{', '.join(sorted(unknown))} cannot be changed in bulk")
        row = dict(change)
        if "mime_type" in row:
            row["mime_type"] = check_mime_type(row["mime_type"])
        rows.append(row)
    if not rows:
        return 0
    ids = {row["id"] for row in rows}
    live = set(
        session.scalars(
            sa.select(FileInfo.id).where(FileInfo.id.in_(ids), FileInfo.is_deleted == sa.false())
        )
    )
    if missing := sorted(ids - live):
        raise NotFound(f"no live file with id {', '.join(map(str, missing[:10]))}")
    categories = {row["file_category_id"] for row in rows if row.get("file_category_id")}
    active = set(
        session.scalars(
            sa.select(FileCategory.id).where(
                FileCategory.id.in_(categories), FileCategory.is_active
            )
        )
    )
    if unknown_categories := sorted(categories - active):
        raise NotFound(f"no active category with id {', '.join(map(str, unknown_categories))}")
    now = utcnow()
    session.execute(sa.update(FileInfo), [{**row, "updated_at": now} for row in rows])
    return len(rows)
