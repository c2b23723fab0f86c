"""``filewallball policies``: the upload policy of each extension (SPEC section 12)."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource
from rich.table import Table

from filewallball.cli.shared import (
    NO_LIMIT,
    Size,
    echo_json,
    open_installation,
    reports_errors,
    stdout_console,
)
from filewallball.models import FileExtension
from filewallball.operations.extensions import (
    ExtensionPolicy,
    get_policy,
    list_policies,
    set_policy,
)
from filewallball.operations.files import DEFAULT_MIME_TYPE
from filewallball.operations.system_settings import UNKNOWN_EXTENSIONS, get_setting
from filewallball.units import human_size


def _policy_json(policy: FileExtension) -> dict[str, Any]:
    return ExtensionPolicy.model_validate(policy).model_dump(mode="json")


def _cap_text(cap: int | None) -> str:
    return "-" if cap is None else human_size(cap)


@click.group()
def policies() -> None:
    """Which extensions may be uploaded, served as what, up to what size."""


@policies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def list_command(as_json: bool) -> None:
    """Show every extension's policy, and what names no policy knows get."""
    with open_installation().database.transaction(read_only=True) as session:
        rows = [_policy_json(policy) for policy in list_policies(session)]
        unknown = get_setting(session, UNKNOWN_EXTENSIONS, "allow")
    if as_json:
        echo_json({"policies": rows, UNKNOWN_EXTENSIONS: unknown})
        return
    table = Table("extension", "MIME type", "allowed", "own cap", box=None, pad_edge=False)
    for row in rows:
        allowed = "yes" if row["is_allowed"] else "no"
        table.add_row(row["extension"], row["mime_type"], allowed, _cap_text(row["max_file_size"]))
    stdout_console().print(table)
    click.echo(
        f"other extensions and names without one: {unknown} ({UNKNOWN_EXTENSIONS}); "
        "every upload is also capped by max_upload_bytes"
    )


@policies.command("set")
@click.argument("extension")
@click.option("--mime", "mime_type", help=f"Served as this type (new: {DEFAULT_MIME_TYPE}).")
@click.option("--allow/--deny", "is_allowed", default=None, help="Accept the extension or not.")
@click.option(
    "--max-size",
    type=Size(),
    default=None,
    help=f"The extension's own cap (300MB, 1GiB) or {NO_LIMIT}; max_upload_bytes still applies.",
)
@reports_errors
def set_command(
    extension: str, mime_type: str | None, is_allowed: bool | None, max_size: int | None
) -> None:
    """Create or change the policy of EXTENSION; what is not given stays as it was."""
    context = click.get_current_context()
    max_size_given = context.get_parameter_source("max_size") is not ParameterSource.DEFAULT
    with open_installation().database.transaction() as session:
        current = get_policy(session, extension)
        if current is not None:
            mime_type = mime_type or current.mime_type
            is_allowed = current.is_allowed if is_allowed is None else is_allowed
            max_size = max_size if max_size_given else current.max_file_size
        policy = set_policy(
            session,
            extension,
            mime_type=mime_type or DEFAULT_MIME_TYPE,
            is_allowed=True if is_allowed is None else is_allowed,
            max_file_size=max_size,
            description=current.description if current else None,
        )
        row = _policy_json(policy)
    allowed = "allowed" if row["is_allowed"] else "denied"
    click.echo(
        f".{row['extension']}: {allowed}, served as {row['mime_type']}, "
        f"own cap {_cap_text(row['max_file_size'])}"
    )
