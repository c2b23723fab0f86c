"""Views and downloads: record them, count them per file, expire them in batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from filewallball.models import FileDownload, FileInfo, FileView, utcnow
from filewallball.operations.clients import ANONYMOUS, Client


class Activity(BaseModel):
    """A file's views and downloads, the bytes they served, and its last access."""

    model_config = ConfigDict(frozen=True)

    views: int
    downloads: int
    bytes_served: int
    last_access: datetime | None

    @classmethod
    def of(cls, row: sa.RowMapping) -> Activity:
        """From a row with the columns of ``activity_columns``, by their names."""
        seen = [row[name] for name in ("last_view", "last_download") if row[name] is not None]
        return cls(
            views=int(row["views"]),
            downloads=int(row["downloads"]),
            bytes_served=int(row["bytes_served"]),
            last_access=max(seen, default=None),
        )


@dataclass(frozen=True)
class Event:
    """A view (``bytes_served`` None) or a download of the file with this id, made at
    ``at`` (the answer's time, not the time the event is written)."""

    file_id: int
    client: Client = ANONYMOUS
    bytes_served: int | None = None
    at: datetime = field(default_factory=utcnow)


def record_view(session: Session, file_id: int, client: Client = ANONYMOUS) -> None:
    record_events(session, [Event(file_id, client)])


def record_download(
    session: Session, file_id: int, *, bytes_served: int, client: Client = ANONYMOUS
) -> None:
    record_events(session, [Event(file_id, client, max(bytes_served, 0))])


def record_events(session: Session, events: Iterable[Event]) -> None:
    """Insert the events, each from its file's row: an event of a file purged meanwhile
    has no row to come from and is left out, without a foreign-key error that would
    fail the others. The row is read with a key-share lock, so a purge cannot remove it
    between the read and the insert's foreign-key check. One statement per kind, sent
    with executemany."""
    views: list[dict[str, Any]] = []
    downloads: list[dict[str, Any]] = []
    for event in events:
        values = {
            "event_file_id": event.file_id,
            "client_ip": event.client.ip,
            "user_agent": event.client.user_agent,
            "created_at": event.at,
        }
        if event.bytes_served is None:
            views.append(values)
        else:
            downloads.append({**values, "bytes_served": max(event.bytes_served, 0)})
    if views:
        session.execute(_INSERT_VIEW, views)
    if downloads:
        session.execute(_INSERT_DOWNLOAD, downloads)


def _insert_from_file(model: type[FileView | FileDownload], *columns: str) -> sa.Insert:
    events, files = cast("sa.Table", model.__table__), FileInfo.__table__
    values = [sa.bindparam(name, type_=events.c[name].type) for name in columns]
    source = (
        sa.select(files.c.id, *values)
        .where(files.c.id == sa.bindparam("event_file_id"))
        .with_for_update(read=True, key_share=True)
    )
    return sa.insert(events).from_select(["file_id", *columns], source)


_EVENT_COLUMNS = ("client_ip", "user_agent", "created_at")
_INSERT_VIEW = _insert_from_file(FileView, *_EVENT_COLUMNS)
_INSERT_DOWNLOAD = _insert_from_file(FileDownload, *_EVENT_COLUMNS, "bytes_served")


def activity_columns(file_id: Any) -> list[sa.Label[Any]]:
    """The figures of ``Activity`` as columns about the file ``file_id`` (a parameter, or
    the id column of a statement reading files), each read from the events' file_id index.
    Core columns: an ORM attribute would send the whole statement through the ORM."""
    views, downloads = FileView.__table__.c, FileDownload.__table__.c

    def figure(name: str, events: Any, aggregate: sa.ColumnElement[Any]) -> sa.Label[Any]:
        return sa.select(aggregate).where(events.file_id == file_id).scalar_subquery().label(name)

    return [
        figure("views", views, sa.func.count(views.id)),
        figure("last_view", views, sa.func.max(views.created_at)),
        figure("downloads", downloads, sa.func.count(downloads.id)),
        figure("bytes_served", downloads, sa.func.coalesce(sa.func.sum(downloads.bytes_served), 0)),
        figure("last_download", downloads, sa.func.max(downloads.created_at)),
    ]


# Built once: on a file's metadata, building it cost as much as running it.
_ACTIVITY = sa.select(*activity_columns(sa.bindparam("file_id")))


def file_activity(session: Session, file: FileInfo) -> Activity:
    """One statement (one round trip)."""
    return Activity.of(session.execute(_ACTIVITY, {"file_id": file.id}).one()._mapping)


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
