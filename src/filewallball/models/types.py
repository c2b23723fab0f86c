"""The column types every model shares, defined once.

MariaDB needs a length on every string and drops sub-second precision unless asked;
SQLite has no time zones and no BIGINT autoincrement. These types hide those
differences so that a value written on one database reads back identically on all three.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["Identifier", "IntPK", "UTCDateTime", "generate_file_uuid", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def generate_file_uuid() -> str:
    return str(uuid.uuid4())


# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
Identifier = BigInteger().with_variant(Integer(), "sqlite")
IntPK = Annotated[int, mapped_column(Identifier, primary_key=True, autoincrement=True)]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, whatever the database can store.

    PostgreSQL keeps ``timestamptz``; MariaDB (``DATETIME(6)``) and SQLite store naive UTC
    and the zone is put back on the way out. Naive input is refused rather than guessed:
    a guessed zone is how timestamps silently move by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
