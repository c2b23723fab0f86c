"""What a caller may see: the admin sees everything; anyone else sees live public files.

A file someone may not see is answered exactly like one that does not exist (404), so
that neither private nor deleted files can be discovered by probing UUIDs: the rule is
part of the lookup itself, which finds nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from filewallball.operations.activity import Activity
from filewallball.operations.records import FileRecord, file_detail, file_record


def visible_file(session: Session, file_uuid: str, admin: bool) -> FileRecord:
    return file_record(session, file_uuid, include_deleted=admin, public_only=not admin)


def visible_detail(session: Session, file_uuid: str, admin: bool) -> tuple[FileRecord, Activity]:
    """``visible_file`` and its activity, in the same one statement."""
    return file_detail(session, file_uuid, include_deleted=admin, public_only=not admin)
