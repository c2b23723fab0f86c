"""Process configuration, read once from the environment (prefix ``FILEWALLBALL_``) or ``.env``.

These are the settings an operator sets before start-up. Settings that change at run
time (upload caps, retention) live in the ``system_settings`` table instead.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from urllib.parse import urlsplit

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
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics, besides the admin token."
    )
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    public_url: str | None = Field(
        default=None, description="The base URL of absolute links; its host is always allowed."
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Hosts the service answers to (Host header); unset: loopback names "
        "in loopback mode, any host when a token is set.",
    )
    cors_origins: list[str] = Field(default_factory=list)

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

    @field_validator("admin_token", "metrics_token", "public_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """``FILEWALLBALL_ADMIN_TOKEN=`` means no token, not an empty one anyone could send."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("public_url")
    @classmethod
    def _an_http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http:// or https:// URL")
            value = value.strip().rstrip("/")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_patterns(cls, patterns: list[str] | None) -> list[str] | None:
        """Host names without a port: ``*``, ``*.example.com``, ``example.com``,
        ``192.0.2.7`` or ``[2001:db8::7]``; matched case-insensitively."""
        if patterns is None:
            return None
        cleaned = [pattern.strip().lower().rstrip(".") for pattern in patterns]
        for pattern in cleaned:
            if pattern == "*":
                continue
            name = pattern.removeprefix("*.")
            bracketed = name.startswith("[") and name.endswith("]")
            if not name or "*" in name or "/" in name or (":" in name and not bracketed):
                raise ValueError(f"{pattern!r} is not a host name, *, or *.domain (no port)")
        return cleaned

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path.strip("/")
                or parts.query
            ):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return [origin.strip().rstrip("/").lower() for origin in origins]

    @property
    def loopback_mode(self) -> bool:
        """No admin token: every local caller is the admin (SPEC section 10 applies)."""
        return self.admin_token is None

    @property
    def sqlalchemy_url(self) -> URL:
        if self.database_url:
            return make_url(self.database_url)
        return URL.create("sqlite", database=str(self.data_dir.resolve() / "filewallball.db"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
