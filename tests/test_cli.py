"""``filewallball`` on the command line: the ``db`` group and ``init``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL, Engine

from filewallball import migrations
from filewallball.cli import main
from tests.servers import drop_index

REPOSITORY = Path(__file__).resolve().parents[1]
HEAD = ScriptDirectory.from_config(migrations.alembic_config()).get_current_head()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def configured(scratch_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An empty database that the CLI is configured to use, and an engine to look at it."""
    monkeypatch.setenv(
        "FILEWALLBALL_DATABASE_URL", scratch_url.render_as_string(hide_password=False)
    )
    engine = sa.create_engine(scratch_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def test_schema_life_cycle(configured: Engine) -> None:
    assert run("db", "current").stdout.strip() == ""
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0
    assert "Running upgrade  -> 0001, Initial schema" in upgraded.output
    assert run("db", "current").stdout.strip() == f"{HEAD} (head)"

    checked = run("db", "check")
    assert checked.exit_code == 0
    assert "No drift" in checked.output

    history = run("db", "history").stdout
    assert f"{HEAD} (head) (current)" in history
    assert "0001 -> 0002, Default categories" in history
    assert "<base> -> 0001, Initial schema" in history

    assert run("db", "downgrade", "0001").exit_code == 0
    assert run("db", "current").stdout.strip() == "0001"
    assert run("db", "downgrade", "base").exit_code == 0
    assert sa.inspect(configured).get_table_names() == ["alembic_version"]


def test_check_fails_on_drift(configured: Engine) -> None:
    run("db", "upgrade")
    with configured.begin() as connection:
        connection.execute(sa.text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    result = CliRunner().invoke(main, ["db", "check"])
    assert result.exit_code == 1
    assert "stray" in result.output


@pytest.mark.parametrize("dialect", ["mariadb", "postgresql", "sqlite"])
def test_offline_sql_needs_no_database(dialect: str, tmp_path: Path) -> None:
    result = run("db", "sql", "--dialect", dialect)
    assert result.exit_code == 0
    assert "CREATE VIEW file_statistics AS SELECT" in result.output
    composite = (
        "ix_files_extension_live_created ON files (file_extension, is_deleted, created_at, id)"
    )
    assert f"CREATE INDEX {composite}" in result.output
    assert not (tmp_path / "xdg-data").exists()  # the default data directory


def test_offline_sql_for_mariadb_is_mariadb_sql() -> None:
    output = run("db", "sql", "--dialect", "mariadb").output
    assert "DATETIME(6)" in output
    assert "ENGINE=InnoDB" in output
    assert "CHARSET=utf8mb4" in output
    assert "ON DUPLICATE KEY UPDATE extension = file_extensions.extension" in output


def test_revision_autogenerates_from_the_models(
    configured: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", copy)
    run("db", "upgrade")
    with configured.begin() as connection:
        drop_index(connection, "files", "ix_files_file_hash")
    result = run("db", "revision", "-m", "restore hash index")
    assert result.exit_code == 0
    [written] = copy.glob("versions/*_restore_hash_index.py")
    text = written.read_text()
    assert f"down_revision: str | None = '{HEAD}'" in text
    upgrade = text.split("def downgrade")[0]
    assert "create_index(" in upgrade
    assert "ix_files_file_hash" in upgrade


def test_init_makes_a_ready_installation(tmp_path: Path) -> None:
    first = run("init")
    assert first.exit_code == 0
    data = tmp_path / "xdg-data" / "filewallball"  # $XDG_DATA_HOME/filewallball
    assert "settings         environment only (no .env here)" in first.output
    assert f"data directory   {data}" in first.output
    assert f"sqlite:///{data / 'filewallball.db'}" in first.output
    assert f"schema revision  {HEAD}" in first.output
    assert (data / "filewallball.db").is_file()
    again = run("init")
    assert again.exit_code == 0
    assert f"schema revision  {HEAD}" in again.output


def test_stock_alembic_uses_the_same_migrations(configured: Engine) -> None:
    env = {
        **os.environ,
        "FILEWALLBALL_DATABASE_URL": configured.url.render_as_string(hide_password=False),
    }
    command = [sys.executable, "-m", "alembic", "-c", str(REPOSITORY / "alembic.ini")]
    subprocess.run([*command, "upgrade", "head"], env=env, check=True, capture_output=True)
    current = subprocess.run(
        [*command, "current"], env=env, check=True, capture_output=True, text=True
    )
    assert f"{HEAD} (head)" in current.stdout
