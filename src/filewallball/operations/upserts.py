"""Creating a row that others may create at the same moment, on every database."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from filewallball.models import Base

M = TypeVar("M", bound=Base)


def insert_or_lock(
    session: Session, model: type[M], key: InstrumentedAttribute[Any], values: dict[str, Any]
) -> M:
    """The row whose unique ``key`` has the value in ``values``, inserted from ``values``
    when missing, and locked until the transaction ends either way.

    One upsert both creates and locks: "insert, or update the existing row to itself".
    Reading first and inserting when nothing was found fails with a duplicate key when
    another transaction inserts the same key in between; inserting and then locking the
    row someone else inserted deadlocks on MariaDB (the failed insert leaves a shared
    lock that every waiter then tries to upgrade). The update takes the exclusive lock
    at once, and waits its turn."""
    session.flush()  # the caller's pending changes, before the statement below sees the rows
    dialect = session.get_bind().dialect.name
    statement: sa.Insert
    if dialect in ("mysql", "mariadb"):
        statement = mysql.insert(model).values(values).on_duplicate_key_update({key.key: key})
    elif dialect == "postgresql":
        statement = postgresql.insert(model).values(values)
        statement = statement.on_conflict_do_update(index_elements=[key], set_={key.key: key})
    else:
        statement = sqlite.insert(model).values(values)
        statement = statement.on_conflict_do_update(index_elements=[key], set_={key.key: key})
    session.execute(statement)
    return session.scalars(
        sa.select(model)
        .where(key == values[key.key])
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
