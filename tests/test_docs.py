"""The README documents every setting and every command, so the docs cannot fall behind."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from filewallball.cli import main
from filewallball.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`FILEWALLBALL_{field.upper()}`" in README


def _commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


@pytest.mark.parametrize("command", _commands(main, "filewallball"))
def test_every_command_is_documented(command: str) -> None:
    assert command in README
