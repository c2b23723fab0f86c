"""``filewallball users`` and ``filewallball keys``: accounts and API keys from the command
line, on every database."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from filewallball.cli import main
from filewallball.models import User
from filewallball.operations import keys
from filewallball.operations.users import password_matches
from tests.cli_installation import CliInstallation, run

PASSWORD = "a long enough password"


def with_input(text: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), input=text, catch_exceptions=False)


def users_json() -> dict[str, dict[str, Any]]:
    listed = run("users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    return {user["username"]: user for user in json.loads(listed.stdout)["items"]}


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILEWALLBALL_ADMIN_TOKEN", "t" * 32)


def test_add_reads_the_password_from_stdin_and_stores_only_its_hash(
    installation: CliInstallation, token: None
) -> None:
    added = with_input(f"{PASSWORD}\n", "users", "add", "Alice", "--quota-bytes", "1GiB")
    assert added.exit_code == 0, added.output
    assert "added alice: member, active" in added.stdout
    assert "inert" not in added.output
    (hashed,) = installation.scalars(sa.select(User.password_hash))
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    alice = users_json()["alice"]
    assert (alice["role"], alice["quota_bytes"], alice["quota_files"]) == ("member", 2**30, None)
    assert "password_hash" not in alice


def test_add_warns_that_accounts_are_inert_without_a_token(installation: CliInstallation) -> None:
    added = run("users", "add", "bob", "--no-password", "--admin")
    assert added.exit_code == 0, added.output
    assert "accounts are inert" in added.stderr
    assert users_json()["bob"]["role"] == "admin"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["users", "add", "no spaces", "--no-password"], "must be 1-64 characters"),
        (["users", "add", "carol"], "no password on standard input"),
        (["users", "add", "carol", "--quota-files", "-1"], "is not a number from 0 up"),
        (["users", "set", "nobody", "--role", "admin"], "no user 'nobody'"),
        (["keys", "create", "nobody", "k", "--scope", "files:read"], "no user 'nobody'"),
        (["keys", "revoke", "999999"], "no key 999999"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    installation: CliInstallation, token: None, args: list[str], words: str
) -> None:
    refused = with_input("", *args)
    assert refused.exit_code in (1, 2)
    assert words in refused.output
    assert installation.scalars(sa.select(User)) == []


def test_set_and_deactivate_keep_an_active_admin(installation: CliInstallation) -> None:
    assert run("users", "add", "root", "--admin", "--no-password").exit_code == 0
    assert run("users", "add", "dana", "--no-password").exit_code == 0
    refused = run("users", "set", "root", "--role", "member")
    assert refused.exit_code == 1
    assert "last active admin" in refused.output
    assert run("users", "deactivate", "root").exit_code == 1

    changed = run("users", "set", "DANA", "--role", "admin", "--quota-files", "10")
    assert changed.exit_code == 0, changed.output
    assert run("users", "deactivate", "root").exit_code == 0
    listed = users_json()
    assert (listed["dana"]["role"], listed["dana"]["quota_files"]) == ("admin", 10)
    assert listed["root"]["is_active"] is False
    assert run("users", "set", "root", "--active").exit_code == 0
    assert users_json()["root"]["is_active"] is True
    table = run("users", "list").stdout
    assert any(line.split()[:3] == ["dana", "admin", "yes"] for line in table.splitlines())


def test_password_changes_the_hash(installation: CliInstallation) -> None:
    assert with_input(f"{PASSWORD}\n", "users", "add", "erin").exit_code == 0
    (before,) = installation.scalars(sa.select(User.password_hash))
    changed = with_input("another long password\n", "users", "password", "erin")
    assert changed.exit_code == 0, changed.output
    with Session(installation.engine) as session:
        user = session.scalars(sa.select(User)).one()
        assert user.password_hash != before
        assert password_matches(user, "another long password")


def test_a_key_is_shown_once_works_and_stops_when_revoked(installation: CliInstallation) -> None:
    assert run("users", "add", "fred", "--no-password").exit_code == 0
    made = run("keys", "create", "fred", "laptop", "--scope", "files:read", "--scope", "shares")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert keys.KEY_FORMAT.fullmatch(key)
    assert "shown once" in made.stderr
    with Session(installation.engine) as session:
        assert keys.holder_of(session, key).scopes == {"files:read", "shares"}

    listed = run("keys", "list", "fred", "--json")
    (record,) = json.loads(listed.stdout)["items"]
    assert key not in listed.stdout
    assert (record["name"], record["scopes"]) == ("laptop", ["files:read", "shares"])
    assert key.startswith(f"fwb_{record['prefix']}_")

    assert run("keys", "revoke", str(record["id"])).exit_code == 0
    (record,) = json.loads(run("keys", "list", "--json").stdout)["items"]
    assert record["revoked_at"] is not None
    assert "fred" in run("keys", "list").stdout


def test_a_members_key_cannot_have_admin(installation: CliInstallation) -> None:
    assert run("users", "add", "gus", "--no-password").exit_code == 0
    refused = run("keys", "create", "gus", "k", "--scope", "admin")
    assert refused.exit_code == 1
    assert "member's key cannot have admin" in refused.output
    unknown = run("keys", "create", "gus", "k", "--scope", "everything")
    assert unknown.exit_code == 2
