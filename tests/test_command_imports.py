"""A command loads only what it needs: `ls` and `--help` answer without importing the
migrations' Alembic, the server's Granian or the web framework, which cost more than
either does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from filewallball.cli import main

# Runs the command as the console script does, then writes down every module loaded.
RUN_AND_LIST_MODULES = """
import json, sys
from filewallball.cli import main
main(sys.argv[2:], standalone_mode=False)
with open(sys.argv[1], "w") as listing:
    json.dump(sorted(sys.modules), listing)
"""
HEAVY = {"alembic", "granian", "fastapi", "starlette", "prometheus_client", "mako"}


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        pytest.param(["ls"], "No files match.", id="ls"),
        pytest.param(["--help"], "Usage: ", id="help"),
    ],
)
def test_neither_alembic_nor_granian_nor_fastapi_is_imported(
    tmp_path: Path, command: list[str], answer: str
) -> None:
    assert CliRunner().invoke(main, ["init"], catch_exceptions=False).exit_code == 0
    listing = tmp_path / "modules.json"
    ran = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *command],
        check=True,
        capture_output=True,
        text=True,
    )
    assert answer in ran.stdout
    loaded = {module.partition(".")[0] for module in json.loads(listing.read_text())}
    assert "sqlalchemy" in loaded
    assert loaded.isdisjoint(HEAVY), loaded & HEAVY
