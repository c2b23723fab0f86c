"""A first run without surprises: the installation does not depend on where a command is
run, no command leaves a database it was not asked to make, the .env of the user's
directory is read and named, and a bad setting is one line and exit code 1."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from filewallball.cli import main
from tests.api.conftest import free_port
from tests.servers import ADMIN_URLS, Server, only_on

REPOSITORY = Path(__file__).resolve().parents[1]
FILEWALLBALL = str(Path(sys.executable).with_name("filewallball"))


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line_error(result: Result) -> str:
    """The one line a refused command printed, after checking that it is one line."""
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    return line


@pytest.fixture
def default_data(tmp_path: Path) -> Path:
    return tmp_path / "xdg-data" / "filewallball"  # conftest's XDG_DATA_HOME


def test_a_command_finds_the_installation_from_any_directory(
    tmp_path: Path, default_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init").exit_code == 0
    assert (default_data / "filewallball.db").is_file()
    (tmp_path / "somewhere" / "else").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "somewhere" / "else")
    listed = run("ls")
    assert listed.exit_code == 0, listed.output
    assert "No files match." in listed.output
    assert list((tmp_path / "somewhere").rglob("*.db")) == []


@pytest.mark.parametrize(
    "command",
    [
        ["ls"],
        ["info", "00000000-0000-4000-8000-000000000000"],
        ["stats"],
        ["purge", "--dry-run"],
        ["fsck"],
        ["policies", "list"],
        ["db", "current"],
        ["db", "check"],
        ["serve", "--no-migrate"],
    ],
    ids=" ".join,
)
def test_no_command_creates_a_database_it_was_not_asked_to_make(
    tmp_path: Path, default_data: Path, command: list[str]
) -> None:
    line = one_line_error(run(*command))
    assert f"no database at {default_data / 'filewallball.db'}" in line
    assert "make one with `filewallball init`" in line
    assert not (tmp_path / "xdg-data").exists()
    assert list(tmp_path.rglob("*.db")) == []


def test_db_history_needs_no_database_and_makes_none(tmp_path: Path) -> None:
    listed = run("db", "history")
    assert listed.exit_code == 0
    assert "0006 -> 0007" in listed.stdout
    assert not (tmp_path / "xdg-data").exists()


def test_db_upgrade_makes_the_database_it_was_asked_to(default_data: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    assert (default_data / "filewallball.db").is_file()


def test_the_env_file_of_the_working_directory_is_read_and_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"FILEWALLBALL_DATA_DIR={tmp_path / 'from-env'}\n")
    result = run("init")
    assert result.exit_code == 0
    assert f"settings         {tmp_path / '.env'}" in result.output
    assert f"data directory   {tmp_path / 'from-env'}" in result.output
    assert (tmp_path / "from-env" / "filewallball.db").is_file()


def test_scripts_run_reads_the_env_file_where_the_user_started_it(tmp_path: Path) -> None:
    """The script once changed to the repository first, silently ignoring this .env."""
    port = free_port()
    data = tmp_path / "from-env"
    (tmp_path / ".env").write_text(f"FILEWALLBALL_DATA_DIR={data}\n")
    environment = {**os.environ, "FILEWALLBALL_VENV": str(Path(sys.executable).parents[1])}
    with subprocess.Popen(
        [str(REPOSITORY / "scripts" / "run"), "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            assert process.stdout is not None
            seen = []
            for line in process.stdout:
                seen.append(line)
                if "Started worker" in line:  # Granian may not stop when signalled earlier
                    break
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    output = "".join(seen)
    assert f"settings         {tmp_path / '.env'}" in output, output
    assert f"data directory   {data}" in output
    assert f"serving          http://127.0.0.1:{port}" in output
    assert (data / "filewallball.db").is_file()


def test_switching_between_run_and_test_installs_nothing(tmp_path: Path) -> None:
    """scripts/run needs the project, scripts/test the project and its test extra: one
    install of the extra serves both, whichever order they are run in."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    version = hashlib.sha256((REPOSITORY / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (venv / f".installed-{version}-test").touch()
    bootstrap = REPOSITORY / "scripts" / "bootstrap"
    for extra in ("", "test", ""):
        sourced = subprocess.run(
            ["bash", "-c", f'source "{bootstrap}" "{extra}" && echo "$PATH"'],
            env={**os.environ, "FILEWALLBALL_VENV": str(venv)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sourced.returncode == 0, sourced.stderr
        assert "Installing" not in sourced.stderr
        assert sourced.stdout.startswith(f"{venv / 'bin'}:")
    assert sorted(path.name for path in venv.glob(".installed-*")) == [f".installed-{version}-test"]


@pytest.mark.parametrize("command", [["init"], ["serve"], ["ls"], ["db", "current"]], ids=" ".join)
@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("FILEWALLBALL_DATABASE_URL", "mysql://root@127.0.0.1/x", "use mysql+pymysql:// instead"),
        ("FILEWALLBALL_DATABASE_URL", "postgres://root@127.0.0.1/x", "use postgresql+psycopg://"),
        ("FILEWALLBALL_DATABASE_URL", "sqlite3:///x.db", "works with SQLite, MariaDB and"),
        ("FILEWALLBALL_POOL_SIZE", "0", "FILEWALLBALL_POOL_SIZE: Input should be greater"),
        ("FILEWALLBALL_TRUSTED_PROXIES", "10.0.0.0/8", "FILEWALLBALL_TRUSTED_PROXIES:"),
    ],
)
def test_a_bad_setting_is_one_line_for_every_command(
    monkeypatch: pytest.MonkeyPatch, command: list[str], variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert words in one_line_error(run(*command))


def _problem_urls(dialect: str) -> dict[str, tuple[str, str]]:
    admin = make_url(ADMIN_URLS[dialect])
    return {
        "unknown user": (
            admin.set(username="fwb_no_such_user", password="wrong"),
            "refused the login",
        ),
        "unknown database": (
            admin.set(database="fwb_no_such_database"),
            "create the database first: CREATE DATABASE fwb_no_such_database",
        ),
        "closed port": (admin.set(port=free_port()), "cannot reach the database server at"),
    }  # type: ignore[return-value]


@only_on("mariadb", "postgresql")
@pytest.mark.parametrize("problem", ["unknown user", "unknown database", "closed port"])
def test_a_database_that_cannot_be_used_is_one_line_for_every_command(
    server: Server, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    url, words = _problem_urls(server.dialect)[problem]
    monkeypatch.setenv("FILEWALLBALL_DATABASE_URL", url.render_as_string(hide_password=False))
    for command in (["init"], ["ls"], ["db", "current"], ["policies", "list"]):
        line = one_line_error(run(*command))
        assert words in line, (command, line)
        assert "wrong" not in line  # never the password
    # serve, in a process of its own: it must end, with the same line and no traceback.
    served = subprocess.run(
        [FILEWALLBALL, "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert served.returncode == 1
    [line] = served.stderr.strip().splitlines()
    assert words in line
