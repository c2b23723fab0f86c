"""Process configuration, read once from the environment (prefix ``FILEWALLBALL_``) or the
``.env`` file of the working directory (where the user started the command).

These are the settings an operator sets before start-up. Settings that change at run
time (upload caps, retention) live in the ``system_settings`` table instead. The data
directory defaults to the platform's per-user one, so a command finds the same
installation wherever it is run from.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["ENV_FILE", "Settings", "default_data_dir", "get_settings"]

ENV_FILE = ".env"

# The drivers FileWallBall installs, per database, the first being the one to name; and
# the one SQLAlchemy picks when a URL names none (MySQLdb is not installed).
_DRIVERS = {
    "sqlite": ("pysqlite", "aiosqlite"),
    "mysql": ("pymysql", "asyncmy"),
    "mariadb": ("pymysql", "asyncmy"),
    "postgresql": ("psycopg",),
}
_DEFAULT_DRIVERS = {"sqlite": "pysqlite", "mysql": "mysqldb", "mariadb": "mysqldb"}
_URL_FORMS = (
    "sqlite:///PATH, mysql+pymysql://USER:PASSWORD@HOST/DB or postgresql+psycopg://USER@HOST/DB"
)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/filewallball`` (``~/.local/share/filewallball``) on Linux, the
    platform's equivalent elsewhere; read when settings are made, so tests can move it."""
    return Path(platformdirs.user_data_dir("filewallball", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FILEWALLBALL_",
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(default_factory=default_data_dir)
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

    # Where blobs live; the S3 client reads credentials the standard AWS way.
    storage_url: str | None = Field(
        default=None,
        description="file:///absolute/path or s3://bucket/optional/prefix; unset: blobs/ "
        "in data_dir.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="The S3 endpoint; unset: AWS_ENDPOINT_URL, else AWS."
    )
    s3_region: str | None = Field(
        default=None, description="Unset: AWS_REGION or AWS_DEFAULT_REGION, else us-east-1."
    )
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"

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

    @field_validator(
        "admin_token", "metrics_token", "public_url", "storage_url", "s3_endpoint_url",
        "s3_region", mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """``FILEWALLBALL_ADMIN_TOKEN=`` means no token, not an empty one anyone could send."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _a_url_we_can_open(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError(f"is not a database URL ({_URL_FORMS})") from None
        named, _, driver = url.drivername.partition("+")
        backend = "postgresql" if named == "postgres" else named
        if backend not in _DRIVERS:
            raise ValueError(
                f"FileWallBall works with SQLite, MariaDB and PostgreSQL: {_URL_FORMS}"
            )
        drivers = _DRIVERS[backend]
        if (driver or _DEFAULT_DRIVERS.get(backend, "psycopg")) not in drivers or backend != named:
            raise ValueError(f"use {backend}+{drivers[0]}:// instead of {url.drivername}://")
        return value.strip()

    @field_validator("storage_url")
    @classmethod
    def _a_store_we_can_open(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if (
            parts.scheme == "file"
            and parts.path.startswith("/")
            and parts.netloc in ("", "localhost")
        ):
            return value.strip()
        if parts.scheme == "s3" and parts.hostname and not parts.query:
            return value.strip().rstrip("/")
        raise ValueError(f"{value!r} is neither file:///absolute/path nor s3://bucket/prefix")

    @property
    def storage(self) -> SplitResult:
        """The blob store's URL in parts (``file:`` with the default path when unset)."""
        return urlsplit(self.storage_url or (self.data_dir.resolve() / "blobs").as_uri())

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
    def env_file_read(self) -> Path | None:
        """The ``.env`` these settings were read from, if there was one."""
        path = Path.cwd() / ENV_FILE
        return path if path.is_file() else None

    @property
    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database (None for a server, or SQLite in memory)."""
        url = self.sqlalchemy_url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).resolve()

    @property
    def sqlalchemy_url(self) -> URL:
        if self.database_url:
            return make_url(self.database_url)
        return URL.create("sqlite", database=str(self.data_dir.resolve() / "filewallball.db"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
