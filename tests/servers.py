"""The database servers the suite runs on, and throwaway databases on them.

Each test run gets fresh databases named ``fwb_test_<random>``; nothing touches the
server's existing databases, and everything made is dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from filewallball.models import Base
from filewallball.settings import Settings

if TYPE_CHECKING:  # what pytest.param returns; pytest does not export its name
    from _pytest.mark import ParameterSet

DIALECTS = ("sqlite", "mariadb", "postgresql")
ADMIN_URLS = {
    "mariadb": os.environ.get(
        "FILEWALLBALL_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
    "postgresql": os.environ.get(
        "FILEWALLBALL_TEST_POSTGRESQL_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
    ),
}
IN_CI = os.environ.get("CI", "").lower() == "true"


def on_database(dialect: str, *values: object, id: str | None = None) -> ParameterSet:
    """A parametrisation value that runs on ``dialect`` and carries its marker, so that
    ``-m mariadb`` selects it; ``values`` follow the dialect for the test's other
    arguments."""
    return pytest.param(dialect, *values, marks=getattr(pytest.mark, dialect), id=id or dialect)


def only_on(*dialects: str) -> pytest.MarkDecorator:
    """Run a test that uses the ``server`` fixture on these databases alone: a case that
    exists only there, or whose answer comes before any database work. A parametrisation
    rather than a skip, so every test collected runs."""
    return pytest.mark.parametrize("server", [on_database(d) for d in dialects], indirect=True)


# For the HTTP tests, which run on SQLite unless they say otherwise (tests/api/conftest.py):
# a case whose outcome the database decides (locks, collation, column lengths, recovery).
every_database = only_on(*DIALECTS)


@dataclass
class Server:
    """One database server (or SQLite files in a directory) that can make scratch databases."""

    dialect: str
    workdir: Path

    def create_database(self) -> URL:
        name = f"fwb_test_{secrets.token_hex(4)}"
        if self.dialect == "sqlite":
            return URL.create("sqlite", database=str(self.workdir / f"{name}.db"))
        with self._admin() as connection:
            if self.dialect == "mariadb":
                connection.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            else:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
        return make_url(ADMIN_URLS[self.dialect]).set(database=name)

    def drop_database(self, url: URL) -> None:
        if self.dialect == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{url.database}{suffix}").unlink(missing_ok=True)
            return
        with self._admin() as connection:
            force = " WITH (FORCE)" if self.dialect == "postgresql" else ""
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.database}{force}")

    def _admin(self) -> sa.Connection:
        engine = sa.create_engine(ADMIN_URLS[self.dialect], poolclass=sa.NullPool)
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _connect_error(engine: sa.Engine) -> OperationalError | None:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except OperationalError as error:
        return error
    return None


def require_server(dialect: str) -> None:
    """Skip (or, in CI, fail loudly) when a database server cannot be reached."""
    if dialect == "sqlite":
        return
    url = make_url(ADMIN_URLS[dialect])
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    # In CI a server that scripts/services just started may still be opening its doors.
    deadline = time.monotonic() + (30 if IN_CI else 0)
    while (failure := _connect_error(engine)) is not None and time.monotonic() < deadline:
        time.sleep(1)
    if failure is None:
        return
    reason = (
        f"{dialect} server at {url.render_as_string(hide_password=True)} unreachable: "
        f"{str(failure.orig).splitlines()[0]}"
    )
    if IN_CI:
        pytest.fail(f"CI=true requires every database: {reason}", pytrace=False)
    pytest.skip(reason)


def settings_for(url: URL, **overrides: Any) -> Settings:
    return Settings(database_url=url.render_as_string(hide_password=False), **overrides)


def drop_index(connection: sa.Connection, table: str, name: str) -> None:
    """Drop one of the models' indexes behind Alembic's back, to make drift."""
    [index] = [i for i in Base.metadata.tables[table].indexes if i.name == name]
    connection.execute(sa.schema.DropIndex(index))
