"""Views and downloads: record them, count them per file, expire them in batches."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.models import FileDownload, FileInfo, FileView
from filewallball.models.activity import USER_AGENT_LENGTH

__all__ = [
    "Activity",
    "activity_columns",
    "delete_events_before",
    "file_activity",
    "record_download",
    "record_view",
]


@dataclass(frozen=True)
class Activity:
    views: int
    downloads: int
    bytes_served: int
    last_access: datetime | None

    @classmethod
    def of(cls, values: Sequence[Any]) -> Activity:
        """From the values of ``activity_columns``."""
        views, last_view, downloads, served, last_download = values
        seen = [moment for moment in (last_view, last_download) if moment is not None]
        return cls(int(views), int(downloads), int(served), max(seen, default=None))


def _client(client_ip: str | None, user_agent: str | None) -> dict[str, str | None]:
    """An address only if it is one; a user agent cut to fit. Logging never fails a request."""
    try:
        address = str(ipaddress.ip_address(client_ip)) if client_ip else None
    except ValueError:
        address = None
    return {
        "client_ip": address,
        "user_agent": user_agent[:USER_AGENT_LENGTH] if user_agent else None,
    }


def record_view(
    session: Session, file_id: int, *, client_ip: str | None = None, user_agent: str | None = None
) -> FileView:
    """A view of the file with this id (what a served response knows; no need to load
    the file again)."""
    view = FileView(file_id=file_id, **_client(client_ip, user_agent))
    session.add(view)
    session.flush()
    return view


def record_download(
    session: Session,
    file_id: int,
    *,
    bytes_served: int,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> FileDownload:
    download = FileDownload(
        file_id=file_id, bytes_served=max(bytes_served, 0), **_client(client_ip, user_agent)
    )
    session.add(download)
    session.flush()
    return download


def activity_columns(file_id: Any) -> list[sa.ScalarSelect[Any]]:
    """The figures of ``Activity`` as columns about the file ``file_id`` (a parameter, or
    the id column of a statement reading files), each read from the events' file_id index.
    Core columns: an ORM attribute would send the whole statement through the ORM."""
    views, downloads = FileView.__table__.c, FileDownload.__table__.c
    return [
        sa.select(sa.func.count(views.id)).where(views.file_id == file_id).scalar_subquery(),
        sa.select(sa.func.max(views.created_at)).where(views.file_id == file_id).scalar_subquery(),
        sa.select(sa.func.count(downloads.id))
        .where(downloads.file_id == file_id)
        .scalar_subquery(),
        sa.select(sa.func.coalesce(sa.func.sum(downloads.bytes_served), 0))
        .where(downloads.file_id == file_id)
        .scalar_subquery(),
        sa.select(sa.func.max(downloads.created_at))
        .where(downloads.file_id == file_id)
        .scalar_subquery(),
    ]


# Built once: on a file's metadata, building it cost as much as running it.
_ACTIVITY = sa.select(*activity_columns(sa.bindparam("file_id")))


def file_activity(session: Session, file: FileInfo) -> Activity:
    """One statement (one round trip)."""
    return Activity.of(session.execute(_ACTIVITY, {"file_id": file.id}).one())


def delete_events_before(session: Session, cutoff: datetime, *, limit: int = 5000) -> int:
    """Delete at most ``limit`` views and ``limit`` downloads older than ``cutoff``; returns
    how many went. Call it until it returns 0, committing in between, so that no transaction
    grows large."""
    deleted = 0
    for model in (FileView, FileDownload):
        ids = session.scalars(
            sa.select(model.id).where(model.created_at < cutoff).limit(limit)
        ).all()
        if ids:
            result = session.execute(sa.delete(model).where(model.id.in_(ids)))
            deleted += cast("sa.CursorResult[Any]", result).rowcount
    return deleted
