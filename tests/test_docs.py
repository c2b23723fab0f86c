"""The README documents every setting and every command, so the docs cannot fall behind."""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import click
import crossplane
import pytest

from filewallball.cli import main
from filewallball.operations.search import FileQuery
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


@pytest.mark.parametrize("parameter", sorted(FileQuery.model_fields))
def test_every_search_parameter_is_documented(parameter: str) -> None:
    assert f"`{parameter}`" in README


# The examples: every command line, the systemd unit, the nginx site, the settings file.

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOCUMENTS = {"README.md": README} | {
    path.name: path.read_text() for path in sorted(DOCS.glob("*.md"))
}


def _command_lines() -> list[tuple[str, str]]:
    """(document, line) of every ``filewallball ...`` line of an indented code block."""
    found = []
    for name, text in DOCUMENTS.items():
        for line in text.splitlines():
            stripped = re.sub(r"\s+#.*$", "", line.strip())
            if line.startswith("    ") and stripped.startswith("filewallball "):
                found.extend((name, part.strip()) for part in stripped.split(" / "))
    return found


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command a line names, and the words after its name."""
    command: click.Command = main
    while isinstance(command, click.Group) and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    return command, words


@pytest.mark.parametrize(("document", "line"), _command_lines())
def test_every_command_example_names_real_options(document: str, line: str) -> None:
    command, rest = _resolve(shlex.split(line)[1:])
    assert not isinstance(command, click.Group), f"{line!r} names no command"
    options = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    named = {word for text in rest for word in re.findall(r"(?<![\w-])--?[a-z][\w-]*", text)}
    assert named <= options, f"{document}: {line!r}: no {named - options} on that command"


def test_the_command_examples_cover_every_command() -> None:
    assert len(_command_lines()) >= len(_commands(main, "filewallball"))


def _systemd_unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read_string((DOCS / "filewallball.service").read_text())
    return unit


def test_the_systemd_unit_parses_and_runs_a_real_serve_command() -> None:
    unit = _systemd_unit()
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    program, *arguments = shlex.split(service["ExecStart"])
    assert program.endswith("/.venv/bin/filewallball")
    command, rest = _resolve(arguments)
    assert command.name == "serve"
    context = command.make_context("serve", rest)  # raises on an option serve lacks
    assert context.params["host"] == "127.0.0.1"  # only the proxy is reached from outside
    name, _, value = service["Environment"].partition("=")
    assert name.removeprefix("FILEWALLBALL_").lower() in Settings.model_fields
    assert service["StateDirectory"] == Path(value).name
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_nginx_site_parses_and_passes_on_what_the_service_needs() -> None:
    parsed = crossplane.parse(str(DOCS / "nginx.conf"), strict=True, check_ctx=False)
    assert parsed["errors"] == []
    directives: dict[str, list[list[str]]] = {}

    def walk(block: list[dict[str, Any]]) -> None:
        for directive in block:
            directives.setdefault(directive["directive"], []).append(directive["args"])
            walk(directive.get("block", []))

    walk(parsed["config"][0]["parsed"])
    assert ["X-Forwarded-For", "$proxy_add_x_forwarded_for"] in directives["proxy_set_header"]
    assert ["Host", "$host"] in directives["proxy_set_header"]
    assert directives["client_max_body_size"] == [["8g"]]  # the default max_upload_bytes
    assert any(args[0] == "443" and "ssl" in args for args in directives["listen"])
    assert "ssl_certificate" in directives
    assert ["127.0.0.1:8000"] in directives["server"]
    serve_arguments = shlex.split(_systemd_unit()["Service"]["ExecStart"])
    assert "8000" in serve_arguments  # the port the unit serves on


def test_the_settings_file_of_the_deployment_page_is_valid(tmp_path: Path) -> None:
    lines = [
        line.strip()
        for line in DOCUMENTS["deployment.md"].splitlines()
        if re.match(r"    FILEWALLBALL_\w+=", line)
    ]
    assert len(lines) >= 4
    (tmp_path / "filewallball.env").write_text("\n".join(lines) + "\n")
    settings = Settings(_env_file=tmp_path / "filewallball.env")  # type: ignore[call-arg]
    assert settings.admin_token is not None
    assert [str(network) for network in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    assert settings.allowed_hosts == ["files.example.com"]


def test_the_license_is_the_one_pyproject_names() -> None:
    root = Path(__file__).resolve().parents[1]
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    assert (root / "LICENSE").read_text().startswith("MIT License\n")


def test_the_readme_names_no_file_a_clone_lacks() -> None:
    root = Path(__file__).resolve().parents[1]
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (root / target).exists(), target
    assert "../shared" not in README
    assert "$TOKEN" not in README
