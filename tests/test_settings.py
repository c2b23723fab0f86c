"""Process settings: environment (prefix FILEWALLBALL_), .env file, and defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from filewallball.settings import Settings


def test_defaults(tmp_path: Path) -> None:
    settings = Settings()
    data = tmp_path / "xdg-data" / "filewallball"  # $XDG_DATA_HOME/filewallball
    assert settings.data_dir == data
    assert str(settings.sqlalchemy_url) == f"sqlite:///{data / 'filewallball.db'}"
    assert settings.sqlite_path == data / "filewallball.db"
    assert (
        settings.pool_size,
        settings.max_overflow,
        settings.pool_recycle,
        settings.pool_pre_ping,
    ) == (
        20,
        30,
        3600,
        True,
    )
    assert settings.admin_token is None


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILEWALLBALL_DATABASE_URL", "mysql+pymysql://app:s3cret@db/filewallball_db")
    monkeypatch.setenv("FILEWALLBALL_ADMIN_TOKEN", "t0ken")
    monkeypatch.setenv("FILEWALLBALL_TRUSTED_PROXIES", '["10.0.0.0/8", "::1/128"]')
    settings = Settings()
    assert settings.sqlalchemy_url.drivername == "mysql+pymysql"
    assert settings.sqlalchemy_url.database == "filewallball_db"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "t0ken"
    assert "t0ken" not in repr(settings)
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]


def test_the_data_directory_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Settings().sqlalchemy_url
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Settings().sqlalchemy_url == first


def test_dotenv_file(tmp_path: Path) -> None:
    assert Settings().env_file_read is None
    (tmp_path / ".env").write_text("FILEWALLBALL_DATA_DIR=/srv/files\nFILEWALLBALL_POOL_SIZE=4\n")
    settings = Settings()
    assert settings.env_file_read == tmp_path / ".env"
    assert settings.data_dir == Path("/srv/files")
    assert settings.pool_size == 4
    assert settings.sqlalchemy_url.database == "/srv/files/filewallball.db"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FILEWALLBALL_POOL_SIZE", "0"),
        ("FILEWALLBALL_MAX_OVERFLOW", "-1"),
        ("FILEWALLBALL_POOL_SIZE", "many"),
    ],
)
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("FILEWALLBALL_").lower()):
        Settings()


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_admin_token_means_none(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("FILEWALLBALL_ADMIN_TOKEN", blank)
    assert Settings().admin_token is None


def test_hosts_origins_and_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILEWALLBALL_ALLOWED_HOSTS", '["Files.Example.com.", "*.example.org", "*"]')
    monkeypatch.setenv("FILEWALLBALL_CORS_ORIGINS", '["https://App.example.com/"]')
    monkeypatch.setenv("FILEWALLBALL_PUBLIC_URL", "https://files.example.com/base/")
    monkeypatch.setenv("FILEWALLBALL_METRICS_TOKEN", " ")
    settings = Settings()
    assert settings.allowed_hosts == ["files.example.com", "*.example.org", "*"]
    assert settings.cors_origins == ["https://app.example.com"]
    assert settings.public_url == "https://files.example.com/base"
    assert settings.metrics_token is None
    assert Settings(allowed_hosts=None).allowed_hosts is None  # the mode's default applies


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FILEWALLBALL_ALLOWED_HOSTS", '["example.com:8000"]'),
        ("FILEWALLBALL_ALLOWED_HOSTS", '["ex*ample.com"]'),
        ("FILEWALLBALL_ALLOWED_HOSTS", '["*example.com"]'),
        ("FILEWALLBALL_ALLOWED_HOSTS", '["example.com/path"]'),
        ("FILEWALLBALL_CORS_ORIGINS", '["https://app.example.com/path"]'),
        ("FILEWALLBALL_CORS_ORIGINS", '["app.example.com"]'),
        ("FILEWALLBALL_PUBLIC_URL", "files.example.com"),
        ("FILEWALLBALL_PUBLIC_URL", "ftp://files.example.com"),
    ],
)
def test_bad_hosts_and_origins_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("FILEWALLBALL_").lower()):
        Settings()


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("mysql://root@db/filewallball_db", "use mysql+pymysql:// instead of mysql://"),
        ("mariadb://root@db/filewallball_db", "use mariadb+pymysql://"),
        ("postgresql+psycopg2://root@db/filewallball", "use postgresql+psycopg://"),
        ("postgres://root@db/filewallball", "use postgresql+psycopg://"),
        ("oracle://root@db/filewallball", "works with SQLite, MariaDB and PostgreSQL"),
        ("not a url", "is not a database URL"),
    ],
)
def test_a_database_url_without_our_driver_says_which_to_use(
    monkeypatch: pytest.MonkeyPatch, url: str, advice: str
) -> None:
    monkeypatch.setenv("FILEWALLBALL_DATABASE_URL", url)
    with pytest.raises(ValidationError, match=re.escape(advice)):
        Settings()


@pytest.mark.parametrize(
    "url", ["postgresql://root@db/x", "mariadb+pymysql://root@db/x", "sqlite+aiosqlite:///x.db"]
)
def test_urls_with_an_installed_driver_are_taken(url: str) -> None:
    assert Settings(database_url=url).database_url == url


def test_a_sqlite_url_in_memory_has_no_file() -> None:
    assert Settings(database_url="sqlite://").sqlite_path is None
    assert Settings(database_url="mysql+pymysql://root@db/x").sqlite_path is None
