"""What a command says, in one line, when the configuration or the database is wrong:
the problem and what to do about it, instead of a traceback (exit code 1).

Database errors are recognised by the drivers' own numbers and words (PyMySQL's error
codes, libpq's messages, sqlite3's), so each says which setting to fix.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, NoSuchModuleError

URL_SETTING = "FILEWALLBALL_DATABASE_URL"
# MariaDB's error numbers (PyMySQL passes them on as the first argument).
ACCESS_DENIED, DATABASE_DENIED, UNKNOWN_DATABASE = 1045, 1044, 1049
CANNOT_CONNECT, UNKNOWN_HOST = 2003, 2005


def one_line(error: BaseException, url: URL | None) -> str | None:
    """The message for ``error``, or None for an error that is a bug (keep its traceback).
    ``url``: the configured database, when the settings could be read."""
    if isinstance(error, (ValidationError, SettingsError)):
        return _settings_problem(error)
    if isinstance(error, DBAPIError):
        return database_problem(error, url)
    if isinstance(error, NoSuchModuleError):
        return (
            f"{URL_SETTING}: {error}; use sqlite:///PATH, mysql+pymysql://, mariadb+pymysql:// "
            "or postgresql+psycopg://"
        )
    from alembic.util.exc import CommandError  # only when something failed: see cli.init

    if isinstance(error, CommandError):
        return str(error)
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return None


def _settings_problem(error: ValidationError | SettingsError) -> str:
    if isinstance(error, SettingsError):  # a list or dict setting that is not JSON
        field = re.search(r'field "(\w+)"', str(error))
        name = f"FILEWALLBALL_{field[1].upper()}" if field else "a setting"
        return f'{name}: not JSON; write a list as ["first", "second"]'
    return "; ".join(
        f"FILEWALLBALL_{str(detail['loc'][0]).upper()}: "
        + str(detail["msg"]).removeprefix("Value error, ")
        for detail in error.errors()
    )


def database_problem(error: DBAPIError, url: URL | None) -> str:
    """What is wrong with the database connection, and what to do."""
    original = error.orig if error.orig is not None else error
    code = original.args[0] if original.args and isinstance(original.args[0], int) else None
    said = original.args[1] if code is not None and len(original.args) > 1 else original
    first_line = (str(said).strip().splitlines() or [type(original).__name__])[0]
    where = _server(url)
    text = first_line.lower()
    if code == ACCESS_DENIED or any(
        words in text for words in ("password authentication failed", "role", "no password")
    ):
        return (
            f"{where} refused the login ({first_line}): "
            f"check the user and password in {URL_SETTING}"
        )
    if code == UNKNOWN_DATABASE or ("database" in text and "does not exist" in text):
        name = url.database if url is not None else "..."
        charset = " CHARACTER SET utf8mb4" if code == UNKNOWN_DATABASE else ""
        return (
            f"{where} has no database {name!r}: create the database first: "
            f"CREATE DATABASE {name}{charset}; then run filewallball init"
        )
    if code == DATABASE_DENIED or "permission denied for database" in text:
        return f"{where}: {first_line}: grant the user of {URL_SETTING} access to the database"
    if code in (CANNOT_CONNECT, UNKNOWN_HOST) or any(
        words in text
        for words in ("connection refused", "could not translate host", "name or service")
    ):
        return f"cannot reach {where} ({first_line}): is it running, and is {URL_SETTING} right?"
    if "unable to open database file" in text and url is not None:
        return f"cannot open the SQLite database {url.database}: {first_line}"
    return f"database error: {first_line}"


def _server(url: URL | None) -> str:
    if url is None or url.host is None:
        return "the database"
    return f"the database server at {url.host}" + (f":{url.port}" if url.port else "")


def missing_database(path: Path) -> str:
    return (
        f"no database at {path}: make one with `filewallball init` "
        f"(or point {URL_SETTING} or FILEWALLBALL_DATA_DIR at an existing installation)"
    )
