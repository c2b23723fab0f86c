"""What a caller may see: the admin sees everything; anyone else sees live public files.

A file someone may not see is answered exactly like one that does not exist (404), so
that neither private nor deleted files can be discovered by probing UUIDs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import LoaderOption

from filewallball.errors import NotFound
from filewallball.models import FileInfo
from filewallball.operations.files import ONE_FILE, get_file

__all__ = ["visible_file"]


def visible_file(
    session: Session,
    file_uuid: str,
    admin: bool,
    *,
    options: Sequence[LoaderOption] = ONE_FILE,
) -> FileInfo:
    file = get_file(session, file_uuid, include_deleted=admin, options=options)
    if not admin and not file.is_public:
        raise NotFound(f"no file {file_uuid}")
    return file
