"""Process configuration, read once from the environment (prefix ``FILEWALLBALL_``) or ``.env``.

These are the settings an operator sets before start-up. Settings that change at run
time (upload caps, retention) live in the ``system_settings`` table instead.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FILEWALLBALL_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Path("./filewallball-data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means a SQLite file inside data_dir.",
    )
    admin_token: SecretStr | None = None
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)

    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=30, ge=0)
    pool_recycle: int = Field(default=3600, description="Seconds; -1 disables recycling.")
    pool_pre_ping: bool = True
    pool_timeout: float = Field(default=30.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)

    # Connections, per worker process (``filewallball serve``).
    header_timeout_seconds: float = Field(
        default=30.0,
        ge=0.001,
        le=60.0,
        description="A request's headers must arrive within this, and an idle kept-alive "
        "connection is closed after it.",
    )
    max_connections: int = Field(
        default=512,
        ge=1,
        description="Open connections per worker; one more waits until one closes.",
    )

    @field_validator("admin_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        """``FILEWALLBALL_ADMIN_TOKEN=`` means no token, not an empty one anyone could send."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def sqlalchemy_url(self) -> URL:
        if self.database_url:
            return make_url(self.database_url)
        return URL.create("sqlite", database=str(self.data_dir.resolve() / "filewallball.db"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
