"""People and their credentials (SPEC section 8): users with a role, and their API keys.

Nobody is ever deleted: a user leaves by being deactivated, so that the files, keys and
events that name them keep a meaning.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from filewallball.models.base import Base, CreatedAt, Timestamps, one_of
from filewallball.models.types import (
    DISPLAY_NAME_LENGTH,
    KEY_NAME_LENGTH,
    KEY_PREFIX_LENGTH,
    PASSWORD_HASH_LENGTH,
    ROLE_LENGTH,
    SCOPES_LENGTH,
    SHA256,
    Identifier,
    IntPK,
    Username,
)

ROLES = ("admin", "member")


class User(Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[IntPK]
    # Stored lowercased, so that the unique index is case-insensitive on every database.
    username: Mapped[Username] = mapped_column(unique=True)
    display_name: Mapped[str | None] = mapped_column(String(DISPLAY_NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(ROLE_LENGTH), default="member")
    # Null: no password yet, so no login; API keys still work.
    password_hash: Mapped[str | None] = mapped_column(String(PASSWORD_HASH_LENGTH))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Null: unlimited.
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    quota_files: Mapped[int | None] = mapped_column(BigInteger)

    keys: Mapped[list[ApiKey]] = relationship(back_populates="user")

    __table_args__ = (
        one_of("role", ROLES),
        CheckConstraint("quota_bytes >= 0", name="quota_bytes_non_negative"),
        CheckConstraint("quota_files >= 0", name="quota_files_non_negative"),
    )

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiKey(CreatedAt, Base):
    """A key is ``fwb_<prefix>_<secret>``: the prefix finds the row, the secret's hash
    proves the holder."""

    __tablename__ = "api_keys"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(Identifier, ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(KEY_NAME_LENGTH))
    prefix: Mapped[str] = mapped_column(String(KEY_PREFIX_LENGTH), unique=True)
    secret_hash: Mapped[SHA256]
    scopes: Mapped[str] = mapped_column(String(SCOPES_LENGTH))  # space-separated
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="keys")

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix} {self.name!r}>"
