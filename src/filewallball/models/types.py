"""The column types every model shares, defined once, and the limits they set.

MariaDB needs a length on every string and drops sub-second precision unless asked;
SQLite has no time zones and no BIGINT autoincrement. These types hide those
differences so that a value written on one database reads back identically on all three.

Each string a person or a client gives has its length here once: the column type
(``Mapped[Filename]``) and the checks of the operations and the API's fields all read
the same constant. The migrations keep their own literals: they are history.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

MAX_BIGINT = 2**63 - 1  # sizes and ids
UUID_LENGTH = 36
SHA256_LENGTH = 64  # hex digits
FILENAME_LENGTH = 255
# NFKD makes a name longer where it has ligatures or other compatibility characters.
SEARCH_NAME_LENGTH = 2 * FILENAME_LENGTH
FOLDER_LENGTH = 512
EXTENSION_LENGTH = 20
MIME_TYPE_LENGTH = 100
STORAGE_PATH_LENGTH = 500
CATEGORY_NAME_LENGTH = 100
TAG_NAME_LENGTH = 50
DESCRIPTION_LENGTH = 255
IP_ADDRESS_LENGTH = 45  # an IPv6 address with an embedded IPv4 one
USER_AGENT_LENGTH = 500
SETTING_KEY_LENGTH = 100
JOB_HOLDER_LENGTH = 100
JOB_RESULT_LENGTH = 255
USERNAME_LENGTH = 64
DISPLAY_NAME_LENGTH = 255
PASSWORD_HASH_LENGTH = 255  # an argon2id hash in PHC form is about 100
KEY_NAME_LENGTH = 100
KEY_PREFIX_LENGTH = 8
SCOPES_LENGTH = 100  # every scope, space-separated
ROLE_LENGTH = 10

UUIDText = Annotated[str, mapped_column(String(UUID_LENGTH))]
SHA256 = Annotated[str, mapped_column(String(SHA256_LENGTH))]
Filename = Annotated[str, mapped_column(String(FILENAME_LENGTH))]
# Compared in code point order on every database (SQLite's BINARY, PostgreSQL's "C",
# MariaDB's binary collation without PAD SPACE), so that the names with a prefix are
# one range of an index (``operations.search``), whatever the database's collation.
SEARCH_NAME_TYPE = (
    String(SEARCH_NAME_LENGTH)
    .with_variant(postgresql.VARCHAR(SEARCH_NAME_LENGTH, collation="C"), "postgresql")
    .with_variant(
        mysql.VARCHAR(SEARCH_NAME_LENGTH, collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
    )
)
SearchName = Annotated[str, mapped_column(SEARCH_NAME_TYPE)]
# Byte order on PostgreSQL too ("C"), as on SQLite and MariaDB (utf8mb4_bin): a folder
# and everything under it are one range of the index (operations.folders).
Folder = Annotated[
    str,
    mapped_column(
        String(FOLDER_LENGTH).with_variant(
            postgresql.VARCHAR(FOLDER_LENGTH, collation="C"), "postgresql"
        )
    ),
]
Extension = Annotated[str, mapped_column(String(EXTENSION_LENGTH))]
MimeType = Annotated[str, mapped_column(String(MIME_TYPE_LENGTH))]
StoragePath = Annotated[str, mapped_column(String(STORAGE_PATH_LENGTH))]
CategoryName = Annotated[str, mapped_column(String(CATEGORY_NAME_LENGTH))]
TagName = Annotated[str, mapped_column(String(TAG_NAME_LENGTH))]
Description = Annotated[str, mapped_column(String(DESCRIPTION_LENGTH))]
IPAddress = Annotated[str, mapped_column(String(IP_ADDRESS_LENGTH))]
UserAgent = Annotated[str, mapped_column(String(USER_AGENT_LENGTH))]
SettingKey = Annotated[str, mapped_column(String(SETTING_KEY_LENGTH))]
Username = Annotated[str, mapped_column(String(USERNAME_LENGTH))]


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
