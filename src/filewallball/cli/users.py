"""``filewallball users``: accounts (SPEC section 8), straight on the database."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource
from pydantic import ValidationError
from rich.table import Table

from filewallball.cli.shared import (
    NO_LIMIT,
    Count,
    Size,
    echo_json,
    open_installation,
    reports_errors,
    stdout_console,
)
from filewallball.errors import InvalidInput
from filewallball.operations import users as accounts
from filewallball.operations.users import UserChanges, UserRecord
from filewallball.units import human_size

INERT = (
    "warning: FILEWALLBALL_ADMIN_TOKEN is not set, so every local caller is the admin and "
    "accounts are inert until a token is set"
)


def read_password(what: str = "Password") -> str:
    """Asked twice on a terminal; otherwise the first line of standard input, so that
    scripts can pipe it in (never an argument: it would show in ``ps`` and the shell's
    history)."""
    if sys.stdin.isatty():
        return str(click.prompt(what, hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput("no password on standard input")
    return line


def _given(name: str) -> bool:
    context = click.get_current_context()
    return context.get_parameter_source(name) is not ParameterSource.DEFAULT


def _limit(used: int, limit: int | None, show: Callable[[int], str] = str) -> str:
    return f"{show(used)} / {'-' if limit is None else show(limit)}"


def _summary(record: UserRecord) -> str:
    state = "active" if record.is_active else "deactivated"
    return (
        f"{record.username}: {record.role}, {state}, "
        f"{_limit(record.used_bytes, record.quota_bytes, human_size)}, "
        f"{_limit(record.used_files, record.quota_files)} files"
    )


quota_options = (
    click.option("--quota-bytes", type=Size(), help=f"Bytes they may store (1GiB) or {NO_LIMIT}."),
    click.option("--quota-files", type=Count(), help=f"Files they may store, or {NO_LIMIT}."),
)


def with_quotas(command: Any) -> Any:
    for option in reversed(quota_options):
        command = option(command)
    return command


@click.group()
def users() -> None:
    """Accounts: who may use the service with an API key, as admin or member."""


@users.command("add")
@click.argument("username")
@click.option("--admin", is_flag=True, help="An admin (default: a member).")
@click.option("--display-name", help="The name shown for them.")
@with_quotas
@click.option("--no-password", is_flag=True, help="No password: API keys only.")
@reports_errors
def add_command(
    *,
    username: str,
    admin: bool,
    display_name: str | None,
    quota_bytes: int | None,
    quota_files: int | None,
    no_password: bool,
) -> None:
    """Add USERNAME (1-64 of a-z 0-9 . _ -); the password is asked, or read from stdin."""
    installation = open_installation()
    if installation.settings.admin_token is None:
        click.echo(INERT, err=True)
    name = accounts.check_username(username)
    password = None if no_password else read_password()
    with installation.database.transaction() as session:
        user = accounts.create_user(
            session,
            name,
            password=password,
            display_name=display_name,
            role="admin" if admin else "member",
            quota_bytes=quota_bytes,
            quota_files=quota_files,
        )
        record = accounts.user_record(session, user)
    click.echo(f"added {_summary(record)}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def list_command(as_json: bool) -> None:
    """Every user, with what they store against their quotas."""
    with open_installation().database.transaction(read_only=True) as session:
        records = accounts.list_users(session)
    if as_json:
        echo_json({"items": [record.model_dump(mode="json") for record in records]})
        return
    table = Table("username", "role", "active", "bytes", "files", "name", box=None, pad_edge=False)
    for record in records:
        table.add_row(
            record.username,
            record.role,
            "yes" if record.is_active else "no",
            _limit(record.used_bytes, record.quota_bytes, human_size),
            _limit(record.used_files, record.quota_files),
            record.display_name or "",
        )
    stdout_console().print(table)


@users.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "member"]), help="Their role.")
@click.option("--display-name", help="The name shown for them.")
@click.option("--active/--inactive", "is_active", default=None, help="Activate or deactivate.")
@with_quotas
@reports_errors
def set_command(
    *,
    username: str,
    role: str | None,
    display_name: str | None,
    is_active: bool | None,
    quota_bytes: int | None,
    quota_files: int | None,
) -> None:
    """Change USERNAME; what is not given stays as it was."""
    given = {
        name: value
        for name, value in (
            ("role", role),
            ("display_name", display_name),
            ("is_active", is_active),
            ("quota_bytes", quota_bytes),
            ("quota_files", quota_files),
        )
        if _given(name)
    }
    try:
        changes = UserChanges.model_validate(given)
    except ValidationError as error:
        raise click.ClickException(str(error.errors()[0]["msg"])) from None
    _change(username, changes)


@users.command("deactivate")
@click.argument("username")
@reports_errors
def deactivate_command(username: str) -> None:
    """Stop USERNAME and their keys at once; their files stay (``set --active`` undoes it)."""
    _change(username, UserChanges(is_active=False))


@users.command("password")
@click.argument("username")
@reports_errors
def password_command(username: str) -> None:
    """Set USERNAME's password: asked, or read from stdin."""
    password = read_password("New password")
    with open_installation().database.transaction() as session:
        accounts.set_password(session, accounts.get_user(session, username), password)
    click.echo(f"password of {username.lower()} changed")


def _change(username: str, changes: UserChanges) -> None:
    with open_installation().database.transaction() as session:
        user = accounts.change_user(session, username, changes)
        record = accounts.user_record(session, user)
    click.echo(_summary(record))
