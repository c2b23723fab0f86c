"""Folders: the subfolders of a folder with what they hold, and moving a folder.

A folder exists while a file is in it or below it; there is no table of folders. Every
question about "X and everything under it" is one range of an index on ``files.folder``:
``X`` itself, then from ``X/`` up to ``X0`` (``0`` follows ``/``). The column compares
byte-wise on every database, so the range holds exactly the folders below ``X``, even
under MariaDB's PAD SPACE collation (no segment ends with a space, and every character
a segment may begin with sorts after the space the shorter side is padded with).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from filewallball.errors import InvalidInput, NotFound
from filewallball.filenames import check_folder
from filewallball.models import FileInfo
from filewallball.operations.records import public_or_owned

_FILE = FileInfo.__table__.c


@dataclass(frozen=True)
class Subtree:
    """The bound parameters of ``in_subtree`` for a folder."""

    folder: str

    @property
    def parameters(self) -> dict[str, str]:
        return {
            "subtree": self.folder,
            "subtree_below": f"{self.folder}/",
            "subtree_beyond": f"{self.folder}0",
        }


def in_subtree(column: Any = _FILE.folder) -> sa.ColumnElement[bool]:
    """``column`` is the folder of ``Subtree.parameters`` or one below it."""
    return sa.or_(column == sa.bindparam("subtree"), _below(column))


def _below(column: Any = _FILE.folder) -> sa.ColumnElement[bool]:
    """Strictly below a folder other than the top."""
    return sa.and_(column >= sa.bindparam("subtree_below"), column < sa.bindparam("subtree_beyond"))


class FolderSummary(BaseModel):
    """A subfolder and the live files in it and below it."""

    path: str
    name: str
    files: int
    bytes: int


_FOLDER_SIZES = (
    sa.select(_FILE.folder, sa.func.count(), sa.func.coalesce(sa.func.sum(_FILE.file_size), 0))
    .where(_FILE.is_deleted == sa.false())
    .group_by(_FILE.folder)
)


def list_folders(
    session: Session, parent: str, *, public_only: bool = False, owner_id: int | None = None
) -> list[FolderSummary]:
    """The direct subfolders of ``parent`` (``""``: the top), by name, each with the
    number and bytes of live files in it and everything under it: with ``public_only``,
    of the public files and ``owner_id``'s own only."""
    parent = check_folder(parent)
    statement = _FOLDER_SIZES.where(_FILE.folder != "")
    if parent:
        statement = statement.where(_below())
    if public_only:
        statement = statement.where(
            _FILE.is_public == sa.true() if owner_id is None else public_or_owned(owner_id)
        )
    prefix = f"{parent}/" if parent else ""
    totals: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for folder, files, size in session.execute(statement, Subtree(parent).parameters):
        name = folder[len(prefix) :].split("/", 1)[0]
        totals[name][0] += files
        totals[name][1] += size
    return [
        FolderSummary(path=prefix + name, name=name, files=files, bytes=size)
        for name, (files, size) in sorted(totals.items())
    ]


def move_folder(session: Session, source: str, target: str, *, owner_id: int | None = None) -> int:
    """Give folder ``source`` and everything under it the path ``target`` (files of
    ``source/a`` go to ``target/a``), deleted files too, so that a restore finds its
    folder; one UPDATE. With ``owner_id``, that user's files only: a folder is a path
    the files share, and a member moves only what is theirs. The number of files moved."""
    source, target = check_folder(source), check_folder(target)
    if not source:
        raise InvalidInput("the top folder cannot be moved; move the folders in it")
    if target == source or target.startswith(f"{source}/"):
        raise InvalidInput(f"folder {source!r} cannot be moved into itself ({target!r})")
    subtree = Subtree(source)
    moving = in_subtree() if owner_id is None else sa.and_(in_subtree(), _FILE.owner_id == owner_id)
    folders = session.scalars(
        sa.select(_FILE.folder).where(moving).distinct(), subtree.parameters
    ).all()
    if not folders:
        raise NotFound(f"no files in folder {source!r}")
    for folder in folders:
        check_folder(_moved(folder, source, target))  # too long or too deep, named
    rest = sa.func.substr(_FILE.folder, len(source) + (1 if target else 2))
    moved = sa.case((_FILE.folder == source, target), else_=sa.literal(target) + rest)
    result = session.execute(
        sa.update(FileInfo).where(moving).values(folder=moved),
        subtree.parameters,
        execution_options={"synchronize_session": False},
    )
    session.expire_all()
    return int(result.rowcount)  # type: ignore[attr-defined]


def _moved(folder: str, source: str, target: str) -> str:
    rest = folder[len(source) :]
    return target + rest if target else rest.removeprefix("/")
