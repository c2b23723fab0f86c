"""``filewallball policies list|set``: upload policies from the command line (SPEC 12)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from filewallball.models import FileExtension
from tests.cli_installation import CliInstallation, run, upload, write

GiB = 1024**3


@pytest.fixture
def policies(installation: CliInstallation) -> Iterator[CliInstallation]:
    """The module's database is shared: the policies a test makes or changes are put back."""
    with installation.engine.connect() as connection:
        before = connection.execute(
            sa.select(FileExtension.extension, FileExtension.max_file_size)
        ).all()
    yield installation
    with installation.engine.begin() as connection:
        known = [extension for extension, _ in before]
        connection.execute(sa.delete(FileExtension).where(FileExtension.extension.not_in(known)))
        for extension, cap in before:
            connection.execute(
                sa.update(FileExtension)
                .where(FileExtension.extension == extension)
                .values(max_file_size=cap, is_allowed=extension not in DENIED)
            )


DENIED = {"exe", "msi", "bat", "cmd", "scr", "ps1", "vbs"}


def _policy(extension: str) -> dict[str, object]:
    listed = run("policies", "list", "--json")
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert document["unknown_extensions"] == "allow"
    return {policy["extension"]: policy for policy in document["policies"]}[extension]


def test_list_shows_every_policy_and_what_unknown_names_get(policies: CliInstallation) -> None:
    listed = run("policies", "list")
    assert listed.exit_code == 0, listed.output
    [pdf] = [line.split() for line in listed.stdout.splitlines() if line.startswith("pdf ")]
    assert pdf == ["pdf", "application/pdf", "yes", "-"]
    assert "other extensions and names without one: allow (unknown_extensions)" in listed.stdout
    assert _policy("exe")["is_allowed"] is False


def test_set_changes_only_what_it_is_given(policies: CliInstallation) -> None:
    capped = run("policies", "set", "pdf", "--max-size", "1GiB")
    assert capped.exit_code == 0, capped.output
    assert "pdf: allowed, served as application/pdf, own cap 1 GiB" in capped.stdout
    assert _policy("pdf") == {
        "extension": "pdf",
        "mime_type": "application/pdf",
        "is_allowed": True,
        "max_file_size": GiB,
        "description": None,  # the same document as GET /api/v1/extensions
    }
    assert run("policies", "set", ".PDF", "--deny").exit_code == 0
    assert _policy("pdf")["max_file_size"] == GiB
    assert _policy("pdf")["is_allowed"] is False
    assert run("policies", "set", "pdf", "--allow", "--max-size", "none").exit_code == 0
    assert (_policy("pdf")["is_allowed"], _policy("pdf")["max_file_size"]) == (True, None)


def test_a_new_policy_and_its_effect_on_uploads(policies: CliInstallation, tmp_path: Path) -> None:
    made = run("policies", "set", "epub", "--mime", "application/epub+zip", "--max-size", "300MB")
    assert made.exit_code == 0, made.output
    assert _policy("epub")["max_file_size"] == 300 * 1000**2
    upload(write(tmp_path / "book.epub", b"not really a zip"))
    upload(write(tmp_path / "NOTES", b"no extension at all"))
    types = {file.original_filename: file.mime_type for file in policies.files()}
    assert types == {"book.epub": "application/epub+zip", "NOTES": "application/octet-stream"}

    assert run("policies", "set", "exe", "--allow").exit_code == 0
    [tool] = upload(write(tmp_path / "tool.exe", b"MZ" + bytes(100)))["uploaded"]
    assert tool["original_filename"] == "tool.exe"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["set", "pdf", "--max-size", "lots"], "is not a size like 300MB or 1GiB, or none"),
        (["set", "p d f", "--allow"], "must be 1-"),
        (["set", "new1", "--mime", "not a type"], "not a type"),
    ],
)
def test_bad_input_is_refused(policies: CliInstallation, args: list[str], words: str) -> None:
    refused = run("policies", *args)
    assert refused.exit_code in (1, 2)
    assert words in refused.output
