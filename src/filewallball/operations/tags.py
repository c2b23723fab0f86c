"""Tags: normalised names, tagging and untagging files, counts, renames.

Tag names are stored normalised (trimmed, NFC, case-folded), so ``"Holiday "`` and
``"holiday"`` are one tag on every database whatever its collation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.filenames import invisible_character
from filewallball.models import FileInfo, FileTag, FileTagRelation, utcnow
from filewallball.models.types import TAG_NAME_LENGTH

# Letters and digits of any script, and a few joiners; no commas (tag lists are
# comma-separated), no slashes (tags appear in URL paths), no wildcards.
_TAG = re.compile(r"[^\W_][\w .:+#-]*")


def normalise_tag(name: str) -> str:
    """The stored form of a tag name, or InvalidInput naming the problem."""
    tag = " ".join(unicodedata.normalize("NFC", name).casefold().split())
    if not tag:
        raise InvalidInput("tag name is empty")
    if len(tag) > TAG_NAME_LENGTH:
        raise InvalidInput(
            f"tag {tag[:20]!r}... is {len(tag)} characters; the limit is {TAG_NAME_LENGTH}"
        )
    if code := invisible_character(tag):
        raise InvalidInput(f"tag {tag!r} contains an invisible character ({code})")
    if not _TAG.fullmatch(tag):
        raise InvalidInput(
            f"tag {tag!r} must start with a letter or digit and contain only"
            " letters, digits, spaces and . : + # - _"
        )
    return tag


def normalise_tags(names: Iterable[str]) -> list[str]:
    """The stored forms of ``names``, each once, in the order given."""
    return list(dict.fromkeys(normalise_tag(name) for name in names))


def _find_tags(session: Session, names: Sequence[str], *, lock: bool = False) -> dict[str, FileTag]:
    statement = sa.select(FileTag).where(FileTag.tag_name.in_(names))
    if lock:
        # A locking read sees rows committed after this transaction's snapshot (MariaDB).
        statement = statement.with_for_update(read=True)
    return {tag.tag_name: tag for tag in session.scalars(statement)}


def _ensure_tags(session: Session, names: Sequence[str]) -> list[FileTag]:
    """The tags named, created where missing. Another transaction may create the same tag
    at the same moment: then our INSERT fails on the unique name, and we use theirs.
    New tags are inserted in name order, so two transactions creating the same tags
    wait for each other instead of deadlocking. Existing tags are read with a shared lock,
    so a concurrent deactivation cannot slip between the check and the link."""
    tags = _find_tags(session, names)
    if tags:  # lock the rows that exist, and only those: gap locks on missing names deadlock
        locked = sa.select(FileTag).where(FileTag.id.in_([tag.id for tag in tags.values()]))
        session.execute(locked.with_for_update(read=True).execution_options(populate_existing=True))
    if inactive := sorted(tag.tag_name for tag in tags.values() if not tag.is_active):
        raise InvalidInput(f"tag {', '.join(map(repr, inactive))} is deactivated")
    session.flush()  # the caller's pending changes fail (or not) outside our savepoints
    for name in sorted(set(names) - tags.keys()):
        try:
            with session.begin_nested():
                tags[name] = FileTag(tag_name=name)
                session.add(tags[name])
        except IntegrityError:
            found = _find_tags(session, [name], lock=True)
            if name not in found:
                raise  # not a duplicate name: something else is wrong
            tags[name] = found[name]
    return [tags[name] for name in names]


def add_tags(
    session: Session, file: FileInfo, names: Iterable[str], *, touch: bool = True
) -> list[FileTag]:
    """Tag a file; tags already on it stay as they are. Returns the tags named. A new link
    changes the file's ``updated_at``, unless ``touch`` is False: for a file created in
    this transaction, whose tags are part of its creation."""
    tags = _ensure_tags(session, normalise_tags(names))
    linked = set(
        session.scalars(
            sa.select(FileTagRelation.tag_id).where(
                FileTagRelation.file_id == file.id,
                FileTagRelation.tag_id.in_([tag.id for tag in tags]),
            )
        )
    )
    for tag in sorted(tags, key=lambda tag: tag.id):
        if tag.id in linked:
            continue
        try:
            with session.begin_nested():
                session.add(
                    FileTagRelation(file_id=file.id, tag_id=tag.id, file_created_at=file.created_at)
                )
        except IntegrityError:
            if not _linked(session, file.id, tag.id):
                raise  # the file or the tag went away: not ours to hide
            # else another transaction linked the same tag meanwhile: the goal is met
    if touch and linked != {tag.id for tag in tags}:
        file.updated_at = utcnow()
    session.expire(file, ["tags", "tag_links"])
    return tags


def _linked(session: Session, file_id: int, tag_id: int) -> bool:
    statement = (
        sa.select(FileTagRelation.id)
        .where(FileTagRelation.file_id == file_id, FileTagRelation.tag_id == tag_id)
        .with_for_update(read=True)
    )
    return session.scalar(statement) is not None


def remove_tags(session: Session, file: FileInfo, names: Iterable[str]) -> int:
    """Untag a file, changing its ``updated_at`` if a link went; returns how many went.
    Unknown tags are ignored."""
    tag_ids = sa.select(FileTag.id).where(FileTag.tag_name.in_(normalise_tags(names)))
    result = session.execute(
        sa.delete(FileTagRelation).where(
            FileTagRelation.file_id == file.id, FileTagRelation.tag_id.in_(tag_ids)
        )
    )
    session.expire(file, ["tags", "tag_links"])
    removed = cast("sa.CursorResult[Any]", result).rowcount
    if removed:
        file.updated_at = utcnow()
    return removed


def popular_tags(
    session: Session, *, limit: int | None = 20, public_only: bool = False
) -> list[tuple[FileTag, int]]:
    """Active tags with the number of live (public) files carrying each, most used first."""
    counted = (
        sa.select(FileTagRelation.tag_id, sa.func.count().label("files"))
        .join(FileInfo, FileInfo.id == FileTagRelation.file_id)
        .where(FileInfo.is_deleted == sa.false())
    )
    if public_only:
        counted = counted.where(FileInfo.is_public == sa.true())
    counts = counted.group_by(FileTagRelation.tag_id).subquery()
    statement = (
        sa.select(FileTag, counts.c.files)
        .join(counts, counts.c.tag_id == FileTag.id)
        .where(FileTag.is_active)
        .order_by(counts.c.files.desc(), FileTag.tag_name)
        .limit(limit)
    )
    return [(tag, files) for tag, files in session.execute(statement)]


def _get_tag(session: Session, name: str) -> FileTag:
    wanted = normalise_tag(name)
    tag = session.scalars(sa.select(FileTag).where(FileTag.tag_name == wanted)).first()
    if tag is None:
        raise NotFound(f"no tag {wanted!r}")
    return tag


def rename_tag(session: Session, old: str, new: str) -> FileTag:
    tag, new_name = _get_tag(session, old), normalise_tag(new)
    if new_name == tag.tag_name:
        return tag
    session.flush()
    try:
        with session.begin_nested():
            tag.tag_name = new_name
    except IntegrityError:
        raise Conflict(f"tag {new_name!r} already exists") from None
    return tag


def deactivate_tag(session: Session, name: str) -> FileTag:
    """Drop a tag from popular tags and refuse it for new tagging; files keep it, and
    searching by it still finds them."""
    tag = _get_tag(session, name)
    tag.is_active = False
    session.flush()
    return tag
