"""``filewallball keys``: users' API keys (SPEC section 8), straight on the database.

The command line holds the database itself, so it may give a key any scope its user's
role allows (the subset rule binds credentials over HTTP).
"""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from filewallball.cli.shared import (
    MOMENT,
    echo_json,
    moment_text,
    open_installation,
    reports_errors,
    stdout_console,
)
from filewallball.operations import keys as api_keys
from filewallball.operations.users import SCOPES, get_user


@click.group()
def keys() -> None:
    """API keys: scoped, revocable credentials of a user."""


@keys.command("create")
@click.argument("username")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="What the key may do (repeatable).",
)
@click.option("--expires", type=MOMENT, help="When it stops working (ISO 8601; UTC if no zone).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def create_command(
    username: str, name: str, scopes: tuple[str, ...], expires: datetime | None, as_json: bool
) -> None:
    """Make a key NAME for USERNAME and print it: it is shown this once."""
    with open_installation().database.transaction() as session:
        user = get_user(session, username)
        new = api_keys.create_key(
            session, user, name, scopes, granted=frozenset(SCOPES), expires_at=expires
        )
    if as_json:
        echo_json(new.model_dump(mode="json"))
        return
    click.echo(new.key)
    click.echo(
        f"key {new.id} ({new.prefix}) of {user.username}: {' '.join(new.scopes)}; "
        "shown once, store it now",
        err=True,
    )


@keys.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def list_command(username: str | None, as_json: bool) -> None:
    """Every key, or USERNAME's, revoked ones too (never their secrets)."""
    with open_installation().database.transaction(read_only=True) as session:
        user = get_user(session, username) if username else None
        records = api_keys.list_keys(session, user)
    if as_json:
        echo_json({"items": [record.model_dump(mode="json") for record in records]})
        return
    table = Table("id", "user", "name", "prefix", "scopes", "expires", "last used", "revoked")
    table.box, table.pad_edge = None, False
    for record in records:
        table.add_row(
            str(record.id),
            record.user,
            record.name,
            record.prefix,
            " ".join(record.scopes),
            moment_text(record.expires_at),
            moment_text(record.last_used_at),
            moment_text(record.revoked_at),
        )
    stdout_console().print(table)


@keys.command("revoke")
@click.argument("key_id", type=click.IntRange(min=1), metavar="ID")
@reports_errors
def revoke_command(key_id: int) -> None:
    """Stop key ID at once."""
    with open_installation().database.transaction() as session:
        record = api_keys.revoke_key(session, key_id)
    click.echo(f"key {record.id} ({record.prefix}) of {record.user} revoked")
