"""What a caller may see and change: the admin sees and changes everything; a member
sees live public files and their own, and changes only their own; anyone else sees live
public files.

A file someone may not see is answered exactly like one that does not exist (404), so
that neither private nor deleted files can be discovered by probing UUIDs: the rule is
part of the lookup itself, which finds nothing. One they may see but not change is 403
``forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import Forbidden, NotFound, Unauthorized
from filewallball.models import FileInfo
from filewallball.operations.activity import Activity
from filewallball.operations.files import parse_file_uuid
from filewallball.operations.keys import Principal
from filewallball.operations.records import FileRecord, file_detail, file_record
from filewallball.operations.search import FileQuery
from filewallball.operations.system_settings import PUBLIC_LISTING, get_setting


@dataclass(frozen=True)
class Viewer:
    """Whose files a caller reads beyond the live public ones: every file, deleted ones
    too (``sees_all``), or one user's own."""

    sees_all: bool = False
    user_id: int | None = None


ANYONE = Viewer()


def visible_file(session: Session, file_uuid: str, viewer: Viewer) -> FileRecord:
    return file_record(session, file_uuid, **_rule(viewer))


def visible_detail(session: Session, file_uuid: str, viewer: Viewer) -> tuple[FileRecord, Activity]:
    """``visible_file`` and its activity, in the same one statement."""
    return file_detail(session, file_uuid, **_rule(viewer))


def visible_to(viewer: Viewer) -> dict[str, Any]:
    """The keyword a search takes to show a member their own private files too."""
    return {"visible_to": viewer.user_id} if viewer.user_id is not None else {}


def searchable_by(viewer: Viewer, query: FileQuery) -> FileQuery:
    """``query`` as ``viewer`` may run it: anyone else but the admin never finds deleted
    files, and an anonymous caller only public ones (Unauthorized when they ask for
    the others); a member's own private files come in through ``visible_to``."""
    if viewer.sees_all:
        return query
    if query.include_deleted or (query.is_public is False and viewer.user_id is None):
        raise Unauthorized("private and deleted files need the admin's credential")
    if viewer.user_id is None:
        return query.model_copy(update={"is_public": True})
    return query


def _rule(viewer: Viewer) -> dict[str, Any]:
    seen = viewer.sees_all
    return {"include_deleted": seen, "public_only": not seen, "owner_id": viewer.user_id}


def check_changeable(session: Session, file_uuid: str, caller: Principal) -> None:
    """Nothing for an admin (the change itself finds the file or not); for anyone else
    their own file, live or trashed, else Forbidden when they may see it, NotFound when
    they may not."""
    if caller.role == "admin":
        return
    row = session.execute(
        sa.select(FileInfo.owner_id, FileInfo.is_public, FileInfo.is_deleted).where(
            FileInfo.file_uuid == parse_file_uuid(file_uuid)
        )
    ).one_or_none()
    if row is not None and caller.user_id is not None and row.owner_id == caller.user_id:
        return
    if row is None or not row.is_public or row.is_deleted:
        raise NotFound(f"no file {file_uuid}")
    raise Forbidden(f"file {file_uuid} is not yours to change")


def check_listing(session: Session, caller: Principal | None) -> None:
    """Anonymous callers list the public files only while ``public_listing`` is on (the
    files stay readable by their URLs either way)."""
    if caller is None and get_setting(session, PUBLIC_LISTING, True) is not True:
        raise Unauthorized("listing needs a credential here (public_listing is off)")
